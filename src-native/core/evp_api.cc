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
#define TUNIO_EVP_RESOLVE(member, Fn, symbol, required) resolve(lookup, &api.member, #symbol, required, &missing);
  TUNIO_EVP_FUNCTIONS(TUNIO_EVP_RESOLVE)
#undef TUNIO_EVP_RESOLVE
  api.missing = missing;
  return api;
}

const EvpApi& evp_api() {
  static const EvpApi api = load_evp_api([](const char* name) { return dlsym(RTLD_DEFAULT, name); });
  return api;
}

}  // namespace tunio
