#include "endpoint_js.h"

#include <arpa/inet.h>
#include <net/if.h>

#include <cstring>

#include "errors.h"
#include "endpoint_text.h"
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

namespace {

bool LocalFromJs(Napi::Value v, IpEndpoint* ep, std::string* why) {
  Napi::Value address = v;
  Napi::Value ifindex;
  if (v.IsObject()) {
    address = JsGet(v.As<Napi::Object>(), "address");
    ifindex = JsGet(v.As<Napi::Object>(), "ifindex");
  }
  if (address.IsEmpty() || !address.IsString()) {
    *why = "must be an IPv4 or IPv6 address of this host, or { address, ifindex? }";
    return false;
  }
  IpEndpoint parsed;
  if (!parse_local_address(address.As<Napi::String>().Utf8Value(), &parsed, why)) return false;
  if (!ifindex.IsEmpty() && !ifindex.IsUndefined()) {
    if (!ifindex.IsNumber()) {
      *why = "ifindex must be an integer between 0 and 4294967295";
      return false;
    }
    if (!parse_ifindex(ifindex.As<Napi::Number>().DoubleValue(), &parsed.ifindex, why)) return false;
  }
  *ep = parsed;
  return true;
}

}  // namespace

bool SendMetaFieldFromJs(const std::string& field, Napi::Value value, SendMeta* meta, std::string* why) {
  if (field == "ecn") {
    if (!value.IsNumber()) {
      *why = "must be 0 (not ECT), 1 (ECT(1)), 2 (ECT(0)) or 3 (CE)";
      return false;
    }
    return parse_ecn(value.As<Napi::Number>().DoubleValue(), &meta->ecn, why);
  }
  const bool remote = field == "remote";
  IpEndpoint* ep = remote ? &meta->remote : &meta->local;
  if (value.IsNull()) {
    *ep = IpEndpoint{};
    return true;
  }
  if (remote) return EndpointFromJs(value, ep, why) && check_destination(*ep, why);
  return LocalFromJs(value, ep, why);
}

Napi::Value SendMetaJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string field = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (field != "remote" && field != "local" && field != "ecn") {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "sendMeta(field: 'remote' | 'local' | 'ecn', value)");
    return Napi::Value();
  }
  SendMeta meta;
  std::string why;
  if (!SendMetaFieldFromJs(field, info.Length() > 1 ? info[1] : env.Undefined(), &meta, &why)) {
    ThrowInvalidArg(env, field, why);
    return Napi::Value();
  }
  if (field == "ecn") return Napi::Number::New(env, meta.ecn);
  const IpEndpoint& ep = field == "remote" ? meta.remote : meta.local;
  if (ep.empty()) return env.Null();
  return EndpointToJs(env, ep, field == "remote");
}

}  // namespace tunio
