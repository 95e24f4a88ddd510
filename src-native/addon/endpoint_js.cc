#include "endpoint_js.h"

#include <arpa/inet.h>
#include <net/if.h>

#include <cstring>

#include "errors.h"
#include "endpoint_text.h"
#include "js_checked.h"
#include "socket_address.h"  // format_address

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

Napi::Value InterfaceIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return Napi::Number::New(env, 0);
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  const unsigned index = name.size() < IF_NAMESIZE ? if_nametoindex(name.c_str()) : 0;
  return Napi::Number::New(env, index);
}

bool EndpointFromJs(Napi::Value v, IpEndpoint* ep, std::string* why) {
  if (v.IsString()) return parse_endpoint(v.As<Napi::String>().Utf8Value(), ep, why);
  Napi::Value address = v.IsObject() ? JsGet(v.As<Napi::Object>(), "address") : Napi::Value();
  if (address.IsEmpty() || !address.IsString()) {
    *why = "must be \"address:port\" or { address, port }";
    return false;
  }
  Napi::Value port = JsGet(v.As<Napi::Object>(), "port");
  IpEndpoint parsed;
  if (!port.IsNumber()) {
    *why = "port must be a number from 0 to 65535";
    return false;
  }
  if (!parse_port(port.As<Napi::Number>().DoubleValue(), &parsed.port, why) ||
      !parse_zoned_address(address.As<Napi::String>().Utf8Value(), &parsed, why)) {
    return false;
  }
  *ep = parsed;
  return true;
}

bool ParseEndpoint(napi_env env, Napi::Value v, const char* option, IpEndpoint* ep) {
  std::string why;
  if (EndpointFromJs(v, ep, &why)) return true;
  ThrowInvalidOption(env, option, why);
  return false;
}

Napi::Value ParseEndpointJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IpEndpoint ep;
  std::string why;
  const bool destination = info.Length() > 1 && JsTruthy(info[1]);
  if (!EndpointFromJs(info.Length() > 0 ? info[0] : env.Undefined(), &ep, &why) ||
      (destination && !check_destination(ep, &why))) {
    return Napi::String::New(env, why);
  }
  // The zone by index: the text reads back the same whatever the interface is called later.
  std::string address = format_address(ep);
  if (ep.scope_id != 0) address += "%" + std::to_string(ep.scope_id);
  return JsObject(env).String("address", address).String("family", ep.family == 4 ? "IPv4" : "IPv6")
      .Number("port", ep.port).result();
}

}  // namespace tunio
