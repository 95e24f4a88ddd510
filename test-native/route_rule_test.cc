// Routes and rules (route_rule.h): the pure checks and message round trips run anywhere; the
// kernel tests run as root inside a throwaway network namespace and read every change back
// with our own dump parser and with `ip -j` (so we are not only agreeing with ourselves).
#include <doctest.h>

#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>

#include <string>
#include <vector>

#include "netlink.h"
#include "netns.h"
#include "route_rule.h"
#include "tun_device.h"

using tunio::Cidr;
using tunio::SysError;
using tunio::RouteSpec;
using tunio::RouteType;
using tunio::RuleSpec;

namespace {


// wg-quick's rule: `not fwmark 0xca6c table 51820` (IPv4), the priority left to the kernel.
RuleSpec not_fwmark_rule() {
  RuleSpec r;
  r.family = 4;
  r.has_fwmark = true;
  r.fwmark = 0xca6c;
  r.invert = true;
  r.table = 51820;
  return r;
}

Cidr net(const char* s) {
  Cidr c;
  std::string why;
  REQUIRE_MESSAGE(tunio::parse_cidr(s, &c, &why), why);
  return c;
}

void gateway(RouteSpec* r, const char* ip) {
  std::string why;
  REQUIRE_MESSAGE(tunio::parse_ip(ip, r->to.family, r->via, &r->via_family, &why), why);
}

std::string route_problem(const RouteSpec& r) {
  std::string option, why;
  return tunio::check_route(r, &option, &why) ? "" : option + ": " + why;
}

std::string rule_problem(const RuleSpec& r) {
  std::string option, why;
  return tunio::check_rule(r, &option, &why) ? "" : option + ": " + why;
}

}  // namespace

TEST_CASE("routes: check_route names the option and the reason") {
  RouteSpec r;
  r.to = net("10.0.0.0/8");
  CHECK(route_problem(r) == "dev: a unicast route needs a device (dev) or a gateway (via)");
  r.oif = 3;
  CHECK(route_problem(r).empty());
  r.to = net("10.0.0.1/8");
  CHECK(route_problem(r) == "to: 10.0.0.1/8 has host bits set (the network is 10.0.0.0/8)");
  r.to = net("fd00::1/64");
  CHECK(contains(route_problem(r), "the network is fd00::/64"));
  r.to = net("0.0.0.0/0");
  gateway(&r, "10.8.0.2");
  CHECK(route_problem(r).empty());
  r.via_family = 6;
  CHECK(contains(route_problem(r), "via: gateway"));
  r.via_family = 0;
  r.type = RouteType::kBlackhole;
  CHECK(route_problem(r) == "dev: a blackhole route has no device");
  r.oif = 0;
  CHECK(route_problem(r).empty());
  gateway(&r, "10.8.0.2");
  CHECK(route_problem(r) == "via: a blackhole route has no gateway");
  r.via_family = 0;
  r.table = 0;
  CHECK(contains(route_problem(r), "table: 0 is not a routing table"));

  uint8_t addr[16];
  uint8_t family = 0;
  std::string why;
  CHECK_FALSE(tunio::parse_ip("fd00::1", 4, addr, &family, &why));
  CHECK(why == "'fd00::1' is not an IPv4 address (without /prefix or %zone)");
  CHECK_FALSE(tunio::parse_ip("10.0.0.1/32", 0, addr, &family));
  CHECK_FALSE(tunio::parse_ip("fe80::1%eth0", 0, addr, &family));
  CHECK(tunio::parse_ip("fe80::1", 0, addr, &family));
  CHECK(family == 6);
}

