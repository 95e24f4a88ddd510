#include "socket_address.h"

#include <arpa/inet.h>

#include <cstring>

namespace tunio {

bool is_v4_mapped(const in6_addr& a) {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a.s6_addr, prefix, 12) == 0;
}

void set_endpoint_address(IpEndpoint& ep, const in6_addr& a) {
  if (is_v4_mapped(a)) {
    ep.family = 4;
    std::memcpy(ep.addr, a.s6_addr + 12, 4);
  } else {
    ep.family = 6;
    std::memcpy(ep.addr, a.s6_addr, 16);
  }
}

socklen_t endpoint_to_sockaddr(const IpEndpoint& ep, int socket_family, sockaddr_in6* out) {
  std::memset(out, 0, sizeof *out);
  if (ep.family == 4 && socket_family == AF_INET) {
    sockaddr_in* sin = reinterpret_cast<sockaddr_in*>(out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(ep.port);
    std::memcpy(&sin->sin_addr, ep.addr, 4);
    return sizeof(sockaddr_in);
  }
  if (ep.family == 4) {  // AF_INET6 socket: v4-mapped (dual-stack)
    out->sin6_family = AF_INET6;
    out->sin6_port = htons(ep.port);
    out->sin6_addr.s6_addr[10] = 0xff;
    out->sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(out->sin6_addr.s6_addr + 12, ep.addr, 4);
    return sizeof(sockaddr_in6);
  }
  if (ep.family == 6) {  // on an AF_INET socket the kernel answers EAFNOSUPPORT
    out->sin6_family = AF_INET6;
    out->sin6_port = htons(ep.port);
    std::memcpy(out->sin6_addr.s6_addr, ep.addr, 16);
    out->sin6_scope_id = ep.scope_id;
    return sizeof(sockaddr_in6);
  }
  return 0;
}

IpEndpoint endpoint_from_sockaddr(const sockaddr* sa, socklen_t len) {
  IpEndpoint ep;
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const sockaddr_in* sin = reinterpret_cast<const sockaddr_in*>(sa);
    ep.family = 4;
    std::memcpy(ep.addr, &sin->sin_addr, 4);
    ep.port = ntohs(sin->sin_port);
  } else if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const sockaddr_in6* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    set_endpoint_address(ep, sin6->sin6_addr);
    ep.port = ntohs(sin6->sin6_port);
    if (ep.family == 6) ep.scope_id = sin6->sin6_scope_id;
  }
  return ep;
}

bool parse_address(const char* text, IpEndpoint* out) {
  uint8_t addr[16] = {};
  uint8_t family = 0;
  if (inet_pton(AF_INET, text, addr) == 1) {
    family = 4;
  } else if (inet_pton(AF_INET6, text, addr) == 1) {
    family = 6;
  } else {
    return false;
  }
  out->family = family;
  std::memcpy(out->addr, addr, sizeof addr);
  return true;
}

std::string format_address(const IpEndpoint& ep) {
  char text[INET6_ADDRSTRLEN] = {};
  if (ep.empty() || !inet_ntop(ep.family == 4 ? AF_INET : AF_INET6, ep.addr, text, sizeof text)) return "";
  return text;
}

std::string format_endpoint(const IpEndpoint& ep) {
  const std::string port = ":" + std::to_string(ep.port);
  return ep.family == 6 ? "[" + format_address(ep) + "]" + port : format_address(ep) + port;
}

IpEndpoint path_of(const IpEndpoint& ep) {
  IpEndpoint path = ep;
  path.port = 0;
  path.ifindex = 0;
  return path;
}

bool same_host(const IpEndpoint& a, const IpEndpoint& b) {
  if (a.empty() || !same_address(a, b)) return false;
  return a.family != 6 || a.scope_id == b.scope_id;
}

}  // namespace tunio
