#include "evp_api.h"

#include <dlfcn.h>

namespace tunio {

namespace {

template <typename Fn>
void resolve(SymbolLookup lookup, Fn* slot, const char* name, bool required, const char** missing) {
  void* sym = lookup(name);
  if (!sym && required && !*missing) *missing = name;
  *slot = reinterpret_cast<Fn>(sym);
}

}  // namespace

EvpApi load_evp_api(SymbolLookup lookup) {
  EvpApi api;
  const char* missing = nullptr;
#define TUNIO_EVP_REQUIRED(member, Fn, symbol) resolve(lookup, &api.member, #symbol, true, &missing);
#define TUNIO_EVP_OPTIONAL(member, Fn, symbol) resolve(lookup, &api.member, #symbol, false, &missing);
  TUNIO_EVP_REQUIRED_FUNCTIONS(TUNIO_EVP_REQUIRED)
  TUNIO_EVP_OPTIONAL_FUNCTIONS(TUNIO_EVP_OPTIONAL)
#undef TUNIO_EVP_OPTIONAL
#undef TUNIO_EVP_REQUIRED
  api.missing = missing;
  return api;
}

const EvpApi& evp_api() {
  static const EvpApi api = load_evp_api([](const char* name) { return dlsym(RTLD_DEFAULT, name); });
  return api;
}

}  // namespace tunio
