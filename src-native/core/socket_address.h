// Addresses of the UDP core: an IpEndpoint (packet.h) to and from the kernel's sockaddr, the
// v4-mapped IPv6 form a dual-stack socket uses for IPv4 peers, and the comparisons the send
// planner, the error queue, the GSO back-off and the path MTU table make between endpoints.
//
// Kept apart from udp_socket.h so that the pieces below the socket (the error-queue reader,
// the planner, the per-path tables) need no socket to convert or compare an address.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "packet.h"

namespace tunio {

// Bytes of an address of `family` (4 or 6) in IpEndpoint::addr.
constexpr size_t address_length(uint8_t family) { return family == 4 ? 4 : 16; }

// ::ffff:a.b.c.d: how an AF_INET6 socket without IPV6_V6ONLY names an IPv4 peer or source.
bool is_v4_mapped(const in6_addr& a);
// Sets `ep`'s family and address from `a` (a v4-mapped address becomes plain IPv4); port,
// ifindex and scope id are left as they are.
void set_endpoint_address(IpEndpoint& ep, const in6_addr& a);

// sockaddr for `ep` suited to a socket of `socket_family` (AF_INET6 sockets get IPv4 as
// v4-mapped). Returns the length, 0 when `ep` is empty.
socklen_t endpoint_to_sockaddr(const IpEndpoint& ep, int socket_family, sockaddr_in6* out);
// IpEndpoint from a kernel sockaddr; v4-mapped IPv6 becomes plain IPv4.
IpEndpoint endpoint_from_sockaddr(const sockaddr* sa, socklen_t len);

// Numeric text to an address: "192.0.2.1" or "2001:db8::1" (no zone, no port). Sets family
// and addr of `*out` only; false (and `*out` untouched) for anything else.
bool parse_address(const char* text, IpEndpoint* out);
// Numeric text of the address ("192.0.2.1", "2001:db8::1"), "" when empty: for messages.
std::string format_address(const IpEndpoint& ep);
// The address with its port, as a URL writes it ("192.0.2.1:51820", "[2001:db8::1]:51820").
std::string format_endpoint(const IpEndpoint& ep);

// The path `ep` belongs to: its address (and scope) without port and ifindex, the key of the
// per-path tables (a path MTU or a GSO refusal is the route's, not the port's).
IpEndpoint path_of(const IpEndpoint& ep);

// Same family and address bytes (ports, ifindex and scope ignored; two empty endpoints are
// the same). What the kernel's route lookup keys on, so what a per-path table keys on.
inline bool same_address(const IpEndpoint& a, const IpEndpoint& b) { return a.same_address(b); }
// same_address, and for IPv6 the same scope id (fe80::1%eth0 and fe80::1%eth1 are two hosts).
// Empty endpoints are never the same host.
bool same_host(const IpEndpoint& a, const IpEndpoint& b);
// One destination for a send: same host and port. Inline, as same_source: the send planner
// asks both for every datagram of a run (out of line, with the libc memcmp of a variable
// length they were about 40% of plan_udp_sends' instructions per datagram).
inline bool same_destination(const IpEndpoint& a, const IpEndpoint& b) {
  return a.same_address_port(b) && (a.family != 6 || a.scope_id == b.scope_id);
}
// One source for a send (Packet.local): both unset, or the same address and ifindex.
inline bool same_source(const IpEndpoint& a, const IpEndpoint& b) {
  if (a.family != b.family) return false;
  if (a.empty()) return true;
  return a.ifindex == b.ifindex && a.same_address(b);
}

}  // namespace tunio
