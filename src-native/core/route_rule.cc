// Routes and rules over rtnetlink; see route_rule.h and docs/netlink.md.
#include "route_rule.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#include <cstdio>

#include "netlink_message.h"

namespace tunio {

namespace {

size_t addr_len(uint8_t family) { return family == 4 ? 4 : 16; }
uint8_t af(uint8_t family) { return family == 4 ? AF_INET : AF_INET6; }

std::string format_ip(uint8_t family, const uint8_t* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family != 4 && family != 6) return "<none>";
  inet_ntop(af(family), addr, buf, sizeof buf);
  return buf;
}

// The first address of the network, as `ip` would print the destination.
Cidr network_of(const Cidr& c) {
  Cidr n = c;
  const size_t len = addr_len(c.family);
  for (size_t i = 0; i < len; i++) {
    const int bits = int(c.prefix) - int(i * 8);
    const uint8_t mask = bits >= 8 ? 0xff : bits <= 0 ? 0 : uint8_t(0xff << (8 - bits));
    n.addr[i] = uint8_t(c.addr[i] & mask);
  }
  return n;
}

bool has_host_bits(const Cidr& c) { return memcmp(network_of(c).addr, c.addr, 16) != 0; }

std::string table_name(uint32_t t) {
  if (t == 254) return "main";
  if (t == 255) return "local";
  if (t == 253) return "default";
  return std::to_string(t);
}

const char* type_name(RouteType t) {
  switch (t) {
    case RouteType::kUnicast: return "unicast";
    case RouteType::kBlackhole: return "blackhole";
    case RouteType::kUnreachable: return "unreachable";
    case RouteType::kProhibit: return "prohibit";
  }
  return "?";
}

bool known_type(uint8_t t) { return t == 1 || t == 6 || t == 7 || t == 8; }

bool check_selector(const Cidr& c, uint8_t family, const char* name, std::string* option,
                    std::string* why) {
  if (c.family == 0) return true;
  if (c.family != family) {
    *option = name;
    *why = format_cidr(c) + " is IPv" + std::to_string(c.family) + " but the rule is IPv" +
           std::to_string(family);
    return false;
  }
  if (has_host_bits(c)) {
    *option = name;
    *why = format_cidr(c) + " has host bits set (the network is " + format_cidr(network_of(c)) + ")";
    return false;
  }
  return true;
}

std::vector<uint8_t> to_vector(const nl::Request& r) {
  if (r.len == 0 || reinterpret_cast<const nlmsghdr*>(r.buf)->nlmsg_len == 0) return {};
  return std::vector<uint8_t>(r.buf, r.buf + r.len);
}

// A rule's FRA_SRC/FRA_DST selector with the prefix length from the rule header; ignored when
// the attribute is shorter than an address of the family.
void read_selector(const rtattr* a, uint8_t family, uint8_t prefix, Cidr* out) {
  const size_t alen = addr_len(family);
  if (RTA_PAYLOAD(a) < alen) return;
  out->family = family;
  out->prefix = prefix;
  memcpy(out->addr, RTA_DATA(a), alen);
}

}  // namespace

bool parse_ip(const std::string& text, uint8_t family_hint, uint8_t out[16], uint8_t* family,
              std::string* why) {
  uint8_t buf[16] = {};
  if (family_hint != 6 && inet_pton(AF_INET, text.c_str(), buf) == 1) {
    memcpy(out, buf, 16);
    *family = 4;
    return true;
  }
  if (family_hint != 4 && inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    memcpy(out, buf, 16);
    *family = 6;
    return true;
  }
  if (why) {
    *why = "'" + text + "' is not an " +
           (family_hint == 4 ? "IPv4" : family_hint == 6 ? "IPv6" : "IPv4 or IPv6") +
           " address (without /prefix or %zone)";
  }
  return false;
}

