// Errors the kernel reports about individual datagrams of a UDP socket, and how to read them
// from the socket's error queue (IP_RECVERR / IPV6_RECVERR, recvmsg(MSG_ERRQUEUE)).
//
// With IP_RECVERR every ICMP error about a datagram we sent (port/host/net unreachable,
// admin prohibited, frag needed, ...) is queued on the socket with the ICMP type/code, the
// host that sent the ICMP (the "offender") and the original destination, for unconnected
// sockets too; local send failures the kernel detects itself (EMSGSIZE with the MTU) are
// queued as well. Without it, only a connected socket hears about hard ICMP errors, and then
// only the errno. Enabling it is what lets one unconnected socket serve many VPN peers.
//
// Kernel sources this follows (as of Linux 6.18): __udp4_lib_err (net/ipv4/udp.c) queues an
// ICMP error with ip_icmp_error (net/ipv4/ip_sockglue.c, SO_EE_ORIGIN_ICMP) when IP_RECVERR
// is on, and then sets sk_err (without IP_RECVERR: only for a hard error on a connected
// socket, and nothing is queued); __udp6_lib_err / ipv6_icmp_error (net/ipv6/udp.c, net/ipv6/datagram.c,
// SO_EE_ORIGIN_ICMP6) likewise. Local errors come from ip_local_error / ipv6_local_error
// (SO_EE_ORIGIN_LOCAL), e.g. __ip_append_data's EMSGSIZE with the MTU in ee_info.
#pragma once

#include <cstdint>

#include "packet.h"

namespace tunio {

// Where an error came from.
enum class ErrorOrigin : uint8_t {
  kLocal,   // this host refused the send (no route, EMSGSIZE, firewall): SO_EE_ORIGIN_LOCAL or
            // the send call's own return value
  kIcmp,    // an ICMPv4 error received from the path or the peer host
  kIcmp6,   // an ICMPv6 error
  kSocket,  // a pending socket error whose queue entry was lost: only the errno is known
            // (sock_queue_err_skb, net/core/skbuff.c, refuses an entry the receive buffer has
            // no room for and ip_icmp_error frees it, while sk_err is set all the same)
};
const char* error_origin_name(ErrorOrigin origin);  // "local", "icmp", "icmp6", "socket"

// One error, kept so the caller can turn it into an event.
struct SocketError {
  int err = 0;
  const char* call = nullptr;  // "sendmsg", "sendmmsg", "recvmmsg", "recvmsg(MSG_ERRQUEUE)"
  IpEndpoint remote;           // the peer: where the failed datagram was going (may be empty)
  ErrorOrigin origin = ErrorOrigin::kLocal;
  uint8_t icmp_type = 0;  // kIcmp/kIcmp6: the ICMP type and code as received
  uint8_t icmp_code = 0;
  uint32_t info = 0;      // ee_info: the path MTU for EMSGSIZE / "fragmentation needed"
  IpEndpoint offender;    // kIcmp/kIcmp6: who sent the ICMP (a router, or the peer host)
  uint32_t count = 1;     // errors this entry stands for (repeats merged, see UdpSocket)
};

enum class ErrorQueueRead : uint8_t { kEntry, kEmpty, kFailed };

// Reads one entry of `fd`'s error queue without blocking and decodes it into `*out` (call
// "recvmsg(MSG_ERRQUEUE)"). kEmpty: nothing queued (EAGAIN). kFailed: `*failed_errno` set.
// Handles both IP_RECVERR and IPV6_RECVERR control messages; v4-mapped addresses on a
// dual-stack socket come out as plain IPv4.
ErrorQueueRead read_error_queue_entry(int fd, SocketError* out, int* failed_errno);

}  // namespace tunio
