// Aead on the JS side (lib/aead.ts): one AeadCipher (src-native/core/aead.h) with its counter
// and stats. Converts values and nothing else: options are validated in lib/aead.ts, the
// packet rules live in the core.
#pragma once

#include <napi.h>

#include <memory>

#include "aead.h"

namespace tunio {

class AeadWrap : public Napi::ObjectWrap<AeadWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit AeadWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Seal(const Napi::CallbackInfo& info);
  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value NextCounter(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);

  std::unique_ptr<AeadCipher> cipher_;
  uint64_t next_counter_ = 0;
  AeadStats stats_;
};

// Facts lib/aead.ts validates against (one source of truth): key, tag and header sizes.
Napi::Object AeadLimitsToJs(Napi::Env env);

}  // namespace tunio