bool check_route(const RouteSpec& r, std::string* option, std::string* why) {
  auto fail = [&](const char* o, const std::string& w) { *option = o; *why = w; return false; };
  if (r.to.family != 4 && r.to.family != 6) return fail("to", "must be an IPv4 or IPv6 network");
  if (has_host_bits(r.to))
    return fail("to", format_cidr(r.to) + " has host bits set (the network is " +
                          format_cidr(network_of(r.to)) + ")");
  if (r.via_family != 0 && r.via_family != r.to.family)
    return fail("via", "gateway " + format_ip(r.via_family, r.via) + " is not of the family of " +
                           format_cidr(r.to));
  if (r.src_family != 0 && r.src_family != r.to.family)
    return fail("src", format_ip(r.src_family, r.src) + " is not of the family of " + format_cidr(r.to));
  if (r.table == 0) return fail("table", "0 is not a routing table (RT_TABLE_UNSPEC)");
  if (!known_type(uint8_t(r.type))) return fail("type", "unknown route type");
  if (r.type != RouteType::kUnicast) {
    const std::string t = type_name(r.type);
    if (r.via_family != 0) return fail("via", "a " + t + " route has no gateway");
    if (r.oif != 0) return fail("dev", "a " + t + " route has no device");
    if (r.src_family != 0) return fail("src", "a " + t + " route has no source address");
  } else if (r.oif == 0 && r.via_family == 0) {
    return fail("dev", "a unicast route needs a device (dev) or a gateway (via)");
  }
  if (r.oif < 0) return fail("dev", "interface index must be positive");
  return true;
}

bool check_rule(const RuleSpec& r, std::string* option, std::string* why) {
  auto fail = [&](const char* o, const std::string& w) { *option = o; *why = w; return false; };
  if (r.family != 4 && r.family != 6) return fail("family", "must be 4 or 6");
  if (!check_selector(r.from, r.family, "from", option, why)) return false;
  if (!check_selector(r.to, r.family, "to", option, why)) return false;
  if (r.has_fwmask && !r.has_fwmark) return fail("fwmask", "needs fwmark");
  if (r.table == 0) return fail("table", "0 is not a routing table (RT_TABLE_UNSPEC)");
  const uint32_t max_prefix = r.family == 4 ? 32 : 128;
  if (r.has_suppress_prefixlen && r.suppress_prefixlen > max_prefix)
    return fail("suppressPrefixLength", "must be 0.." + std::to_string(max_prefix) + " for IPv" +
                                            std::to_string(r.family));
  return true;
}

std::vector<uint8_t> route_message(uint16_t msg_type, uint16_t flags, const RouteSpec& r) {
  rtmsg rtm;
  memset(&rtm, 0, sizeof rtm);
  rtm.rtm_family = af(r.to.family);
  rtm.rtm_dst_len = r.to.prefix;
  // Table ids above 255 only fit RTA_TABLE (always sent; the kernel prefers it).
  rtm.rtm_table = r.table < 256 ? uint8_t(r.table) : uint8_t(RT_TABLE_UNSPEC);
  rtm.rtm_protocol = r.protocol;
  rtm.rtm_type = uint8_t(r.type);
  if (msg_type == RTM_DELROUTE) {
    rtm.rtm_scope = RT_SCOPE_NOWHERE;  // any scope matches, as `ip route del` asks
  } else {
    // A device route without a gateway is on-link (what `ip route add ... dev X` sets);
    // IPv6 has no route scopes beyond universe.
    const bool link = r.to.family == 4 && r.type == RouteType::kUnicast && r.via_family == 0;
    rtm.rtm_scope = link ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  }
  nl::Request q(msg_type, flags, &rtm, sizeof rtm);
  const size_t alen = addr_len(r.to.family);
  if (r.to.prefix > 0) q.attr(RTA_DST, r.to.addr, alen);
  q.u32(RTA_TABLE, r.table);
  if (r.oif > 0) q.u32(RTA_OIF, uint32_t(r.oif));
  if (r.via_family != 0) q.attr(RTA_GATEWAY, r.via, alen);
  if (r.src_family != 0) q.attr(RTA_PREFSRC, r.src, alen);
  if (r.has_metric) q.u32(RTA_PRIORITY, r.metric);
  return to_vector(q);
}

