// Splitting one UDP_GRO read into its datagrams.
//
// With UDP_GRO on, one recvmmsg message can hold several datagrams of one flow back to back:
// every one has the size the kernel reports in the UDP_GRO cmsg (gso_size), except a shorter
// last one. The bytes come from the network and the cmsg value from the kernel; neither is
// trusted here beyond what the arithmetic needs: any (length, gso_size) pair gives segments
// that tile [0, length) exactly, none empty unless the whole read is an empty datagram.
//
// Pure and header-only so the receive loop inlines it (no call per message) and the fuzz
// target and unit tests exercise exactly the code that runs.
#pragma once

#include <cstdint>

namespace tunio {

class UdpGroSplit {
 public:
  // total_len: bytes the kernel wrote (msg_len). gso_size: the UDP_GRO cmsg value as received,
  // 0 when there was none; <= 0 or >= total_len means "one datagram".
  UdpGroSplit(uint32_t total_len, int32_t gso_size) : total_(total_len) {
    const uint32_t seg = gso_size > 0 ? static_cast<uint32_t>(gso_size) : 0;
    segment_ = (seg == 0 || seg > total_len) ? total_len : seg;
    // A 0-byte datagram is still one datagram (segment_ == 0 only then).
    count_ = total_len == 0 ? 1 : (total_len - 1) / segment_ + 1;
  }

  uint32_t count() const { return count_; }
  uint32_t segment_size() const { return segment_; }
  // Datagram k (k < count()): [offset(k), offset(k) + length(k)).
  uint32_t offset(uint32_t k) const { return k * segment_; }
  uint32_t length(uint32_t k) const {
    const uint32_t off = offset(k);
    const uint32_t left = total_ - off;
    return left < segment_ ? left : segment_;
  }

 private:
  uint32_t total_;
  uint32_t segment_;
  uint32_t count_;
};

}  // namespace tunio