TEST_CASE("rules: check_rule names the option and the reason") {
  RuleSpec r;
  CHECK(rule_problem(r) == "family: must be 4 or 6");
  r.family = 4;
  CHECK(rule_problem(r).empty());
  r.has_fwmask = true;
  CHECK(rule_problem(r) == "fwmask: needs fwmark");
  r.has_fwmark = true;
  CHECK(rule_problem(r).empty());
  r.has_suppress_prefixlen = true;
  r.suppress_prefixlen = 33;
  CHECK(rule_problem(r) == "suppressPrefixLength: must be 0..32 for IPv4");
  r.family = 6;
  CHECK(rule_problem(r).empty());
  r.from = net("10.0.0.0/8");
  CHECK(rule_problem(r) == "from: 10.0.0.0/8 is IPv4 but the rule is IPv6");
  r.family = 4;
  r.to = net("10.1.2.3/16");
  CHECK(rule_problem(r) == "to: 10.1.2.3/16 has host bits set (the network is 10.1.0.0/16)");
}

TEST_CASE("routes: messages carry every key and parse back to the same spec") {
  RouteSpec r;
  r.to = net("10.50.0.0/16");
  gateway(&r, "10.9.0.2");
  r.oif = 7;
  r.table = 51820;  // above 255: only RTA_TABLE can carry it
  r.has_metric = true;
  r.metric = 42;
  std::vector<uint8_t> m = tunio::route_message(RTM_NEWROUTE, NLM_F_CREATE, r);
  REQUIRE(m.size() > sizeof(nlmsghdr) + sizeof(rtmsg));
  const rtmsg* rtm = reinterpret_cast<const rtmsg*>(m.data() + NLMSG_HDRLEN);
  CHECK(rtm->rtm_table == RT_TABLE_UNSPEC);
  CHECK(rtm->rtm_scope == RT_SCOPE_UNIVERSE);  // via a gateway
  CHECK(rtm->rtm_protocol == tunio::kRouteProtocolStatic);
  RouteSpec back;
  REQUIRE(tunio::parse_route_message(m.data(), m.size(), &back));
  CHECK(tunio::describe_route(back) == "10.50.0.0/16 via 10.9.0.2 dev 7 table 51820 metric 42");
  CHECK(back.protocol == tunio::kRouteProtocolStatic);

  RouteSpec dev_route;
  dev_route.to = net("0.0.0.0/0");
  dev_route.oif = 3;
  dev_route.table = 100;
  m = tunio::route_message(RTM_NEWROUTE, 0, dev_route);
  rtm = reinterpret_cast<const rtmsg*>(m.data() + NLMSG_HDRLEN);
  CHECK(rtm->rtm_scope == RT_SCOPE_LINK);  // on-link, as `ip route add default dev X` sets
  CHECK(rtm->rtm_table == 100);
  REQUIRE(tunio::parse_route_message(m.data(), m.size(), &back));
  CHECK(tunio::describe_route(back) == "default (0.0.0.0/0) dev 3 table 100");
  m = tunio::route_message(RTM_DELROUTE, 0, dev_route);
  rtm = reinterpret_cast<const rtmsg*>(m.data() + NLMSG_HDRLEN);
  CHECK(rtm->rtm_scope == RT_SCOPE_NOWHERE);

  RouteSpec v6;
  v6.to = net("::/0");
  v6.type = RouteType::kUnreachable;
  m = tunio::route_message(RTM_NEWROUTE, 0, v6);
  REQUIRE(tunio::parse_route_message(m.data(), m.size(), &back));
  CHECK(tunio::describe_route(back) == "unreachable default (::/0) table main");

  // Truncated or foreign bytes never parse (and never read past the end).
  m = tunio::route_message(RTM_NEWROUTE, 0, r);
  for (size_t cut = 0; cut < NLMSG_LENGTH(sizeof(rtmsg)); cut++) CHECK_FALSE(tunio::parse_route_message(m.data(), cut, &back));
  std::vector<uint8_t> shorter(m.begin(), m.end() - 4);
  CHECK_FALSE(tunio::parse_route_message(shorter.data(), shorter.size(), &back));  // nlmsg_len > len
  reinterpret_cast<nlmsghdr*>(m.data())->nlmsg_type = RTM_NEWLINK;
  CHECK_FALSE(tunio::parse_route_message(m.data(), m.size(), &back));
}

