// The seam between UdpSocket's send path and the kernel: the two system calls it sends with.
// Production sockets use the kernel's (kernel_send_calls()); a test installs a stand-in
// (UdpSocketFaults, udp_socket_faults.h) that refuses chosen messages the way a kernel would,
// so the fallbacks for kernel refusals run without a kernel that refuses. Nothing in the send
// path itself knows whether it talks to the kernel or to a stand-in.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

namespace tunio {

class UdpSendCalls {
 public:
  virtual ~UdpSendCalls() = default;
  // As sendmsg(2) and sendmmsg(2): the same results, errno set on failure. sendmmsg stops at
  // the first message that fails and returns how many went before it (-1 when it was the first).
  virtual ssize_t sendmsg(int fd, const msghdr* msg, int flags) = 0;
  virtual int sendmmsg(int fd, mmsghdr* msgs, unsigned n, int flags) = 0;
};

// The kernel's: ::sendmsg and ::sendmmsg.
UdpSendCalls& kernel_send_calls();

}  // namespace tunio
