// The one parser of the endpoints users write (endpoint_text.h): what it accepts, and for what
// it refuses, the reason users read in ERR_TUNIO_INVALID_OPTION / _ARG (test/options.test.ts
// checks the same cases through openUdp, udp.send and a lease's remote).
#include <doctest.h>

#include <net/if.h>

#include <string>

#include "endpoint_text.h"
#include "socket_address.h"

using namespace tunio;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The loopback interface's name and index: "lo" in every network namespace.
const unsigned kLoopback = if_nametoindex("lo");

}  // namespace

TEST_CASE("endpoint text: accepted forms") {
  struct Row {
    const char* text;
    uint8_t family;
    const char* address;  // format_address of the result
    uint16_t port;
    uint32_t scope_id;
  };
  REQUIRE(kLoopback != 0);
  const Row rows[] = {
      {"192.0.2.1:51820", 4, "192.0.2.1", 51820, 0},
      {"[2001:db8::1]:443", 6, "2001:db8::1", 443, 0},
      {":9", 4, "0.0.0.0", 9, 0},
      {"[::]:0", 6, "::", 0, 0},
      {"127.0.0.1:0080", 4, "127.0.0.1", 80, 0},
      {"[::ffff:192.0.2.1]:5", 4, "192.0.2.1", 5, 0},  // v4-mapped: the IPv4 peer it names
      {"[127.0.0.1]:65535", 4, "127.0.0.1", 65535, 0},
      {"[fe80::1%7]:5", 6, "fe80::1", 5, 7},
      {"[fe80::1%4294967295]:5", 6, "fe80::1", 5, 4294967295u},
      {"[fe80::1%lo]:5", 6, "fe80::1", 5, kLoopback},
  };
  for (const Row& r : rows) {
    CAPTURE(r.text);
    IpEndpoint ep;
    std::string why;
    REQUIRE_MESSAGE(parse_endpoint(r.text, &ep, &why), why);
    CHECK(ep.family == r.family);
    CHECK(format_address(ep) == r.address);
    CHECK(ep.port == r.port);
    CHECK(ep.scope_id == r.scope_id);
  }
}

TEST_CASE("endpoint text: refused, with the reason") {
  struct Row {
    const char* text;
    const char* reason;
  };
  const Row rows[] = {
      {"127.0.0.1", "is not address:port (use [addr]:port for IPv6)"},
      {"127.0.0.1:", "is not address:port"},
      {"::1:80", "is not address:port"},
      {"[::1]80", "is not address:port"},
      {"[]:80", "is not address:port"},
      {"127.0.0.1:+80", "is not address:port"},
      {"", "is not address:port"},
      {"127.0.0.1:65536", "port 65536 is out of range 0-65535"},
      {"127.0.0.1:99999999999999999999", "port 99999999999999999999 is out of range"},
      {"localhost:80", "\"localhost\" is not an IPv4 or IPv6 address"},
      {"127.0.0.256:80", "is not an IPv4 or IPv6 address"},
      {"[::g]:80", "\"::g\" is not an IPv4 or IPv6 address"},
      {"[fe80::1%nosuch0]:80", "no interface named \"nosuch0\" (the zone of \"fe80::1%nosuch0\") in this network namespace"},
      {"[127.0.0.1%lo]:80", "\"127.0.0.1%lo\": a zone (%interface) follows an IPv6 address only"},
      {"127.0.0.1%lo:80", "a zone (%interface) follows an IPv6 address only"},
      {"[::ffff:1.2.3.4%lo]:80", "follows an IPv6 address only"},
      {"[fe80::1%]:80", "\"\" (after the % of \"fe80::1\") is not an interface name or index"},
      {"[fe80::1%a b]:80", "is not an interface name or index"},
      {"[fe80::1%4294967296]:80", "zone index 4294967296 is out of range"},
      {"[fe80::1%99999999999]:80", "no interface named \"99999999999\""},  // 11 digits: no index, so a name
  };
  for (const Row& r : rows) {
    CAPTURE(std::string(r.text));
    IpEndpoint ep;
    ep.port = 7;
    std::string why;
    CHECK_FALSE(parse_endpoint(r.text, &ep, &why));
    CHECK(ep.port == 7);  // untouched on failure
    CHECK_MESSAGE(contains(why, r.reason), why);
  }
  // A NUL ends inet_pton's reading, not the text: "1.2.3.4\0junk" is no address.
  IpEndpoint ep;
  std::string why;
  CHECK_FALSE(parse_zoned_address(std::string("1.2.3.4\0junk", 12), &ep, &why));
  CHECK(ep.family == 0);
}

