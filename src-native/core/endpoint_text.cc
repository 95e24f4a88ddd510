#include "endpoint_text.h"

#include <arpa/inet.h>
#include <net/if.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>

#include "netlink.h"  // valid_ifname

namespace tunio {

namespace {

bool fail(std::string* why, const std::string& reason) {
  if (why) *why = reason;
  return false;
}

// The zone after '%': decimal digits are the index itself (at most 2^32-1), anything else an
// interface's name in this network namespace.
bool zone_to_scope_id(const std::string& address, const std::string& zone, uint32_t* scope_id, std::string* why) {
  const std::string written = "\"" + address + "%" + zone + "\"";
  if (!zone.empty() && zone.size() <= 10 && zone.find_first_not_of("0123456789") == std::string::npos) {
    const uint64_t index = std::stoull(zone);
    if (index > UINT32_MAX) return fail(why, "zone index " + zone + " is out of range");
    *scope_id = static_cast<uint32_t>(index);
    return true;
  }
  if (!valid_ifname(zone, false)) {
    return fail(why, "\"" + zone + "\" (after the % of \"" + address + "\") is not an interface name or index");
  }
  const unsigned index = if_nametoindex(zone.c_str());
  if (index == 0) return fail(why, "no interface named \"" + zone + "\" (the zone of " + written + ") in this network namespace");
  *scope_id = index;
  return true;
}

// A number as JavaScript prints it (the shortest text that reads back the same), for messages.
std::string number_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char text[32];
  for (int precision = 1; precision <= 17; precision++) {
    std::snprintf(text, sizeof text, "%.*g", precision, v);
    if (std::strtod(text, nullptr) == v) break;
  }
  return text;
}

}  // namespace

bool parse_zoned_address(const std::string& text, IpEndpoint* ep, std::string* why) {
  const size_t percent = text.find('%');
  const std::string address = text.substr(0, percent);
  in_addr v4;
  in6_addr v6;
  IpEndpoint parsed;
  // inet_pton reads up to a NUL, and a JavaScript string may hold one: "1.2.3.4\0junk" is no address.
  if (address.find('\0') != std::string::npos) {
    parsed.family = 0;
  } else if (inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    parsed.family = 4;
    std::memcpy(parsed.addr, &v4, 4);
  } else if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
    const bool mapped = IN6_IS_ADDR_V4MAPPED(&v6);
    parsed.family = mapped ? 4 : 6;
    std::memcpy(parsed.addr, mapped ? v6.s6_addr + 12 : v6.s6_addr, mapped ? 4 : 16);
  }
  if (parsed.family == 0) return fail(why, "\"" + address + "\" is not an IPv4 or IPv6 address");
  if (percent != std::string::npos) {
    const std::string zone = text.substr(percent + 1);
    if (parsed.family != 6) return fail(why, "\"" + text + "\": a zone (%interface) follows an IPv6 address only");
    if (!zone_to_scope_id(address, zone, &parsed.scope_id, why)) return false;
  }
  ep->family = parsed.family;
  std::memcpy(ep->addr, parsed.addr, sizeof parsed.addr);
  ep->scope_id = parsed.scope_id;
  return true;
}

bool parse_port(double port, uint16_t* out, std::string* why) {
  if (!(port >= 0 && port <= 65535) || std::floor(port) != port) {
    return fail(why, "port " + number_text(port) + " is out of range 0-65535");
  }
  *out = static_cast<uint16_t>(port);
  return true;
}

bool parse_endpoint(const std::string& text, IpEndpoint* ep, std::string* why) {
  const std::string malformed = "\"" + text + "\" is not address:port (use [addr]:port for IPv6)";
  std::string address;
  size_t colon;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close == 1 || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail(why, malformed);
    }
    address = text.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = text.find(':');
    if (colon == std::string::npos || text.find(':', colon + 1) != std::string::npos) return fail(why, malformed);
    address = colon == 0 ? "0.0.0.0" : text.substr(0, colon);
  }
  std::string digits = text.substr(colon + 1);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return fail(why, malformed);
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));  // "0080" is 80
  if (digits.size() > 5) return fail(why, "port " + digits + " is out of range 0-65535");
  IpEndpoint parsed;
  if (!parse_port(std::stod(digits), &parsed.port, why) || !parse_zoned_address(address, &parsed, why)) return false;
  *ep = parsed;
  return true;
}

bool check_destination(const IpEndpoint& ep, std::string* why) {
  return ep.port != 0 || fail(why, "port 0 is not a destination");
}

bool parse_local_address(const std::string& text, IpEndpoint* ep, std::string* why) {
  if (text.find('%') != std::string::npos) {
    return fail(why, "\"" + text + "\": a local address takes no zone (the interface is ifindex)");
  }
  return parse_zoned_address(text, ep, why);
}

bool parse_ifindex(double ifindex, uint32_t* out, std::string* why) {
  if (!(ifindex >= 0 && ifindex <= UINT32_MAX) || std::floor(ifindex) != ifindex) {
    return fail(why, "ifindex must be an integer between 0 and 4294967295, got " + number_text(ifindex));
  }
  *out = static_cast<uint32_t>(ifindex);
  return true;
}

bool parse_ecn(double ecn, uint8_t* out, std::string* why) {
  if (!(ecn >= 0 && ecn <= 3) || std::floor(ecn) != ecn) {
    return fail(why, "must be 0 (not ECT), 1 (ECT(1)), 2 (ECT(0)) or 3 (CE), got " + number_text(ecn));
  }
  *out = static_cast<uint8_t>(ecn);
  return true;
}

}  // namespace tunio