std::vector<uint8_t> rule_message(uint16_t msg_type, uint16_t flags, const RuleSpec& r) {
  fib_rule_hdr frh;
  memset(&frh, 0, sizeof frh);
  frh.family = af(r.family);
  frh.src_len = r.from.family != 0 ? r.from.prefix : 0;
  frh.dst_len = r.to.family != 0 ? r.to.prefix : 0;
  frh.table = r.table < 256 ? uint8_t(r.table) : uint8_t(RT_TABLE_UNSPEC);
  frh.action = FR_ACT_TO_TBL;
  frh.flags = r.invert ? FIB_RULE_INVERT : 0;
  nl::Request q(msg_type, flags, &frh, sizeof frh);
  q.u32(FRA_TABLE, r.table);
  if (r.has_priority) q.u32(FRA_PRIORITY, r.priority);
  if (r.has_fwmark) q.u32(FRA_FWMARK, r.fwmark);
  if (r.has_fwmask) q.u32(FRA_FWMASK, r.fwmask);
  if (r.has_suppress_prefixlen) q.u32(FRA_SUPPRESS_PREFIXLEN, r.suppress_prefixlen);
  if (r.from.family != 0) q.attr(FRA_SRC, r.from.addr, addr_len(r.family));
  if (r.to.family != 0) q.attr(FRA_DST, r.to.addr, addr_len(r.family));
  return to_vector(q);
}

bool parse_route_message(const uint8_t* msg, size_t len, RouteSpec* out) {
  const nlmsghdr* h = nl::message_of_type(msg, len, RTM_NEWROUTE, sizeof(rtmsg));
  if (!h) return false;
  const rtmsg* rtm = static_cast<const rtmsg*>(NLMSG_DATA(h));
  RouteSpec r;
  if (rtm->rtm_family == AF_INET) r.to.family = 4;
  else if (rtm->rtm_family == AF_INET6) r.to.family = 6;
  else return false;
  const size_t alen = addr_len(r.to.family);
  if (rtm->rtm_dst_len > alen * 8) return false;
  r.to.prefix = rtm->rtm_dst_len;
  r.table = rtm->rtm_table;
  r.type = RouteType(rtm->rtm_type);
  r.protocol = rtm->rtm_protocol;
  int alen_left = int(h->nlmsg_len - NLMSG_LENGTH(sizeof(rtmsg)));
  for (const rtattr* a = RTM_RTA(rtm); RTA_OK(a, alen_left); a = RTA_NEXT(a, alen_left)) {
    const bool full = RTA_PAYLOAD(a) >= alen;
    switch (a->rta_type) {
      case RTA_DST: if (full) memcpy(r.to.addr, RTA_DATA(a), alen); break;
      case RTA_GATEWAY: if (full) { memcpy(r.via, RTA_DATA(a), alen); r.via_family = r.to.family; } break;
      case RTA_PREFSRC: if (full) { memcpy(r.src, RTA_DATA(a), alen); r.src_family = r.to.family; } break;
      case RTA_OIF: nl::attr_u32(a, &r.oif); break;
      case RTA_TABLE: nl::attr_u32(a, &r.table); break;
      case RTA_PRIORITY: r.has_metric = nl::attr_u32(a, &r.metric); break;
      default: break;
    }
  }
  *out = r;
  return true;
}

