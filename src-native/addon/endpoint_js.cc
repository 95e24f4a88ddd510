#include "endpoint_js.h"

#include <arpa/inet.h>
#include <net/if.h>

#include <cstring>

#include "errors.h"
#include "js_checked.h"

namespace tunio {

std::string AddressToString(const IpEndpoint& ep) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (ep.family == 4) {
    inet_ntop(AF_INET, ep.addr, text, sizeof text);
  } else if (ep.family == 6) {
    inet_ntop(AF_INET6, ep.addr, text, sizeof text);
    if (ep.scope_id != 0) {
      char name[IF_NAMESIZE] = {0};
      const bool named = if_indextoname(ep.scope_id, name) != nullptr;
      return std::string(text) + "%" + (named ? std::string(name) : std::to_string(ep.scope_id));
    }
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

namespace {
// A zone as the scope id: decimal digits are the index itself, anything else an interface name.
bool ZoneToScopeId(const std::string& zone, uint32_t* scope_id, std::string* why) {
  if (zone.empty()) {
    if (why) *why = "empty zone after '%'";
    return false;
  }
  if (zone.find_first_not_of("0123456789") == std::string::npos) {
    uint64_t index = 0;
    for (char c : zone) {
      index = index * 10 + static_cast<uint64_t>(c - '0');
      if (index > UINT32_MAX) {
        if (why) *why = "zone index " + zone + " is out of range";
        return false;
      }
    }
    *scope_id = static_cast<uint32_t>(index);
    return true;
  }
  const unsigned index = zone.size() < IF_NAMESIZE ? if_nametoindex(zone.c_str()) : 0;
  if (index == 0) {
    if (why) *why = "no interface named '" + zone + "' (the zone after '%') in this network namespace";
    return false;
  }
  *scope_id = index;
  return true;
}
}  // namespace

Napi::Value InterfaceIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return Napi::Number::New(env, 0);
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  const unsigned index = name.size() < IF_NAMESIZE ? if_nametoindex(name.c_str()) : 0;
  return Napi::Number::New(env, index);
}

bool ParseAddress(const std::string& text, IpEndpoint* ep, std::string* why) {
  const size_t percent = text.find('%');
  const std::string address = text.substr(0, percent);
  in_addr v4;
  in6_addr v6;
  if (percent == std::string::npos && inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    ep->family = 4;
    std::memcpy(ep->addr, &v4, 4);
    return true;
  }
  if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
      if (percent != std::string::npos) {
        if (why) *why = "'" + text + "': a zone applies to IPv6 addresses only";
        return false;
      }
      ep->family = 4;
      std::memcpy(ep->addr, v6.s6_addr + 12, 4);
      return true;
    }
    uint32_t scope_id = 0;
    if (percent != std::string::npos && !ZoneToScopeId(text.substr(percent + 1), &scope_id, why)) return false;
    ep->family = 6;
    std::memcpy(ep->addr, v6.s6_addr, 16);
    ep->scope_id = scope_id;
    return true;
  }
  if (why) *why = "'" + text + "' is not an IPv4 or IPv6 address";
  return false;
}

// { address, port } (checked by lib/options.ts first) into ep; on false, throws
// ERR_TUNIO_INVALID_OPTION naming `option`.
bool ParseEndpoint(napi_env env, Napi::Value v, const char* option, IpEndpoint* ep) {
  std::string why = "expected { address, port }";
  if (v.IsObject()) {
    Napi::Object o = v.As<Napi::Object>();
    Napi::Value address = JsGet(o, "address");
    Napi::Value port = JsGet(o, "port");
    if (address.IsString() && port.IsNumber() && ParseAddress(address.As<Napi::String>().Utf8Value(), ep, &why)) {
      const int64_t p = port.As<Napi::Number>().Int64Value();
      if (p >= 0 && p <= 65535) {
        ep->port = static_cast<uint16_t>(p);
        return true;
      }
      why = "port out of range 0-65535";
    }
  }
  ThrowInvalidOption(env, option, why);
  return false;
}

}  // namespace tunio
