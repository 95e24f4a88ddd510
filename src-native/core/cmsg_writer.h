// Writes control messages (cmsg) for sendmsg into a caller's buffer, refusing any that would
// not fit: the UDP send path, the UDP_SEGMENT probe (udp_features.cc) and SCM_RIGHTS fd
// passing (fd_passing.cc) build theirs with it. The send path builds up to three per message (UDP_SEGMENT, IP_PKTINFO or
// IPV6_PKTINFO, IP_TOS or IPV6_TCLASS) into a fixed slice of a buffer sized once at open, so
// a message type added later without growing that slice must fail where it is written, not
// scribble over the next message's slice (quinn-udp's encoder asserts the same).
//
// Done by hand instead of CMSG_NXTHDR: glibc's CMSG_NXTHDR reads the next header's cmsg_len,
// which would force zeroing the whole buffer before every send.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tunio {

class CmsgWriter {
 public:
  // `buffer` must be aligned for cmsghdr (the send path's is a vector of them, sliced at
  // multiples of CMSG_SPACE sizes).
  CmsgWriter(uint8_t* buffer, size_t capacity) : start_(buffer), capacity_(capacity) {}

  // Appends one message with `len` bytes of data. False, and nothing written, when it does
  // not fit in what is left (overflowed() stays true from then on).
  bool put(int level, int type, const void* data, size_t len) {
    const size_t space = CMSG_SPACE(len);
    if (space > capacity_ - used_) {
      overflowed_ = true;
      return false;
    }
    cmsghdr* cm = reinterpret_cast<cmsghdr*>(start_ + used_);
    cm->cmsg_level = level;
    cm->cmsg_type = type;
    cm->cmsg_len = CMSG_LEN(len);
    std::memcpy(CMSG_DATA(cm), data, len);
    // The padding after the data is part of this message's space: clear it, so no bytes of
    // an earlier message at this place go to the kernel.
    const size_t pad = space - CMSG_LEN(len);
    if (pad) std::memset(start_ + used_ + CMSG_LEN(len), 0, pad);
    used_ += space;
    return true;
  }

  size_t size() const { return used_; }  // msg_controllen
  bool overflowed() const { return overflowed_; }

 private:
  uint8_t* start_;
  size_t capacity_;
  size_t used_ = 0;
  bool overflowed_ = false;
};

}  // namespace tunio