bool parse_rule_message(const uint8_t* msg, size_t len, RuleSpec* out) {
  const nlmsghdr* h = nl::message_of_type(msg, len, RTM_NEWRULE, sizeof(fib_rule_hdr));
  if (!h) return false;
  const fib_rule_hdr* frh = static_cast<const fib_rule_hdr*>(NLMSG_DATA(h));
  RuleSpec r;
  if (frh->family == AF_INET) r.family = 4;
  else if (frh->family == AF_INET6) r.family = 6;
  else return false;
  const size_t alen = addr_len(r.family);
  if (frh->src_len > alen * 8 || frh->dst_len > alen * 8) return false;
  r.table = frh->table;
  r.invert = (frh->flags & FIB_RULE_INVERT) != 0;
  int left = int(h->nlmsg_len - NLMSG_LENGTH(sizeof(fib_rule_hdr)));
  const rtattr* a = reinterpret_cast<const rtattr*>(msg + NLMSG_LENGTH(sizeof(fib_rule_hdr)));
  for (; RTA_OK(a, left); a = RTA_NEXT(a, left)) {
    switch (a->rta_type) {
      case FRA_TABLE: nl::attr_u32(a, &r.table); break;
      case FRA_PRIORITY: r.has_priority = nl::attr_u32(a, &r.priority); break;
      case FRA_FWMARK: r.has_fwmark = nl::attr_u32(a, &r.fwmark); break;
      case FRA_FWMASK: r.has_fwmask = nl::attr_u32(a, &r.fwmask); break;
      case FRA_SUPPRESS_PREFIXLEN: {
        uint32_t v = 0;
        // fib_nl_fill_rule() (net/core/fib_rules.c) reports "none" as -1: Linux 3.12, which
        // added FRA_SUPPRESS_PREFIXLEN, sent it for every rule; later kernels only when set.
        if (nl::attr_u32(a, &v) && v != UINT32_MAX) {
          r.has_suppress_prefixlen = true;
          r.suppress_prefixlen = v;
        }
        break;
      }
      case FRA_SRC: read_selector(a, r.family, frh->src_len, &r.from); break;
      case FRA_DST: read_selector(a, r.family, frh->dst_len, &r.to); break;
      default: break;
    }
  }
  *out = r;
  return true;
}

std::string describe_route(const RouteSpec& r) {
  std::string s;
  if (r.type != RouteType::kUnicast) s += std::string(type_name(r.type)) + " ";
  s += r.to.prefix == 0 && r.to.family != 0 ? "default (" + format_cidr(r.to) + ")" : format_cidr(r.to);
  if (r.via_family != 0) s += " via " + format_ip(r.via_family, r.via);
  if (r.oif > 0) s += " dev " + std::to_string(r.oif);
  if (r.src_family != 0) s += " src " + format_ip(r.src_family, r.src);
  s += " table " + table_name(r.table);
  if (r.has_metric) s += " metric " + std::to_string(r.metric);
  return s;
}

std::string describe_rule(const RuleSpec& r) {
  std::string s = "IPv" + std::to_string(r.family) + " rule";
  if (r.has_priority) s += " priority " + std::to_string(r.priority);
  if (r.invert) s += " not";
  if (r.from.family != 0) s += " from " + format_cidr(r.from);
  if (r.to.family != 0) s += " to " + format_cidr(r.to);
  if (r.has_fwmark) {
    char buf[32];
    snprintf(buf, sizeof buf, " fwmark 0x%x", r.fwmark);
    s += buf;
    if (r.has_fwmask && r.fwmask != UINT32_MAX) {
      snprintf(buf, sizeof buf, "/0x%x", r.fwmask);
      s += buf;
    }
  }
  s += " table " + table_name(r.table);
  if (r.has_suppress_prefixlen) s += " suppress_prefixlength " + std::to_string(r.suppress_prefixlen);
  return s;
}

