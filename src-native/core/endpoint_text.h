// A UDP endpoint and a datagram's send metadata as a user writes them: the one parser (and
// the one wording of its errors) of the addresses, zones and ports that openUdp's
// bind/connect, udp.send()'s and a forward's `to` and a lease's remote take, and of a lease's
// local address, ifindex and ECN bits. lib/ hands the text on unparsed; the addon takes a
// { address, port } object apart and calls these (endpoint_js.cc). Messages are sentences for
// the user, without the option's name (the caller's error names it).
//
// No Node headers, no exceptions.
#pragma once

#include <cstdint>
#include <string>

#include "packet.h"

namespace tunio {

// "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1" (read as IPv4, as a dual-stack socket names
// an IPv4 peer) and an IPv6 address with a zone, "fe80::1%eth0" or "fe80::1%2": the interface
// (by name in the calling thread's network namespace, or by index) is the scope id a
// link-local address needs. Sets family, addr and scope_id of `*ep` only; on false, `*ep` is
// untouched and `*why` says what is wrong.
bool parse_zoned_address(const std::string& text, IpEndpoint* ep, std::string* why);

// A port as a number: an integer 0..65535 (0: any, for a bind).
bool parse_port(double port, uint16_t* out, std::string* why);

// "192.0.2.1:51820", "[2001:db8::1]:51820", "[fe80::1%eth0]:51820", or ":51820" (the IPv4
// wildcard, 0.0.0.0). IPv6 needs the brackets (a bare "::1:80" is ambiguous).
bool parse_endpoint(const std::string& text, IpEndpoint* ep, std::string* why);

// An endpoint a datagram can be sent to: any parsed endpoint but port 0.
bool check_destination(const IpEndpoint& ep, std::string* why);

// An address of this host to send from (IP_PKTINFO): parse_zoned_address without a zone (the
// interface is the ifindex, below).
bool parse_local_address(const std::string& text, IpEndpoint* ep, std::string* why);

// An interface index as a number: an integer 0..2^32-1 (0: any interface).
bool parse_ifindex(double ifindex, uint32_t* out, std::string* why);

// The ECN bits of the outer IP header as a number: 0 (not ECT), 1 (ECT(1)), 2 (ECT(0)), 3 (CE).
bool parse_ecn(double ecn, uint8_t* out, std::string* why);

}  // namespace tunio
