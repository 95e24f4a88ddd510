#include "udp_socket_faults.h"

#include <netinet/in.h>
#include <netinet/udp.h>

#include <cerrno>
#include <cstring>

#ifndef SOL_UDP
#define SOL_UDP IPPROTO_UDP
#endif

namespace tunio {

namespace {

// The UDP_SEGMENT value of `msg`, 0 when it carries none.
uint16_t gso_size_of(const msghdr& msg) {
  for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(const_cast<msghdr*>(&msg), cm)) {
    if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_SEGMENT) {
      uint16_t size;
      std::memcpy(&size, CMSG_DATA(cm), sizeof size);
      return size;
    }
  }
  return 0;
}

size_t payload_of(const msghdr& msg) {
  size_t n = 0;
  for (size_t i = 0; i < msg.msg_iovlen; i++) n += msg.msg_iov[i].iov_len;
  return n;
}

}  // namespace

int UdpSocketFaults::refusal(const msghdr& msg) const {
  const uint16_t gso_size = gso_size_of(msg);
  if (gso_size == 0) return 0;
  if (fail_next_gso_err_ != 0) return fail_next_gso_err_;
  // udp_send_skb: `datalen > cork->gso_size * UDP_MAX_SEGMENTS` -> EINVAL.
  if (segment_limit_ > 0 && payload_of(msg) > static_cast<size_t>(gso_size) * segment_limit_) return EINVAL;
  return 0;
}

int UdpSocketFaults::refuse(int err) {
  if (err == fail_next_gso_err_) fail_next_gso_err_ = 0;  // a one-time fault is spent
  errno = err;
  return -1;
}

ssize_t UdpSocketFaults::sendmsg(int fd, const msghdr* msg, int flags) {
  const int err = refusal(*msg);
  return err == 0 ? ::sendmsg(fd, msg, flags) : refuse(err);
}

int UdpSocketFaults::sendmmsg(int fd, mmsghdr* msgs, unsigned n, int flags) {
  for (unsigned i = 0; i < n; i++) {
    const int err = refusal(msgs[i].msg_hdr);
    if (err == 0) continue;
    // The kernel sends the messages before the refused one and returns their count; the
    // caller's next call starts at the refused message and gets its error.
    return i > 0 ? ::sendmmsg(fd, msgs, i, flags) : refuse(err);
  }
  return ::sendmmsg(fd, msgs, n, flags);
}

}  // namespace tunio
