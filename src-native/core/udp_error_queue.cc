#include "udp_error_queue.h"

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "socket_address.h"

namespace tunio {

const char* error_origin_name(ErrorOrigin origin) {
  switch (origin) {
    case ErrorOrigin::kIcmp: return "icmp";
    case ErrorOrigin::kIcmp6: return "icmp6";
    case ErrorOrigin::kSocket: return "socket";
    case ErrorOrigin::kLocal:
    default: return "local";
  }
}

ErrorQueueRead read_error_queue_entry(int fd, SocketError* out, int* failed_errno) {
  // The queued skb holds the offending packet's headers; we only want the metadata, so no
  // data buffer (the kernel sets MSG_TRUNC and copies nothing). The control buffer takes the
  // RECVERR message (extended error + offender address) plus the PKTINFO/TOS messages the
  // kernel adds for ICMP entries because those options are on.
  alignas(cmsghdr) uint8_t control[512];
  sockaddr_in6 name;
  msghdr h{};
  h.msg_name = &name;
  h.msg_namelen = sizeof name;
  h.msg_control = control;
  h.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(fd, &h, MSG_ERRQUEUE | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return ErrorQueueRead::kEmpty;
    *failed_errno = errno;
    return ErrorQueueRead::kFailed;
  }
  SocketError e;
  e.call = "recvmsg(MSG_ERRQUEUE)";
  // The original datagram's destination: address from its IP header, port from its UDP
  // header. For local errors the kernel has no UDP header to read it from: ip_local_error is
  // passed inet->inet_dport (net/ipv4/ip_output.c __ip_append_data), which is 0 on an
  // unconnected socket (UdpSocket::drain_error_queue fills it in from the failed send).
  e.remote = endpoint_from_sockaddr(reinterpret_cast<const sockaddr*>(&name), h.msg_namelen);
  bool found = false;
  for (cmsghdr* cm = CMSG_FIRSTHDR(&h); cm; cm = CMSG_NXTHDR(&h, cm)) {
    const bool v4 = cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_RECVERR;
    const bool v6 = cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_RECVERR;
    if (!v4 && !v6) continue;
    const size_t data_len = cm->cmsg_len - CMSG_LEN(0);
    if (data_len < sizeof(sock_extended_err)) continue;
    sock_extended_err ee;
    std::memcpy(&ee, CMSG_DATA(cm), sizeof ee);
    e.err = static_cast<int>(ee.ee_errno);
    e.origin = ee.ee_origin == SO_EE_ORIGIN_ICMP    ? ErrorOrigin::kIcmp
               : ee.ee_origin == SO_EE_ORIGIN_ICMP6 ? ErrorOrigin::kIcmp6
                                                    : ErrorOrigin::kLocal;
    e.icmp_type = ee.ee_type;
    e.icmp_code = ee.ee_code;
    e.info = ee.ee_info;
    // The offender follows the extended error; AF_UNSPEC (no address) for local errors.
    const size_t offender_len = data_len - sizeof ee;
    if (offender_len >= sizeof(sockaddr_in)) {
      sockaddr_in6 off{};
      std::memcpy(&off, CMSG_DATA(cm) + sizeof ee, offender_len < sizeof off ? offender_len : sizeof off);
      e.offender = endpoint_from_sockaddr(reinterpret_cast<const sockaddr*>(&off),
                                          static_cast<socklen_t>(offender_len));
      e.offender.port = 0;
    }
    found = true;
    break;
  }
  if (!found) {
    // An entry without an extended error (not something a UDP socket queues): report it
    // with what is known rather than dropping it silently.
    e.err = EPROTO;
    e.origin = ErrorOrigin::kSocket;
  }
  *out = e;
  return ErrorQueueRead::kEntry;
}

}  // namespace tunio
