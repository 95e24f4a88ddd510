// Per-environment state (one per main thread or worker_thread): constructors of the wrapped
// classes and the external-buffer policy. Nothing process-wide and mutable lives in the addon,
// which is what makes it load in several worker_threads at once.
#pragma once

#include <napi.h>

namespace tunio {

struct AddonData {
  Napi::FunctionReference pool_ctor;
  Napi::FunctionReference batch_ctor;
  Napi::FunctionReference tun_ctor;
  Napi::FunctionReference udp_ctor;
  // False once Node-API refused an external buffer (napi_no_external_buffers_allowed, as in
  // Electron), or when forced for tests: lease buffers are then copies (see batch_wrap.cc).
  bool external_buffers = true;
  // False only when a test asks the addon to behave as a runtime without OpenSSL
  // (setOpenSslAllowed(false), see lib/binding.ts): the AEAD API then throws as it would there.
  bool openssl_allowed = true;
};

inline AddonData* GetAddonData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

}  // namespace tunio
