// The address helpers of the UDP core: IpEndpoint <-> sockaddr for both socket families, the
// v4-mapped form of a dual-stack socket, and the comparisons the planner and tables rely on.
#include <doctest.h>

#include <arpa/inet.h>

#include <cstring>
#include <string>

#include "socket_address.h"
#include "test_endpoints.h"

using namespace tunio;

namespace {

IpEndpoint scoped(const char* text, uint16_t port, uint32_t scope_id) {
  IpEndpoint e = endpoint(text, port);
  e.scope_id = scope_id;
  return e;
}

}  // namespace

TEST_CASE("socket address: an endpoint becomes the sockaddr its socket family takes, and back") {
  struct Row {
    const char* name;
    IpEndpoint ep;
    int socket_family;
    socklen_t want_len;
    int want_family;           // the sockaddr's family
    const char* want_text;     // its address as inet_ntop prints it
  };
  const Row rows[] = {
      {"IPv4 on an IPv4 socket", endpoint("192.0.2.7", 51820), AF_INET, sizeof(sockaddr_in), AF_INET, "192.0.2.7"},
      {"IPv4 on a dual-stack socket: v4-mapped", endpoint("192.0.2.7", 51820), AF_INET6, sizeof(sockaddr_in6),
       AF_INET6, "::ffff:192.0.2.7"},
      {"IPv6 with a scope", scoped("fe80::1", 9, 3), AF_INET6, sizeof(sockaddr_in6), AF_INET6, "fe80::1"},
      {"IPv6 on an IPv4 socket (the kernel answers EAFNOSUPPORT)", endpoint("2001:db8::1", 9), AF_INET,
       sizeof(sockaddr_in6), AF_INET6, "2001:db8::1"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    sockaddr_in6 sa;
    const socklen_t len = endpoint_to_sockaddr(row.ep, row.socket_family, &sa);
    CHECK(len == row.want_len);
    const sockaddr* generic = reinterpret_cast<const sockaddr*>(&sa);
    REQUIRE(generic->sa_family == row.want_family);
    char text[INET6_ADDRSTRLEN] = {};
    const void* addr = row.want_family == AF_INET
                           ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(&sa)->sin_addr)
                           : static_cast<const void*>(&sa.sin6_addr);
    REQUIRE(inet_ntop(row.want_family, addr, text, sizeof text));
    CHECK(std::string(text) == row.want_text);
    // Back: a v4-mapped address comes out as the plain IPv4 endpoint it was made from.
    const IpEndpoint back = endpoint_from_sockaddr(generic, len);
    CHECK(back.same_address_port(row.ep));
    CHECK(back.scope_id == row.ep.scope_id);
  }
}

TEST_CASE("socket address: empty endpoints and short sockaddrs convert to nothing") {
  sockaddr_in6 sa;
  CHECK(endpoint_to_sockaddr(IpEndpoint{}, AF_INET6, &sa) == 0);
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  CHECK(endpoint_from_sockaddr(reinterpret_cast<sockaddr*>(&v6), sizeof(sockaddr_in)).empty());
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  CHECK(endpoint_from_sockaddr(reinterpret_cast<sockaddr*>(&v4), sizeof v4 - 1).empty());
}

TEST_CASE("socket address: comparisons") {
  const IpEndpoint a = endpoint("10.0.0.1", 1000);
  IpEndpoint a_other_port = a;
  a_other_port.port = 2000;
  const IpEndpoint b = endpoint("10.0.0.2", 1000);
  const IpEndpoint link_eth0 = scoped("fe80::1", 1000, 2);
  const IpEndpoint link_eth1 = scoped("fe80::1", 1000, 3);
  const IpEndpoint none;

  CHECK(same_address(a, a_other_port));
  CHECK_FALSE(same_address(a, b));
  CHECK(same_address(link_eth0, link_eth1));  // scope ignored: what a route lookup keys on
  CHECK(same_address(none, none));

  CHECK(same_host(a, a_other_port));
  CHECK_FALSE(same_host(link_eth0, link_eth1));  // two hosts on two links
  CHECK_FALSE(same_host(none, none));

  CHECK(same_destination(a, a));
  CHECK_FALSE(same_destination(a, a_other_port));
  CHECK_FALSE(same_destination(link_eth0, link_eth1));
  CHECK(same_destination(none, none));  // both to a connected socket's peer

  IpEndpoint src = a;
  src.ifindex = 4;
  IpEndpoint src_other_dev = src;
  src_other_dev.ifindex = 5;
  CHECK(same_source(src, src));
  CHECK_FALSE(same_source(src, src_other_dev));
  CHECK_FALSE(same_source(src, none));
  CHECK(same_source(none, none));

  // The bytes each family compares: IPv4 its 4 (what lies past them does not count), IPv6 all
  // 16 (the last one too); the same bytes of two families are two addresses.
  IpEndpoint a_tail = a;
  a_tail.addr[4] = 0x55;
  a_tail.addr[15] = 0x66;
  CHECK(same_address(a, a_tail));
  CHECK(same_destination(a, a_tail));
  CHECK(same_source(src, [&] { IpEndpoint s = src; s.addr[9] = 1; return s; }()));
  IpEndpoint six = endpoint("2001:db8::1", 1000);
  IpEndpoint six_last = six;
  six_last.addr[15] ^= 1;
  CHECK_FALSE(same_address(six, six_last));
  CHECK_FALSE(same_destination(six, six_last));
  IpEndpoint six_src = six, six_last_src = six_last;
  six_src.ifindex = six_last_src.ifindex = 4;
  CHECK_FALSE(same_source(six_src, six_last_src));
  IpEndpoint four_as_six = a;
  four_as_six.family = 6;
  CHECK_FALSE(same_address(a, four_as_six));
  CHECK_FALSE(same_destination(a, four_as_six));

  const IpEndpoint path = path_of(src);  // the key of the per-path tables
  CHECK(same_address(path, src));
  CHECK(path.port == 0);
  CHECK(path.ifindex == 0);
  CHECK(path_of(link_eth1).scope_id == 3);

  IpEndpoint untouched = a;
  CHECK_FALSE(parse_address("10.0.0.300", &untouched));
  CHECK_FALSE(parse_address("fe80::1%eth0", &untouched));  // zones are the addon's to resolve
  CHECK(untouched.same_address_port(a));

  in6_addr mapped{};
  REQUIRE(inet_pton(AF_INET6, "::ffff:10.0.0.1", &mapped) == 1);
  CHECK(is_v4_mapped(mapped));
  IpEndpoint from_mapped;
  set_endpoint_address(from_mapped, mapped);
  CHECK(same_address(from_mapped, a));
}

TEST_CASE("socket address: text for messages") {
  CHECK(format_endpoint(endpoint("192.0.2.1", 51820)) == "192.0.2.1:51820");
  CHECK(format_endpoint(endpoint("2001:db8::1", 443)) == "[2001:db8::1]:443");
  CHECK(format_address(scoped("fe80::1", 9, 3)) == "fe80::1");
  CHECK(format_address(IpEndpoint{}).empty());
}
