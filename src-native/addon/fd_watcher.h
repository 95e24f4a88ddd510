// Watches one fd on the environment's libuv loop (uv_poll). Reads and writes happen on the
// JS thread when the fd is ready: tunio's syscalls are non-blocking and batched, so a native
// thread would add a hand-off per batch without saving a copy (see docs/ownership.md).
#pragma once

#include <uv.h>

#include <functional>

namespace tunio {

class FdWatcher {
 public:
  // `on_ready(events)` runs on the loop thread with UV_READABLE / UV_WRITABLE bits (or -errno
  // in `status` when polling failed).
  using Callback = std::function<void(int events, int status)>;
  FdWatcher(uv_loop_t* loop, int fd, Callback on_ready);
  ~FdWatcher();
  FdWatcher(const FdWatcher&) = delete;
  FdWatcher& operator=(const FdWatcher&) = delete;

  void want_readable(bool on) { set(UV_READABLE, on); }
  void want_writable(bool on) { set(UV_WRITABLE, on); }
  // The poll no longer keeps the event loop alive by itself (uv_unref), like an unref'd timer.
  void unref();
  // Stops polling and hands the handle to uv_close (freed in its close callback).
  void close();

 private:
  void set(int bit, bool on);
  struct Handle {
    uv_poll_t poll;
    FdWatcher* owner;
  };
  Handle* handle_ = nullptr;
  Callback on_ready_;
  int events_ = 0;
};

}  // namespace tunio