TEST_CASE("rules: messages carry every selector and parse back to the same spec") {
  RuleSpec r = not_fwmark_rule();
  r.has_priority = true;
  r.priority = 32765;
  std::vector<uint8_t> m = tunio::rule_message(RTM_NEWRULE, 0, r);
  const fib_rule_hdr* frh = reinterpret_cast<const fib_rule_hdr*>(m.data() + NLMSG_HDRLEN);
  CHECK(frh->action == FR_ACT_TO_TBL);
  CHECK(frh->flags == FIB_RULE_INVERT);
  RuleSpec back;
  REQUIRE(tunio::parse_rule_message(m.data(), m.size(), &back));
  CHECK(tunio::describe_rule(back) == "IPv4 rule priority 32765 not fwmark 0xca6c table 51820");

  RuleSpec s;
  s.family = 6;
  s.table = tunio::kTableMain;
  s.has_suppress_prefixlen = true;
  s.suppress_prefixlen = 0;
  s.from = net("fd08::/64");
  m = tunio::rule_message(RTM_NEWRULE, 0, s);
  REQUIRE(tunio::parse_rule_message(m.data(), m.size(), &back));
  CHECK(tunio::describe_rule(back) == "IPv6 rule from fd08::/64 table main suppress_prefixlength 0");
  for (size_t cut = 0; cut < NLMSG_LENGTH(sizeof(fib_rule_hdr)); cut++) CHECK_FALSE(tunio::parse_rule_message(m.data(), cut, &back));
}

