#include "udp_features.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <cerrno>

#include "cmsg_writer.h"
#include "unique_fd.h"

#ifndef SOL_UDP
#define SOL_UDP IPPROTO_UDP
#endif

namespace tunio {

bool udp_probe_gso(int fd) {
  int value = 0;
  socklen_t len = sizeof value;
  return ::getsockopt(fd, SOL_UDP, UDP_SEGMENT, &value, &len) == 0;
}

bool udp_enable_gro(int fd) {
  int one = 1;
  return ::setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0;
}

uint16_t udp_probe_max_gso_segments(SysError* err) {
  auto fail = [err](const char* call) {
    if (err) *err = SysError::from_errno(call);
    return kLegacyMaxGsoSegments;
  };
  if (err) *err = SysError::none();
  UniqueFd rx(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!rx) return fail("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(rx.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return fail("bind");
  socklen_t alen = sizeof addr;
  if (::getsockname(rx.get(), reinterpret_cast<sockaddr*>(&addr), &alen) != 0) {
    return fail("getsockname");
  }
  UniqueFd tx(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!tx) return fail("socket");
  if (!udp_probe_gso(tx.get())) return fail("getsockopt(UDP_SEGMENT)");

  // 65 one-byte segments: the kernel checks `datalen > gso_size * UDP_MAX_SEGMENTS` before
  // anything leaves the host, so a 64-segment kernel answers EINVAL and a 128-segment kernel
  // delivers 65 tiny datagrams to `rx`, which is closed unread.
  constexpr size_t kProbeSegments = kLegacyMaxGsoSegments + 1;
  uint8_t payload[kProbeSegments] = {};
  iovec iov{payload, sizeof payload};
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(uint16_t))];
  CmsgWriter segment(control, sizeof control);
  const uint16_t gso_size = 1;
  segment.put(SOL_UDP, UDP_SEGMENT, &gso_size, sizeof gso_size);
  msghdr msg{};
  msg.msg_name = &addr;
  msg.msg_namelen = sizeof addr;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = segment.size();
  ssize_t n;
  do {
    n = ::sendmsg(tx.get(), &msg, 0);
  } while (n < 0 && errno == EINTR);
  if (n >= 0) return kMaxGsoSegmentsCap;
  if (errno == EINVAL) return kLegacyMaxGsoSegments;  // the answer, not a failure
  return fail("sendmsg(UDP_SEGMENT probe)");
}

uint16_t udp_max_gso_segments() {
  // Static-local init: run once, thread-safe, immutable afterwards (a kernel fact).
  static const uint16_t value = udp_probe_max_gso_segments(nullptr);
  return value;
}

}  // namespace tunio
