// What the two fd-owning wraps (TunWrap, UdpWrap) share, in one place: their opening (the type
// tag, the arguments (options, pool, callback), the pool), the JavaScript side while open
// (OpenHandle: callback, async context, self reference, env cleanup hook), `closed_`, and
// close() from JavaScript or from the environment's cleanup. T is the wrap (CRTP); it
// implements CloseAll(), which closes what it owns and calls handle_.Shutdown() (idempotent).
#pragma once

#include <napi.h>

#include <memory>

#include "buffer_pool.h"
#include "forward_wrap.h"
#include "open_handle.h"

namespace tunio {

template <typename T>
class IoWrap : public Napi::ObjectWrap<T>, public ForwardEnd {
 public:
  bool ForwardClosed() const override { return closed_; }

 protected:
  // The first step of the constructor (OpenHandle::Begin): pool_ is null when the wrap must
  // open nothing (the environment is going away, or a TypeError is pending).
  IoWrap(const Napi::CallbackInfo& info, const napi_type_tag& tag, const char* signature)
      : Napi::ObjectWrap<T>(info), env_(info.Env()), pool_(OpenHandle::Begin(info, this->Value(), tag, signature)) {}

  // The last step, once the wrap holds its fds: calls back info[2] from poll events, stays
  // alive while open and is closed by the environment's cleanup if JavaScript never does.
  void Opened(const Napi::CallbackInfo& info, const char* resource_name) {
    handle_.Open(env_, this->Value(), info[2].As<Napi::Function>(), resource_name, CleanupHook, this);
  }

  // close() (Define: InstanceMethod("close", &T::Close), a member of this base).
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!closed_) {
      static_cast<T*>(this)->CloseAll();
      handle_.Release();
    }
    return info.Env().Undefined();
  }

  Napi::Env env_;
  std::shared_ptr<BufferPool> pool_;
  OpenHandle handle_;
  bool closed_ = false;

 private:
  static void CleanupHook(void* arg) { static_cast<T*>(static_cast<IoWrap*>(arg))->CloseAll(); }
};

}  // namespace tunio
