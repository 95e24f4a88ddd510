// The JavaScript side of an fd-owning wrap (TunWrap, UdpWrap) while it is open: the callback
// it calls from poll events (inside an async context, so async_hooks see them), a strong
// reference to its JS object (libuv callbacks hold `this`, so the object must not be collected
// while the fd is watched), and an env cleanup hook that closes the fd when the environment (a
// worker) goes away before close() was called. One place for this bookkeeping, so the two
// wraps cannot drift apart in how they open, call back and close.
#pragma once

#include <napi.h>

#include <initializer_list>
#include <memory>

#include "buffer_pool.h"

namespace tunio {

class OpenHandle {
 public:
  // The first step of both wraps' constructors, new Native*(options, pool, callback): `self`
  // (the new object) gets its type tag (a forward checks its ends with it, forward_wrap.cc) and
  // the arguments are checked. Returns the pool's memory; null when the environment is being
  // torn down (napi_wrap failed, js_checked.h: the wrap must open nothing, since no finalizer
  // and no cleanup hook would ever close it) or, with a TypeError pending, when the arguments
  // are not these (the message names the constructor, `class_name`, and its arguments).
  static std::shared_ptr<BufferPool> Begin(const Napi::CallbackInfo& info, Napi::Object self,
                                           const napi_type_tag& tag, const char* class_name);

  // Once the wrap is built: keeps `self` alive, registers `close_all(arg)` as env cleanup.
  void Open(Napi::Env env, Napi::Object self, Napi::Function callback, const char* resource_name,
            void (*close_all)(void*), void* arg);
  // Calls the JS callback (from a libuv callback, with its own handle scope).
  void Call(std::initializer_list<napi_value> args);
  // Calls another function the same way (same async context, `this` the wrap's object).
  void CallFunction(napi_value fn, std::initializer_list<napi_value> args);
  // From the wrap's close-everything path (idempotent): no more callbacks after this.
  void Shutdown();
  // From JS close(), after Shutdown: the cleanup hook and the self reference go.
  void Release();

 private:
  napi_env env_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::ObjectReference self_;
  napi_async_context async_ = nullptr;
  void (*close_all_)(void*) = nullptr;
  void* arg_ = nullptr;
};

}  // namespace tunio
