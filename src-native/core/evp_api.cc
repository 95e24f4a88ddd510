#include "evp_api.h"

#include <dlfcn.h>

namespace tunio {

namespace {

template <typename Fn>
void resolve(SymbolLookup lookup, Fn* slot, const char* name, const char** missing) {
  void* sym = lookup(name);
  if (!sym && !*missing) *missing = name;
  *slot = reinterpret_cast<Fn>(sym);
}

// A symbol that may be missing (a newer API with a fallback): never marks the API unavailable.
template <typename Fn>
void resolve_optional(SymbolLookup lookup, Fn* slot, const char* name) {
  *slot = reinterpret_cast<Fn>(lookup(name));
}

}  // namespace

EvpApi load_evp_api(SymbolLookup lookup) {
  EvpApi api;
  const char* missing = nullptr;
  resolve(lookup, &api.chacha20_poly1305, "EVP_chacha20_poly1305", &missing);
  resolve(lookup, &api.aes_256_gcm, "EVP_aes_256_gcm", &missing);
  resolve(lookup, &api.ctx_new, "EVP_CIPHER_CTX_new", &missing);
  resolve(lookup, &api.ctx_free, "EVP_CIPHER_CTX_free", &missing);
  resolve(lookup, &api.ctx_ctrl, "EVP_CIPHER_CTX_ctrl", &missing);
  resolve(lookup, &api.encrypt_init, "EVP_EncryptInit_ex", &missing);
  resolve(lookup, &api.encrypt_update, "EVP_EncryptUpdate", &missing);
  resolve(lookup, &api.encrypt_final, "EVP_EncryptFinal_ex", &missing);
  resolve(lookup, &api.decrypt_init, "EVP_DecryptInit_ex", &missing);
  resolve(lookup, &api.decrypt_update, "EVP_DecryptUpdate", &missing);
  resolve(lookup, &api.decrypt_final, "EVP_DecryptFinal_ex", &missing);
  resolve_optional(lookup, &api.ctx_get_params, "EVP_CIPHER_CTX_get_params");
  resolve_optional(lookup, &api.ctx_set_params, "EVP_CIPHER_CTX_set_params");
  api.missing = missing;
  return api;
}

const EvpApi& evp_api() {
  static const EvpApi api = load_evp_api([](const char* name) { return dlsym(RTLD_DEFAULT, name); });
  return api;
}

}  // namespace tunio
