// rtnetlink module tests. The pure parsers run anywhere; the link tests need root and run
// inside a throwaway network namespace so they can never touch the host's interfaces.
#include <doctest.h>

#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "netlink.h"
#include "netns.h"
#include "tun_device.h"

using tunio::Cidr;
using tunio::SysError;
using tunio::LinkInfo;
using tunio::Rtnl;

namespace {



Cidr cidr(const char* s) {
  Cidr c;
  std::string why;
  REQUIRE_MESSAGE(tunio::parse_cidr(s, &c, &why), why);
  return c;
}

}  // namespace

TEST_CASE("netlink: parse_cidr accepts v4/v6 and says why it rejects") {
  Cidr c;
  std::string why;
  struct Parsed {
    const char* text;
    uint8_t family, prefix;
    uint8_t first_byte;
    size_t last;  // index of the address's last byte (1 in both)
  };
  for (const Parsed& p : {Parsed{"10.8.0.1/24", 4, 24, 10, 3}, Parsed{"fd08::1/64", 6, 64, 0xfd, 15}}) {
    CAPTURE(p.text);
    REQUIRE(tunio::parse_cidr(p.text, &c, &why));
    CHECK(c.family == p.family);
    CHECK(c.prefix == p.prefix);
    CHECK(c.addr[0] == p.first_byte);
    CHECK(c.addr[p.last] == 1);
    CHECK(tunio::format_cidr(c) == p.text);
  }

  CHECK(tunio::parse_cidr("0.0.0.0/0", &c));
  CHECK(tunio::parse_cidr("10.0.0.1/32", &c));
  CHECK(tunio::parse_cidr("::/128", &c));

  struct Bad { const char* text; const char* reason; };
  const Bad bad[] = {
      {"10.8.0.1", "missing /prefix"},     {"10.8.0.1/33", "0..32"},
      {"fd08::1/129", "0..128"},           {"10.8.0.1/", "decimal digits"},
      {"10.8.0.1/+24", "decimal digits"},  {"10.8.0.1/ 24", "decimal digits"},
      {"10.8.0.1/0x18", "decimal digits"}, {"10.8.0.1/24/1", "more than one"},
      {"/24", "empty address"},            {"10.8.0.256/24", "not an IPv4 or IPv6"},
      {"fe80::1%eth0/64", "takes no zone"},  {"10.8.0.1 /24", "not an IPv4"},
      {"hello/8", "not an IPv4"},          {"10.8.0.1/0024", "1 to 3"},
  };
  for (const Bad& b : bad) {
    CAPTURE(b.text);
    why.clear();
    Cidr untouched;
    untouched.prefix = 77;
    CHECK_FALSE(tunio::parse_cidr(b.text, &untouched, &why));
    CHECK(untouched.prefix == 77);  // output is not half-written on failure
    CHECK(contains(why, b.reason));
    CHECK(contains(why, b.text));
  }
}

TEST_CASE("netlink: valid_ifname follows the kernel's rules") {
  std::string why;
  CHECK(tunio::valid_ifname("tun0", false));
  CHECK(tunio::valid_ifname("wg-home_1.2", false));
  CHECK(tunio::valid_ifname("abcdefghijklmno", false));  // 15 bytes: the maximum
  CHECK_FALSE(tunio::valid_ifname("abcdefghijklmnop", false, &why));
  CHECK(contains(why, "longer than 15"));
  CHECK_FALSE(tunio::valid_ifname("", false));
  CHECK_FALSE(tunio::valid_ifname(".", false));
  CHECK_FALSE(tunio::valid_ifname("..", false));
  CHECK_FALSE(tunio::valid_ifname("a/b", false));
  CHECK_FALSE(tunio::valid_ifname("a:b", false));
  CHECK_FALSE(tunio::valid_ifname("a b", false));
  CHECK_FALSE(tunio::valid_ifname(std::string("a\0b", 3), false));
  CHECK_FALSE(tunio::valid_ifname("tun%d", false, &why));
  CHECK(tunio::valid_ifname("tun%d", true));
  CHECK_FALSE(tunio::valid_ifname("tun%s", true));
  CHECK_FALSE(tunio::valid_ifname("tun%", true));
  CHECK_FALSE(tunio::valid_ifname("t%d%d", true));
}

