#include "endpoint_js.h"

#include <arpa/inet.h>

#include <cstring>

#include "js_checked.h"

namespace tunio {

std::string AddressToString(const IpEndpoint& ep) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (ep.family == 4) {
    inet_ntop(AF_INET, ep.addr, text, sizeof text);
  } else if (ep.family == 6) {
    inet_ntop(AF_INET6, ep.addr, text, sizeof text);
  }
  return text;
}

Napi::Object EndpointToJs(Napi::Env env, const IpEndpoint& ep, bool with_port) {
  JsObject obj(env);
  obj.String("address", AddressToString(ep)).String("family", ep.family == 4 ? "IPv4" : "IPv6");
  if (with_port) obj.Number("port", ep.port);
  if (ep.ifindex) obj.Number("ifindex", ep.ifindex);
  return Napi::Object(env, obj.get());
}

bool ParseAddress(const std::string& text, IpEndpoint* ep) {
  in_addr v4;
  in6_addr v6;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    ep->family = 4;
    std::memcpy(ep->addr, &v4, 4);
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
      ep->family = 4;
      std::memcpy(ep->addr, v6.s6_addr + 12, 4);
    } else {
      ep->family = 6;
      std::memcpy(ep->addr, v6.s6_addr, 16);
    }
    return true;
  }
  return false;
}

}  // namespace tunio