TEST_CASE("routes and rules against the kernel: add, read back, exact delete, errno") {
  NetnsTun t("r", "tunio-rt0");
  const tunio::TunDevice& tun = t.tun;
  SysError e;
  tunio::Rtnl nl;
  REQUIRE(nl.open().ok());
  REQUIRE(nl.set_up(tun.ifindex(), true).ok());
  REQUIRE(nl.add_address(tun.ifindex(), net("10.9.0.1/24")).ok());
  REQUIRE(nl.add_address(tun.ifindex(), net("fd09::1/64")).ok());

  // A device route and a gateway route in table 100, a default route in table 51820.
  RouteSpec dev_route;
  dev_route.to = net("10.50.0.0/16");
  dev_route.oif = tun.ifindex();
  dev_route.table = 100;
  RouteSpec dev_stored, stored;
  e = tunio::add_route(nl, dev_route, &dev_stored);
  REQUIRE_MESSAGE(e.ok(), e.message());
  CHECK(dev_stored.oif == tun.ifindex());
  CHECK(dev_stored.table == 100);
  e = tunio::add_route(nl, dev_route, &stored);
  CHECK(e.err == EEXIST);
  CHECK(std::string(e.call) == "RTM_NEWROUTE");
  CHECK(contains(e.message(), "10.50.0.0/16 dev"));

  RouteSpec via;
  via.to = net("0.0.0.0/0");
  gateway(&via, "10.9.0.2");
  via.table = 51820;
  RouteSpec via_stored;
  e = tunio::add_route(nl, via, &via_stored);
  REQUIRE_MESSAGE(e.ok(), e.message());
  CHECK(via_stored.oif == tun.ifindex());  // the kernel found the gateway's device
  RouteSpec far = via;
  gateway(&far, "192.0.2.1");
  far.table = 51821;
  e = tunio::add_route(nl, far, &stored);
  CHECK(e.err == ENETUNREACH);

  RouteSpec v6;
  v6.to = net("fd50::/64");
  v6.oif = tun.ifindex();
  v6.table = 100;
  RouteSpec v6_stored;
  e = tunio::add_route(nl, v6, &v6_stored);
  REQUIRE_MESSAGE(e.ok(), e.message());
  CHECK(v6_stored.has_metric);
  CHECK(v6_stored.metric == 1024);  // the kernel's default for IPv6, learned from the echo

  RouteSpec hole;
  hole.to = net("10.60.0.0/16");
  hole.type = RouteType::kBlackhole;
  hole.table = 100;
  RouteSpec hole_stored;
  e = tunio::add_route(nl, hole, &hole_stored);
  REQUIRE_MESSAGE(e.ok(), e.message());

  std::string ip4 = run_command("ip -j route show table 100");
  CHECK(contains(ip4, "\"dst\":\"10.50.0.0/16\",\"dev\":\"tunio-rt0\""));
  CHECK(contains(ip4, "\"type\":\"blackhole\",\"dst\":\"10.60.0.0/16\""));
  CHECK(contains(run_command("ip -j route show table 51820"), "\"dst\":\"default\",\"gateway\":\"10.9.0.2\""));
  CHECK(contains(run_command("ip -6 -j route show table 100"), "\"dst\":\"fd50::/64\""));
  std::vector<RouteSpec> listed;
  REQUIRE(tunio::list_routes(nl, 4, 100, &listed).ok());
  CHECK(listed.size() == 2);

  // Rules: someone else's rule with the same selectors stays when ours is deleted.
  REQUIRE(run_command("ip rule add not fwmark 0xca6c table 51820 pref 100 && echo ok") == "ok\n");
  const RuleSpec rule = not_fwmark_rule();
  RuleSpec rule_stored;
  e = tunio::add_rule(nl, rule, &rule_stored);
  REQUIRE_MESSAGE(e.ok(), e.message());
  REQUIRE(rule_stored.has_priority);
  CHECK(rule_stored.priority != 100);
  CHECK(rule_stored.invert);
  CHECK(rule_stored.fwmark == 0xca6c);
  RuleSpec suppress;
  suppress.family = 4;
  suppress.table = tunio::kTableMain;
  suppress.has_suppress_prefixlen = true;
  suppress.suppress_prefixlen = 0;
  RuleSpec suppress_stored;
  e = tunio::add_rule(nl, suppress, &suppress_stored);
  REQUIRE_MESSAGE(e.ok(), e.message());
  CHECK(suppress_stored.has_suppress_prefixlen);
  std::string rules = run_command("ip -j rule show");
  CHECK(contains(rules, "\"priority\":" + std::to_string(rule_stored.priority) + ",\"not\":null,\"src\":\"all\",\"fwmark\":\"0xca6c\",\"table\":\"51820\""));
  CHECK(contains(rules, "\"table\":\"main\",\"suppress_prefixlen\":0"));
  std::vector<RuleSpec> rule_list;
  REQUIRE(tunio::list_rules(nl, 4, &rule_list).ok());
  int ours = 0;
  for (const RuleSpec& r : rule_list) ours += r.has_fwmark && r.fwmark == 0xca6c;
  CHECK(ours == 2);

  CHECK(tunio::delete_rule(nl, rule_stored).ok());
  CHECK(tunio::delete_rule(nl, suppress_stored).ok());
  e = tunio::delete_rule(nl, rule_stored);
  CHECK(e.err == ENOENT);
  CHECK(std::string(e.call) == "RTM_DELRULE");
  rules = run_command("ip -j rule show");
  CHECK(contains(rules, "\"priority\":100,\"not\":null"));  // the other rule stayed
  CHECK_FALSE(contains(rules, "suppress_prefixlen"));

  // Deletes match on every stored key: the route of another protocol stays.
  REQUIRE(run_command("ip route add 10.70.0.0/16 dev tunio-rt0 table 100 proto boot && echo ok") == "ok\n");
  RouteSpec other = dev_route;
  other.to = net("10.70.0.0/16");
  e = tunio::delete_route(nl, other);  // protocol static (ours): does not match proto boot
  CHECK(e.err == ESRCH);
  CHECK(tunio::delete_route(nl, hole_stored).ok());
  CHECK(tunio::delete_route(nl, via_stored).ok());
  CHECK(tunio::delete_route(nl, v6_stored).ok());
  CHECK(tunio::delete_route(nl, dev_stored).ok());
  e = tunio::delete_route(nl, dev_stored);
  CHECK(e.err == ESRCH);
  ip4 = run_command("ip -j route show table 100");
  CHECK_FALSE(contains(ip4, "10.50.0.0"));
  CHECK_FALSE(contains(ip4, "10.60.0.0"));
  CHECK(contains(ip4, "10.70.0.0/16"));
  CHECK(run_command("ip -j route show table 51820") == "[]\n");
}
