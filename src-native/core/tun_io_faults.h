// Fault injection for the TUN write path, for tests only: a TunWriter (tun_io.h) that fails
// one chosen write with an errno without a syscall and hands every other write to the device.
// The native tests and the addon's fault seam (fault_seam.h: injectFault's coalesceEinval,
// writeError) install it with TunQueueIo::set_writer; production writes never pass
// through it. It lets tests reach what the kernel rarely does on demand: EAGAIN or ENOBUFS on
// a TUN write, EINVAL on a coalesced one (as some 2024 stable kernels answer).
//
// No Node headers, no exceptions.
#pragma once

#include <cstdint>

#include "tun_device.h"
#include "tun_io.h"

namespace tunio {

class OneWriteFault final : public TunWriter {
 public:
  // After `skip` more writes of the matching kind went to the device, the next one fails with
  // `err` (coalesced_only: only coalesced writes count and fail); later writes all go through.
  OneWriteFault(TunDevice* dev, int queue, int err, bool coalesced_only, uint32_t skip)
      : dev_(dev), queue_(queue), err_(err), coalesced_only_(coalesced_only), skip_(skip) {}

  ssize_t write(const iovec* iov, int iovcnt, bool coalesced) override {
    if (err_ != 0 && (coalesced || !coalesced_only_)) {
      if (skip_ == 0) {
        const int err = err_;
        err_ = 0;
        return -err;
      }
      skip_--;
    }
    return dev_->write_raw(queue_, iov, iovcnt);
  }
  bool fired() const { return err_ == 0; }

 private:
  TunDevice* dev_;
  int queue_;
  int err_;  // 0: fired already
  bool coalesced_only_;
  uint32_t skip_;
};

}  // namespace tunio