TEST_CASE("netlink: parse_link_message rejects short and foreign messages") {
  LinkInfo li;
  uint8_t tiny[8] = {};
  CHECK_FALSE(tunio::parse_link_message(tiny, sizeof tiny, &li));
  alignas(4) uint8_t msg[NLMSG_LENGTH(sizeof(ifinfomsg))] = {};
  nlmsghdr* h = reinterpret_cast<nlmsghdr*>(msg);
  h->nlmsg_len = sizeof msg;
  h->nlmsg_type = RTM_NEWADDR;
  CHECK_FALSE(tunio::parse_link_message(msg, sizeof msg, &li));
  h->nlmsg_type = RTM_NEWLINK;
  h->nlmsg_len = sizeof msg + 4;  // claims more than we have
  CHECK_FALSE(tunio::parse_link_message(msg, sizeof msg, &li));
  h->nlmsg_len = sizeof msg;
  reinterpret_cast<ifinfomsg*>(NLMSG_DATA(h))->ifi_index = 42;
  REQUIRE(tunio::parse_link_message(msg, sizeof msg, &li));
  CHECK(li.ifindex == 42);
  CHECK(li.name.empty());
}

TEST_CASE("netlink: configure a tun link and read it back") {
  NetnsTun t("n", "tunio-nl0");
  const int idx = t.tun.ifindex();

  Rtnl nl;
  SysError e = nl.open();
  REQUIRE_MESSAGE(e.ok(), e.message());

  LinkInfo before;
  e = nl.get_link(idx, &before);
  REQUIRE_MESSAGE(e.ok(), e.message());
  CHECK(before.name == "tunio-nl0");
  CHECK(before.kind == "tun");
  CHECK((before.flags & IFF_UP) == 0);
  CHECK(before.mtu == 1500);
  CHECK(before.has_stats);

  e = nl.set_mtu(idx, 1380);
  CHECK_MESSAGE(e.ok(), e.message());
  e = nl.set_txqlen(idx, 2345);
  CHECK_MESSAGE(e.ok(), e.message());
  e = nl.set_up(idx, true);
  CHECK_MESSAGE(e.ok(), e.message());
  for (const char* a : {"10.66.0.1/24", "10.66.1.1/32", "fd66::1/64"}) {
    e = nl.add_address(idx, cidr(a));
    CHECK_MESSAGE(e.ok(), a, ": ", e.message());
  }
  // gso_max_size is settable on a live link since Linux 5.19 (earlier only at creation);
  // report clearly if not, but this 6.x kernel must take a value below tso_max_size.
  e = nl.set_gso_max_size(idx, 32768);
  CHECK_MESSAGE(e.ok(), e.message());
  MESSAGE("set_gso_max_size(32768): " << e.message());

  LinkInfo li;
  e = nl.get_link(idx, &li);
  REQUIRE_MESSAGE(e.ok(), e.message());
  CHECK(li.ifindex == idx);
  CHECK(li.mtu == 1380);
  CHECK(li.txqlen == 2345);
  CHECK((li.flags & IFF_UP) != 0);
  CHECK(li.gso_max_size == 32768);
  CHECK(li.gso_max_segs > 0);
  CHECK(li.tun.present);
  CHECK(li.tun.type == IFF_TUN);
  CHECK(li.tun.vnet_hdr);
  CHECK_FALSE(li.tun.multi_queue);
  CHECK_FALSE(li.tun.persist);

  LinkInfo by_name;
  e = nl.get_link_by_name("tunio-nl0", &by_name);
  REQUIRE_MESSAGE(e.ok(), e.message());
  CHECK(by_name.ifindex == idx);
  e = nl.get_link_by_name("tunio-nope", &by_name);
  CHECK(e.err == ENODEV);
  CHECK(std::string(e.call) == "RTM_GETLINK");

  std::vector<tunio::AddressInfo> addrs;
  e = nl.list_addresses(idx, &addrs);
  REQUIRE_MESSAGE(e.ok(), e.message());
  std::vector<std::string> got;
  for (const auto& a : addrs) got.push_back(tunio::format_cidr(a.cidr));
  auto has = [&](const std::string& s) {
    for (const auto& g : got) if (g == s) return true;
    return false;
  };
  CAPTURE(got.size());
  CHECK(has("10.66.0.1/24"));
  CHECK(has("10.66.1.1/32"));
  CHECK(has("fd66::1/64"));
  for (const auto& a : addrs)
    if (a.cidr.family == 6 && a.cidr.addr[0] == 0xfd) CHECK((a.flags & IFA_F_NODAD) != 0);

  // Cross-check with iproute2 so we are not only agreeing with our own parser.
  const std::string link = run_command("ip -n " + t.ns.name() + " -d -j link show dev tunio-nl0");
  CAPTURE(link);
  CHECK(contains(link, "\"mtu\":1380"));
  CHECK(contains(link, "\"txqlen\":2345"));
  CHECK(contains(link, "\"gso_max_size\":32768"));
  CHECK(contains(link, "\"UP\""));
  const std::string addr = run_command("ip -n " + t.ns.name() + " -j addr show dev tunio-nl0");
  CAPTURE(addr);
  CHECK(contains(addr, "\"local\":\"10.66.0.1\",\"prefixlen\":24"));
  CHECK(contains(addr, "\"local\":\"10.66.1.1\",\"prefixlen\":32"));
  CHECK(contains(addr, "\"local\":\"fd66::1\",\"prefixlen\":64"));
  CHECK_FALSE(contains(addr, "tentative"));  // NODAD: usable at once

  // Remove one address and bring the link down again.
  e = nl.del_address(idx, cidr("10.66.1.1/32"));
  CHECK_MESSAGE(e.ok(), e.message());
  e = nl.set_up(idx, false);
  CHECK_MESSAGE(e.ok(), e.message());
  e = nl.get_link(idx, &li);
  REQUIRE(e.ok());
  CHECK((li.flags & IFF_UP) == 0);
  CHECK(li.mtu == 1380);  // set_up(false) touched only IFF_UP
  e = nl.list_addresses(idx, &addrs);
  REQUIRE(e.ok());
  for (const auto& a : addrs) CHECK(tunio::format_cidr(a.cidr) != "10.66.1.1/32");
}

