// A kernel with faults, for tests of UdpSocket's send fallbacks (installed through the seam of
// udp_socket_calls.h; the addon's fault seam fault_seam.h installs it for
// lib/test-hooks.ts's forceGsoEioOnce / simulateGsoSegmentLimit).
// Each UDP_SEGMENT message it refuses is refused the way the kernel's udp_send_skb refuses
// one (net/ipv4/udp.c, net/ipv6/udp.c; reasons in gso_backoff.h): whole, before anything
// leaves, with sendmmsg returning the count of the messages before it. Everything else goes
// to the kernel unchanged.
#pragma once

#include <cstdint>

#include "udp_socket_calls.h"

namespace tunio {

class UdpSocketFaults : public UdpSendCalls {
 public:
  // The next UDP_SEGMENT message fails with `err` (EIO: a route whose device cannot segment,
  // as kernels before v6.11 answered for a device without checksum offload).
  void fail_next_gso(int err) { fail_next_gso_err_ = err; }
  // Behave as a kernel whose UDP_MAX_SEGMENTS is `segments` (64 before v6.9): a UDP_SEGMENT
  // message of more segments fails with EINVAL. 0: the real kernel's limit.
  void set_gso_segment_limit(uint16_t segments) { segment_limit_ = segments; }

  ssize_t sendmsg(int fd, const msghdr* msg, int flags) override;
  int sendmmsg(int fd, mmsghdr* msgs, unsigned n, int flags) override;

 private:
  // The errno this message fails with, 0 when it goes to the kernel.
  int refusal(const msghdr& msg) const;
  // Fails the call with `err` (-1, errno set); a one-time fault is spent by it.
  int refuse(int err);
  int fail_next_gso_err_ = 0;
  uint16_t segment_limit_ = 0;
};

}  // namespace tunio
