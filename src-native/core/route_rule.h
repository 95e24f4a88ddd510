// Routes and policy rules over rtnetlink (RTM_NEWROUTE/RTM_DELROUTE, RTM_NEWRULE/RTM_DELRULE):
// what `ip route` and `ip rule` do for a full-tunnel VPN (wg-quick's set: a default route in
// its own table, `not fwmark M table T`, `table main suppress_prefixlength 0`), without the
// `ip` command. See docs/netlink.md.
//
// The message building and parsing are pure functions (unit-tested with canned bytes); the
// Rtnl functions send them and wait for the kernel's ack. An add asks the kernel to echo what
// it stored (NLM_F_ECHO), so the caller learns the priority or metric the kernel chose and can
// later delete exactly that entry and nothing else.
//
// No Node headers, no exceptions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "netlink.h"

namespace tunio {

// rtm_type values (RTN_*), the route types tunio offers.
enum class RouteType : uint8_t { kUnicast = 1, kBlackhole = 6, kUnreachable = 7, kProhibit = 8 };

constexpr uint32_t kTableMain = 254;   // RT_TABLE_MAIN
constexpr uint32_t kRouteProtocolStatic = 4;  // RTPROT_STATIC: "added by an administrator"

struct RouteSpec {
  Cidr to;                      // destination network (family and prefix); no host bits set
  uint8_t via_family = 0;       // RTA_GATEWAY: 4 or 6; 0: no gateway
  uint8_t via[16] = {};
  uint8_t src_family = 0;       // RTA_PREFSRC (the source for connections it starts); 0: none
  uint8_t src[16] = {};
  int oif = 0;                  // RTA_OIF; 0: none (the kernel finds the gateway's device)
  uint32_t table = kTableMain;  // RTA_TABLE (any 32-bit table id but 0)
  bool has_metric = false;      // RTA_PRIORITY; without it IPv4 uses 0 and IPv6 1024
  uint32_t metric = 0;
  RouteType type = RouteType::kUnicast;
  // RTPROT_*. Adds use kRouteProtocolStatic; a delete with 0 matches any protocol.
  uint8_t protocol = kRouteProtocolStatic;
};

struct RuleSpec {
  uint8_t family = 0;           // 4 or 6: a rule belongs to one address family
  bool has_priority = false;    // FRA_PRIORITY; without it the kernel picks one
  uint32_t priority = 0;
  bool has_fwmark = false;      // FRA_FWMARK
  uint32_t fwmark = 0;
  bool has_fwmask = false;      // FRA_FWMASK (the kernel assumes 0xffffffff with a mark)
  uint32_t fwmask = 0;
  uint32_t table = kTableMain;  // FRA_TABLE, action FR_ACT_TO_TBL
  bool invert = false;          // FIB_RULE_INVERT: `ip rule add not ...`
  bool has_suppress_prefixlen = false;  // FRA_SUPPRESS_PREFIXLEN
  uint32_t suppress_prefixlen = 0;
  Cidr from;                    // FRA_SRC selector; family 0: none
  Cidr to;                      // FRA_DST selector; family 0: none
};

// A plain address without prefix ("10.8.0.1", "fd08::1"). Zones are refused.
bool parse_ip(const std::string& text, uint8_t family_hint, uint8_t out[16], uint8_t* family,
              std::string* why = nullptr);

// Checks a spec before anything is sent. On failure names the option ("to", "via", "src",
// "dev", "type", "from", "fwmask", ...) and says why, ready for ERR_TUNIO_INVALID_OPTION.
bool check_route(const RouteSpec& r, std::string* option, std::string* why);
bool check_rule(const RuleSpec& r, std::string* option, std::string* why);

// The request for RTM_NEWROUTE/RTM_DELROUTE (`msg_type`) with extra nlmsg `flags`; empty
// when it does not fit (cannot happen with valid specs). Deletes use scope RT_SCOPE_NOWHERE
// (any scope matches) and carry every key the add carried, so only the same entry matches.
std::vector<uint8_t> route_message(uint16_t msg_type, uint16_t flags, const RouteSpec& r);
std::vector<uint8_t> rule_message(uint16_t msg_type, uint16_t flags, const RuleSpec& r);

// Parses one RTM_NEWROUTE / RTM_NEWRULE message (header included), e.g. an echo or a dump
// entry. False when it is not one or is malformed (bounds-checked, never reads past `len`).
bool parse_route_message(const uint8_t* msg, size_t len, RouteSpec* out);
bool parse_rule_message(const uint8_t* msg, size_t len, RuleSpec* out);

// "10.0.0.0/8 via 10.8.0.2 dev 5 table 51820 metric 10" / "not fwmark 0xca6c table 51820
// priority 32765": for error messages and tests.
std::string describe_route(const RouteSpec& r);
std::string describe_rule(const RuleSpec& r);

// Adds with NLM_F_CREATE | NLM_F_EXCL (an existing identical entry is EEXIST, never silently
// shared) and NLM_F_ECHO; `*stored` is the entry as the kernel stored it (its chosen metric or
// priority), or the spec itself when the kernel did not echo.
SysError add_route(Rtnl& nl, const RouteSpec& r, RouteSpec* stored);
SysError delete_route(Rtnl& nl, const RouteSpec& r);
SysError add_rule(Rtnl& nl, const RuleSpec& r, RuleSpec* stored);
SysError delete_rule(Rtnl& nl, const RuleSpec& r);
// Dumps (for tests and diagnostics): every route of `family` in `table`, every rule of `family`.
SysError list_routes(Rtnl& nl, uint8_t family, uint32_t table, std::vector<RouteSpec>* out);
SysError list_rules(Rtnl& nl, uint8_t family, std::vector<RuleSpec>* out);

}  // namespace tunio