namespace {

// The route and rule versions of the message functions, so that one add and one delete serve
// both.
std::vector<uint8_t> message_of(uint16_t msg_type, uint16_t flags, const RouteSpec& r) {
  return route_message(msg_type, flags, r);
}
std::vector<uint8_t> message_of(uint16_t msg_type, uint16_t flags, const RuleSpec& r) {
  return rule_message(msg_type, flags, r);
}
bool parse_entry(const uint8_t* m, size_t len, RouteSpec* out) { return parse_route_message(m, len, out); }
bool parse_entry(const uint8_t* m, size_t len, RuleSpec* out) { return parse_rule_message(m, len, out); }
std::string describe(const RouteSpec& r) { return describe_route(r); }
std::string describe(const RuleSpec& r) { return describe_rule(r); }

// An add with NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO (`msg_type` RTM_NEWROUTE or
// RTM_NEWRULE): `*stored` is the kernel's echo, or the spec when it did not echo.
template <typename Spec>
SysError add_entry(Rtnl& nl, uint16_t msg_type, const NlOp& op, const Spec& spec, Spec* stored) {
  std::vector<uint8_t> msg = message_of(msg_type, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, spec);
  if (msg.empty()) return SysError::make(EMSGSIZE, op.name, describe(spec));
  std::vector<uint8_t> echo;
  SysError e = nl.request(msg.data(), msg.size(), op, msg_type, &echo, true);
  if (!e.ok()) return e.prefix_detail(describe(spec));
  Spec echoed;
  *stored = !echo.empty() && parse_entry(echo.data(), echo.size(), &echoed) ? echoed : spec;
  return e;
}

// A delete (`msg_type` RTM_DELROUTE or RTM_DELRULE) of exactly the entry `spec` describes.
template <typename Spec>
SysError delete_entry(Rtnl& nl, uint16_t msg_type, const NlOp& op, const Spec& spec) {
  std::vector<uint8_t> msg = message_of(msg_type, 0, spec);
  if (msg.empty()) return SysError::make(EMSGSIZE, op.name, describe(spec));
  return nl.request(msg.data(), msg.size(), op).prefix_detail(describe(spec));
}

// A dump (`msg_type` RTM_GETROUTE or RTM_GETRULE) of one family (`header`: its rtmsg or
// fib_rule_hdr): every entry `keep` accepts, in the kernel's order.
template <typename Spec, typename Header, typename Keep>
SysError dump_entries(Rtnl& nl, uint16_t msg_type, const NlOp& op, const Header& header, Keep keep,
                      std::vector<Spec>* out) {
  out->clear();
  nl::Request q(msg_type, 0, &header, sizeof header);
  return nl.dump(q.buf, q.len, op, [&](const nlmsghdr* m) {
    Spec s;
    if (parse_entry(reinterpret_cast<const uint8_t*>(m), m->nlmsg_len, &s) && keep(s)) out->push_back(s);
  });
}

}  // namespace

SysError add_route(Rtnl& nl, const RouteSpec& r, RouteSpec* stored) {
  return add_entry(nl, RTM_NEWROUTE, TUNIO_NL_OP("RTM_NEWROUTE"), r, stored);
}

SysError delete_route(Rtnl& nl, const RouteSpec& r) {
  return delete_entry(nl, RTM_DELROUTE, TUNIO_NL_OP("RTM_DELROUTE"), r);
}

SysError add_rule(Rtnl& nl, const RuleSpec& r, RuleSpec* stored) {
  return add_entry(nl, RTM_NEWRULE, TUNIO_NL_OP("RTM_NEWRULE"), r, stored);
}

SysError delete_rule(Rtnl& nl, const RuleSpec& r) {
  return delete_entry(nl, RTM_DELRULE, TUNIO_NL_OP("RTM_DELRULE"), r);
}

SysError list_routes(Rtnl& nl, uint8_t family, uint32_t table, std::vector<RouteSpec>* out) {
  rtmsg rtm;
  memset(&rtm, 0, sizeof rtm);
  rtm.rtm_family = af(family);
  return dump_entries(nl, RTM_GETROUTE, TUNIO_NL_OP("RTM_GETROUTE"), rtm,
                      [table](const RouteSpec& r) { return r.table == table; }, out);
}

SysError list_rules(Rtnl& nl, uint8_t family, std::vector<RuleSpec>* out) {
  fib_rule_hdr frh;
  memset(&frh, 0, sizeof frh);
  frh.family = af(family);
  return dump_entries(nl, RTM_GETRULE, TUNIO_NL_OP("RTM_GETRULE"), frh, [](const RuleSpec&) { return true; }, out);
}

}  // namespace tunio
