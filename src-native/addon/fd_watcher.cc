#include "fd_watcher.h"

namespace tunio {

FdWatcher::FdWatcher(uv_loop_t* loop, int fd, Callback on_ready) : on_ready_(std::move(on_ready)) {
  handle_ = new Handle();
  handle_->owner = this;
  if (uv_poll_init(loop, &handle_->poll, fd) != 0) {
    delete handle_;
    handle_ = nullptr;
    return;
  }
  handle_->poll.data = handle_;
}

FdWatcher::~FdWatcher() { close(); }

void FdWatcher::set(int bit, bool on) {
  if (!handle_) return;
  int next = on ? (events_ | bit) : (events_ & ~bit);
  if (next == events_) return;
  events_ = next;
  if (events_ == 0) {
    uv_poll_stop(&handle_->poll);
    return;
  }
  uv_poll_start(&handle_->poll, events_, [](uv_poll_t* p, int status, int events) {
    auto* h = static_cast<Handle*>(p->data);
    if (!h->owner) return;
    if (status < 0) {
      // libuv reports POLLERR as UV_EBADF and stops the handle itself. Mirror that, so the
      // owner's next want_*(true) really restarts polling instead of being a no-op (the
      // owner handles the error condition, e.g. drains a socket's error queue, first).
      uv_poll_stop(p);
      h->owner->events_ = 0;
    }
    h->owner->on_ready_(events, status);
  });
}

void FdWatcher::unref() {
  if (handle_) uv_unref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
}

void FdWatcher::close() {
  if (!handle_) return;
  handle_->owner = nullptr;
  uv_poll_stop(&handle_->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_->poll),
           [](uv_handle_t* h) { delete static_cast<Handle*>(h->data); });
  handle_ = nullptr;
  events_ = 0;
}

}  // namespace tunio