TEST_CASE("netlink: failures carry errno, operation and the kernel's reason") {
  NetnsTun t("n", "tunio-nl1");
  const tunio::TunDevice& tun = t.tun;
  Rtnl nl;
  REQUIRE(nl.open().ok());
  SysError e;

  Rtnl closed;
  e = closed.set_mtu(tun.ifindex(), 1400);
  CHECK(e.err == EBADF);

  // An ifindex nobody has.
  e = nl.set_mtu(0x7ffffff0, 1400);
  CHECK(e.err == ENODEV);
  CHECK(std::string(e.call) == "RTM_NEWLINK(IFLA_MTU)");
  CHECK(contains(e.message(), "RTM_NEWLINK(IFLA_MTU): "));

  // Below the minimum MTU of a tun (68): rejected with EINVAL and an extack reason.
  e = nl.set_mtu(tun.ifindex(), 20);
  CHECK(e.err == EINVAL);
  MESSAGE("mtu 20: " << e.message());

  // Above the device's tso_max_size (64 KiB for tun).
  e = nl.set_gso_max_size(tun.ifindex(), 1u << 20);
  CHECK(e.err == EINVAL);
  CHECK(std::string(e.call) == "RTM_NEWLINK(IFLA_GSO_MAX_SIZE)");
  CHECK_FALSE(e.detail.empty());
  MESSAGE("gso_max_size 1 MiB: " << e.message());

  e = nl.add_address(tun.ifindex(), cidr("10.67.0.1/24"));
  REQUIRE_MESSAGE(e.ok(), e.message());
  e = nl.add_address(tun.ifindex(), cidr("10.67.0.1/24"));
  CHECK(e.err == EEXIST);
  CHECK(std::string(e.call) == "RTM_NEWADDR");
  CHECK(contains(e.message(), "10.67.0.1/24"));

  Cidr none;
  e = nl.add_address(tun.ifindex(), none);
  CHECK(e.err == EAFNOSUPPORT);

  // The socket stays usable after errors (acks were consumed in order).
  LinkInfo li;
  e = nl.get_link(tun.ifindex(), &li);
  CHECK_MESSAGE(e.ok(), e.message());
  CHECK(li.name == "tunio-nl1");
}
