#include "fd_passing_wrap.h"

#include <unistd.h>

#include <vector>

#include "errors.h"
#include "fd_passing.h"
#include "js_checked.h"

namespace tunio {

Napi::Value SendFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "sendFd(path, fd)");
    return Napi::Value();
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  SysError e = send_fd(path, info[1].As<Napi::Number>().Int32Value());
  if (!e.ok()) {
    ThrowSysError(env, "ERR_TUNIO_FD_PASSING", "cannot send the fd to " + path, e);
    return Napi::Value();
  }
  return env.Undefined();
}

Napi::Function FdReceiverWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeFdReceiver", {InstanceMethod<&FdReceiverWrap::Close>("close")});
}

FdReceiverWrap::FdReceiverWrap(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<FdReceiverWrap>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  if (Value().IsEmpty()) return;
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsFunction()) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "NativeFdReceiver(path, callback)");
    return;
  }
  path_ = info[0].As<Napi::String>().Utf8Value();
  SysError e = open_fd_receiver(path_, &sock_);
  if (!e.ok()) {
    path_.clear();  // not ours: never unlink it
    ThrowSysError(env, "ERR_TUNIO_FD_PASSING", "cannot wait for an fd", e);
    return;
  }
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  watcher_ = std::make_unique<FdWatcher>(loop, sock_.get(), [this](int, int status) { OnReady(status); });
  watcher_->want_readable(true);
  callback_ = Napi::Persistent(info[1].As<Napi::Function>());
  self_ = Napi::Persistent(Value());  // libuv holds `this` while it waits
  napi_async_init(env, Value(), Napi::String::New(env, "tunio.FdReceiver"), &async_);
  napi_add_env_cleanup_hook(env, CleanupHook, this);
  hooked_ = true;
}

FdReceiverWrap::~FdReceiverWrap() {
  CloseAll();
  if (hooked_) napi_remove_env_cleanup_hook(env_, CleanupHook, this);
}

void FdReceiverWrap::CleanupHook(void* arg) {
  auto* self = static_cast<FdReceiverWrap*>(arg);
  self->hooked_ = false;  // Node removes the hook it runs
  self->CloseAll();
}

void FdReceiverWrap::CloseAll() {
  if (watcher_) watcher_->close();
  watcher_.reset();
  if (sock_) {
    sock_.reset();
    if (!path_.empty()) ::unlink(path_.c_str());  // the path we bound, nobody else's
  }
  if (async_) {
    napi_async_destroy(env_, async_);
    async_ = nullptr;
  }
}

void FdReceiverWrap::OnReady(int status) {
  if (!sock_) return;
  Napi::HandleScope scope(env_);
  std::vector<napi_value> args;
  int received = -1;
  if (status < 0) {
    args.push_back(MakeSysError(env_, "ERR_TUNIO_FD_PASSING", "waiting for an fd failed", -status, "poll"));
  } else {
    for (;;) {
      int fd = -1;
      PeerCredentials cred;
      bool discarded = false;
      SysError e = receive_fd(sock_.get(), &fd, &cred, &discarded);
      if (!e.ok()) {
        args.push_back(MakeSysError(env_, "ERR_TUNIO_FD_PASSING", "receiving an fd failed", e.err, e.call));
        break;
      }
      if (discarded) continue;  // not a tunio hand-over: keep waiting
      if (fd < 0) return;       // nothing more queued
      received = fd;
      args = {JsNumber(env_, fd), JsNumber(env_, double(cred.pid)), JsNumber(env_, double(cred.uid)),
              JsNumber(env_, double(cred.gid))};
      break;
    }
  }
  // One hand-over per receiver: stop listening before JS sees the result.
  Napi::Function cb = callback_.Value();
  napi_async_context async = async_;
  async_ = nullptr;
  if (watcher_) watcher_->close();
  sock_.reset();
  if (!path_.empty()) ::unlink(path_.c_str());
  for (napi_value v : args) {
    if (!v) {  // the environment is going away: nobody to tell; do not leak the fd
      if (received >= 0) ::close(received);
      if (async) napi_async_destroy(env_, async);
      return;
    }
  }
  napi_value result;
  napi_make_callback(env_, async, Value(), cb, args.size(), args.data(), &result);
  if (async) napi_async_destroy(env_, async);
  self_.Reset();
}

Napi::Value FdReceiverWrap::Close(const Napi::CallbackInfo& info) {
  CloseAll();
  self_.Reset();
  return info.Env().Undefined();
}

}  // namespace tunio
