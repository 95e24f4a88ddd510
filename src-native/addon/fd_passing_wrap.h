// sendFd(path, fd) and NativeFdReceiver (lib/fd-passing.ts): SCM_RIGHTS hand-over of a TUN fd
// from a privileged helper. Marshalling and event-loop wiring only; the socket work is in
// src-native/core/fd_passing.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "fd_watcher.h"
#include "unique_fd.h"

namespace tunio {

// sendFd(path, fd): sends a descriptor of the same open file to the receiver at `path`.
Napi::Value SendFd(const Napi::CallbackInfo& info);

// new NativeFdReceiver(path, callback): binds `path` and calls callback(fd, pid, uid, gid) for
// the first datagram carrying one fd, or callback(error) when receiving fails. close() stops
// and unlinks the path it bound. Its poll keeps the event loop alive while it waits (a pending
// receiveFd() promise is work in progress, like a listening server).
class FdReceiverWrap : public Napi::ObjectWrap<FdReceiverWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit FdReceiverWrap(const Napi::CallbackInfo& info);
  ~FdReceiverWrap() override;

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  void OnReady(int status);
  void CloseAll();
  static void CleanupHook(void* arg);

  Napi::Env env_;
  UniqueFd sock_;
  std::string path_;
  std::unique_ptr<FdWatcher> watcher_;
  Napi::FunctionReference callback_;
  Napi::ObjectReference self_;
  napi_async_context async_ = nullptr;
  bool hooked_ = false;
};

}  // namespace tunio
