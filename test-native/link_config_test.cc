// The link configuration step list (core/link_config.*) run for real on a TUN device in a
// throwaway network namespace; what it did is read back with iproute2 (`ip -j`), not with
// tunio's own netlink parser.
#include <doctest.h>

#include <string>
#include <vector>

#include "link_config.h"
#include "netns.h"

using tunio::Cidr;
using tunio::LinkConfig;
using tunio::LinkConfigResult;

namespace {

std::vector<Cidr> cidrs(std::initializer_list<const char*> texts) {
  std::vector<Cidr> out;
  for (const char* text : texts) {
    std::string why;
    out.emplace_back();
    REQUIRE_MESSAGE(tunio::parse_cidr(text, &out.back(), &why), why);
  }
  return out;
}

// `ip -j` output for the link and its addresses, as the kernel reports them.
std::string ip_link(const TestNetns& ns, const char* dev) {
  return run_command("ip -n " + ns.name() + " -d -j link show dev " + dev + " 2>/dev/null");
}
std::string ip_addr(const TestNetns& ns, const char* dev) {
  return run_command("ip -n " + ns.name() + " -j addr show dev " + dev + " 2>/dev/null");
}

}  // namespace

TEST_CASE("link_config: default_gso_max_size fits the split segments in one UDP_SEGMENT send") {
  struct Row {
    uint32_t mtu;
    uint32_t expected;  // (65507 / mtu) segments of (mtu - 80) payload, plus 80 bytes of headers
  } rows[] = {
      {1420, 46 * 1340 + 80},  // 61,720: the "about 62,000 bytes at MTU 1420" of lib/tun.ts
      {1500, 43 * 1420 + 80},
      {9000, 7 * 8920 + 80},
      {0, 113 * 496 + 80},     // below 576 counts as 576
      {68, 113 * 496 + 80},
  };
  for (const Row& row : rows) {
    CAPTURE(row.mtu);
    CHECK(tunio::default_gso_max_size(row.mtu) == row.expected);
    CHECK(tunio::default_gso_max_size(row.mtu) <= 65536);  // the tun device's tso_max_size
  }
}

TEST_CASE("link_config: the steps configure the link as the kernel then reports it") {
  struct Row {
    const char* name;
    LinkConfig config;
    uint32_t gso_max_size;  // expected on the link (with TSO); 0: the kernel's own
    bool up;
  };
  LinkConfig everything;
  everything.mtu = 1400;
  everything.txqueuelen = 777;
  everything.gso_max_size = 32768;
  everything.addresses = cidrs({"10.70.0.1/24", "10.70.1.1/32", "fd70::1/64"});
  LinkConfig mtu_only_down;
  mtu_only_down.mtu = 1420;
  mtu_only_down.up = false;
  LinkConfig nothing_asked;  // up only; gso_max_size defaults from the kernel's MTU (1500)
  const Row rows[] = {
      {"everything asked, explicit gso_max_size", everything, 32768, true},
      {"MTU only, left down, default gso_max_size", mtu_only_down, tunio::default_gso_max_size(1420), false},
      {"nothing asked: up, default gso_max_size of MTU 1500", nothing_asked, tunio::default_gso_max_size(1500), true},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    NetnsTun t("lc", "tunio-lc0");
    const bool tso = t.tun.offload().tso4;
    const LinkConfigResult r = tunio::configure_link(t.tun.ifindex(), tso, row.config);
    REQUIRE_MESSAGE(r.error.ok(), r.failed_step, ": ", r.error.message());
    CHECK(r.failed_step == nullptr);
    CHECK(r.gso_max_size_error.empty());
    CHECK(r.gso_max_size == (tso ? row.gso_max_size : 0));

    const std::string link = ip_link(t.ns, "tunio-lc0");
    CAPTURE(link);
    const uint32_t mtu = row.config.mtu ? row.config.mtu : 1500;
    CHECK(contains(link, "\"mtu\":" + std::to_string(mtu) + ","));
    if (row.config.txqueuelen) CHECK(contains(link, "\"txqlen\":" + std::to_string(row.config.txqueuelen) + ","));
    if (tso) CHECK(contains(link, "\"gso_max_size\":" + std::to_string(row.gso_max_size) + ","));
    CHECK(contains(link, "\"UP\"") == row.up);

    const std::string addr = ip_addr(t.ns, "tunio-lc0");
    CAPTURE(addr);
    for (const Cidr& c : row.config.addresses) {
      const std::string text = tunio::format_cidr(c);
      const size_t slash = text.find('/');
      CHECK(contains(addr, "\"local\":\"" + text.substr(0, slash) + "\",\"prefixlen\":" + text.substr(slash + 1)));
    }
  }
}

TEST_CASE("link_config: an address the kernel refuses stops the steps; closing the device removes the link") {
  // MTU 1000 is below IPv6's minimum (1280): the kernel takes the MTU, drops IPv6 from the
  // link, and then refuses the IPv6 address (the order's first reason, link_config.cc).
  NetnsTun t("lc", "tunio-lc1");
  LinkConfig config;
  config.mtu = 1000;
  config.txqueuelen = 555;
  config.addresses = cidrs({"10.71.0.1/24", "fd71::1/64", "10.71.1.1/24"});
  const LinkConfigResult r = tunio::configure_link(t.tun.ifindex(), t.tun.offload().tso4, config);
  MESSAGE("refused: " << r.error.message());
  CHECK(r.error.err == EINVAL);
  CHECK(std::string(r.error.call) == "RTM_NEWADDR");
  REQUIRE(r.failed_step != nullptr);
  CHECK(std::string(r.failed_step) == "addresses");

  // The steps before it stayed applied, the ones after it did not run: the link is down.
  const std::string link = ip_link(t.ns, "tunio-lc1");
  CAPTURE(link);
  CHECK(contains(link, "\"mtu\":1000,"));
  CHECK(contains(link, "\"txqlen\":555,"));
  CHECK_FALSE(contains(link, "\"UP\""));
  const std::string addr = ip_addr(t.ns, "tunio-lc1");
  CAPTURE(addr);
  CHECK(contains(addr, "\"local\":\"10.71.0.1\",\"prefixlen\":24"));
  CHECK_FALSE(contains(addr, "fd71::1"));
  CHECK_FALSE(contains(addr, "10.71.1.1"));

  // The cleanup TunWrap does on this error: close the device. It was created here and is not
  // persistent, so the kernel removes the link with its last queue fd.
  t.tun.close();
  CHECK(ip_link(t.ns, "tunio-lc1").empty());
  CHECK(contains(run_command("ip -n " + t.ns.name() + " -j link show"), "\"ifname\":\"lo\""));  // ip itself works
}

TEST_CASE("link_config: a link that is not there fails at the first step asked for") {
  TestNetns ns("lc");
  REQUIRE_MESSAGE(ns.ok(), "cannot create a test network namespace (need root)");
  LinkConfig config;
  config.txqueuelen = 100;
  const LinkConfigResult r = tunio::configure_link(0x7ffffff0, true, config);
  CHECK(r.error.err == ENODEV);
  REQUIRE(r.failed_step != nullptr);
  CHECK(std::string(r.failed_step) == "txqueuelen");  // mtu was not asked for: no request made
  CHECK(std::string(r.error.call) == "RTM_NEWLINK(IFLA_TXQLEN)");
}
