// The outcome of one batched packet I/O call, the same for every fd tunio reads and writes
// (TUN queues in tun_io.h, UDP sockets in udp_socket.h): why the call stopped, how many packets
// it handled, and the failing system call when there was one. The caller's reaction depends
// only on `status` (wait for the fd, retry on a timer, wait for leases to come back, report).
//
// No Node headers, no exceptions.
#pragma once

#include <cstddef>

#include "sys_error.h"

namespace tunio {

enum class IoStatus : unsigned char {
  kOk,             // reads: zero or more packets appended, call again while readable;
                   // writes: every packet was taken (sent, or dropped and counted)
  kWouldBlock,     // EAGAIN: wait until the fd polls ready, then go on
  kNoBuffers,      // ENOBUFS: like kWouldBlock, but the fd may poll ready at once: retry on a timer
  kPoolExhausted,  // reads: the buffer pool cannot hold what the next read could bring: wait
                   // for leases to come back (nothing was read that could not be stored)
  kError,          // unexpected failure (EBADF, EFAULT, ...): see `error`
};

struct IoResult {
  IoStatus status = IoStatus::kOk;
  // Reads: packets appended to the caller's vector. Writes: packets removed from the front of
  // the caller's vector (sent, or dropped and counted in the stats).
  size_t done = 0;
  // Writes: how many of `done` were dropped (refused by the kernel, invalid) instead of sent.
  size_t dropped = 0;
  // kWouldBlock / kNoBuffers: the errno that stopped the call (EAGAIN, ENOBUFS) and its call;
  // kError: the failure. SysError::none() otherwise.
  SysError error;

  size_t sent() const { return done - dropped; }
  // The fd cannot take or give more now (kWouldBlock or kNoBuffers); the rest waits.
  bool blocked() const { return status == IoStatus::kWouldBlock || status == IoStatus::kNoBuffers; }

  // kWouldBlock for EAGAIN/EWOULDBLOCK, kNoBuffers for ENOBUFS, kError for any other errno.
  static IoStatus status_of(int err) {
    if (err == EAGAIN || err == EWOULDBLOCK) return IoStatus::kWouldBlock;
    if (err == ENOBUFS) return IoStatus::kNoBuffers;
    return IoStatus::kError;
  }
  // A call stopped by `err` from `call` (a string literal) after `done` packets.
  static IoResult stopped(int err, const char* call, size_t done = 0) {
    IoResult r;
    r.status = status_of(err);
    r.done = done;
    r.error = SysError::make(err, call);
    return r;
  }
};

}  // namespace tunio