TEST_CASE("endpoint text: ports as numbers, and destinations") {
  uint16_t port = 1;
  std::string why;
  CHECK(parse_port(0, &port, &why));
  CHECK(port == 0);
  CHECK(parse_port(65535, &port, &why));
  CHECK(port == 65535);
  struct Row {
    double value;
    const char* reason;
  };
  const Row rows[] = {{-1, "port -1 is out of range 0-65535"}, {65536, "port 65536 is out"},
                      {80.5, "port 80.5 is out"},               {0.1, "port 0.1 is out"},
                      {0.0 / 0.0, "port NaN is out"},           {1.0 / 0.0, "port Infinity is out"}};
  for (const Row& r : rows) {
    CAPTURE(r.value);
    port = 9;
    CHECK_FALSE(parse_port(r.value, &port, &why));
    CHECK(port == 9);
    CHECK_MESSAGE(contains(why, r.reason), why);
  }
  IpEndpoint ep;
  REQUIRE(parse_endpoint("192.0.2.1:0", &ep, &why));
  CHECK_FALSE(check_destination(ep, &why));
  CHECK(why == "port 0 is not a destination");
  REQUIRE(parse_endpoint("192.0.2.1:1", &ep, &why));
  CHECK(check_destination(ep, &why));
}

TEST_CASE("endpoint text: a lease's local address, ifindex and ECN bits") {
  IpEndpoint ep;
  std::string why;
  REQUIRE(parse_local_address("192.0.2.9", &ep, &why));
  CHECK(format_address(ep) == "192.0.2.9");
  REQUIRE(parse_local_address("::ffff:192.0.2.9", &ep, &why));
  CHECK(ep.family == 4);
  REQUIRE(parse_local_address("2001:db8::2", &ep, &why));
  CHECK(ep.family == 6);
  CHECK_FALSE(parse_local_address("fe80::1%lo", &ep, &why));
  CHECK(why == "\"fe80::1%lo\": a local address takes no zone (the interface is ifindex)");
  CHECK_FALSE(parse_local_address("192.0.2.1:5", &ep, &why));
  CHECK(why == "\"192.0.2.1:5\" is not an IPv4 or IPv6 address");

  uint32_t ifindex = 7;
  CHECK(parse_ifindex(0, &ifindex, &why));
  CHECK(ifindex == 0);
  CHECK(parse_ifindex(4294967295.0, &ifindex, &why));
  CHECK(ifindex == 4294967295u);
  for (double bad : {-1.0, 4294967296.0, 2.5}) {
    CAPTURE(bad);
    ifindex = 7;
    CHECK_FALSE(parse_ifindex(bad, &ifindex, &why));
    CHECK(ifindex == 7);
    CHECK(contains(why, "ifindex must be an integer between 0 and 4294967295, got "));
  }

  uint8_t ecn = 9;
  for (double good : {0.0, 1.0, 2.0, 3.0}) {
    REQUIRE(parse_ecn(good, &ecn, &why));
    CHECK(ecn == good);
  }
  for (double bad : {-1.0, 4.0, 1.5, 0.0 / 0.0}) {
    CAPTURE(bad);
    ecn = 9;
    CHECK_FALSE(parse_ecn(bad, &ecn, &why));
    CHECK(ecn == 9);
    CHECK(contains(why, "must be 0 (not ECT), 1 (ECT(1)), 2 (ECT(0)) or 3 (CE), got "));
  }
}
