#include "route_wrap.h"

#include <linux/rtnetlink.h>
#include <string.h>

#include "errors.h"
#include "js_checked.h"
#include "route_rule.h"

namespace tunio {

namespace {

bool Has(Napi::Object o, const char* key) {
  Napi::Value v = JsGet(o, key);
  return !v.IsEmpty() && !v.IsUndefined() && !v.IsNull();
}
std::string Str(Napi::Object o, const char* key) {
  Napi::Value v = JsGet(o, key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}
int64_t Int(Napi::Object o, const char* key, int64_t def) {
  Napi::Value v = JsGet(o, key);
  return v.IsNumber() ? v.As<Napi::Number>().Int64Value() : def;
}

// A CIDR option; false with ERR_TUNIO_INVALID_OPTION thrown.
bool CidrOpt(Napi::Env env, Napi::Object o, const char* key, Cidr* out) {
  std::string why;
  if (!parse_cidr(Str(o, key), out, &why)) {
    ThrowInvalidOption(env, key, why);
    return false;
  }
  return true;
}

// An address option of `family` (0: either); false with ERR_TUNIO_INVALID_OPTION thrown.
bool IpOpt(Napi::Env env, Napi::Object o, const char* key, uint8_t family, uint8_t* out, uint8_t* out_family) {
  std::string why;
  if (!parse_ip(Str(o, key), family, out, out_family, &why)) {
    ThrowInvalidOption(env, key, why);
    return false;
  }
  return true;
}

std::string Ip(uint8_t family, const uint8_t* addr) {
  Cidr c;
  c.family = family;
  memcpy(c.addr, addr, 16);
  const std::string s = format_cidr(c);
  return s.substr(0, s.find('/'));
}

const char* TypeName(RouteType t) {
  switch (t) {
    case RouteType::kUnicast: return "unicast";
    case RouteType::kBlackhole: return "blackhole";
    case RouteType::kUnreachable: return "unreachable";
    case RouteType::kProhibit: return "prohibit";
  }
  return "unicast";
}

Napi::Value RouteToJs(napi_env env, const RouteSpec& r) {
  JsObject o(env);
  o.String("to", format_cidr(r.to));
  if (r.via_family != 0) o.String("via", Ip(r.via_family, r.via));
  if (r.src_family != 0) o.String("src", Ip(r.src_family, r.src));
  if (r.oif > 0) o.Number("dev", r.oif);
  o.Number("table", r.table);
  if (r.has_metric) o.Number("metric", r.metric);
  o.String("type", TypeName(r.type)).Number("protocol", r.protocol);
  return o.result();
}

Napi::Value RuleToJs(napi_env env, const RuleSpec& r) {
  JsObject o(env);
  o.Number("family", r.family);
  if (r.has_priority) o.Number("priority", r.priority);
  if (r.has_fwmark) o.Number("fwmark", r.fwmark);
  if (r.has_fwmask) o.Number("fwmask", r.fwmask);
  o.Number("table", r.table).Bool("invert", r.invert);
  if (r.has_suppress_prefixlen) o.Number("suppressPrefixLength", r.suppress_prefixlen);
  if (r.from.family != 0) o.String("from", format_cidr(r.from));
  if (r.to.family != 0) o.String("to", format_cidr(r.to));
  return o.result();
}

bool Args(const Napi::CallbackInfo& info, const char* signature, bool* add, Napi::Object* spec) {
  if (info.Length() < 2 || !info[0].IsBoolean() || !info[1].IsObject()) {
    ThrowTypeError(info.Env(), "ERR_TUNIO_INVALID_ARG", signature);
    return false;
  }
  *add = info[0].As<Napi::Boolean>().Value();
  *spec = info[1].As<Napi::Object>();
  return true;
}

}  // namespace

Napi::Value RouteChange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool add;
  Napi::Object o;
  if (!Args(info, "routeChange(add, spec)", &add, &o)) return Napi::Value();
  RouteSpec r;
  if (!CidrOpt(env, o, "to", &r.to)) return Napi::Value();
  if (Has(o, "via") && !IpOpt(env, o, "via", r.to.family, r.via, &r.via_family)) return Napi::Value();
  if (Has(o, "src") && !IpOpt(env, o, "src", r.to.family, r.src, &r.src_family)) return Napi::Value();
  r.oif = static_cast<int>(Int(o, "dev", 0));
  r.table = static_cast<uint32_t>(Int(o, "table", kTableMain));
  if (Has(o, "metric")) {
    r.has_metric = true;
    r.metric = static_cast<uint32_t>(Int(o, "metric", 0));
  }
  const std::string type = Str(o, "type");
  r.type = type == "blackhole" ? RouteType::kBlackhole
           : type == "unreachable" ? RouteType::kUnreachable
           : type == "prohibit" ? RouteType::kProhibit : RouteType::kUnicast;
  r.protocol = static_cast<uint8_t>(Int(o, "protocol", add ? kRouteProtocolStatic : 0));
  std::string option, why;
  if (!check_route(r, &option, &why)) {
    ThrowInvalidOption(env, option, why);
    return Napi::Value();
  }
  Rtnl nl;
  DevError e = nl.open();
  RouteSpec stored = r;
  if (e.ok()) e = add ? add_route(nl, r, &stored) : delete_route(nl, r);
  if (!e.ok()) {
    ThrowDevFailure(env, "ERR_TUNIO_ROUTE", add ? "cannot add route" : "cannot delete route", e);
    return Napi::Value();
  }
  return RouteToJs(env, add ? stored : r);
}

Napi::Value RuleChange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool add;
  Napi::Object o;
  if (!Args(info, "ruleChange(add, spec)", &add, &o)) return Napi::Value();
  RuleSpec r;
  r.family = static_cast<uint8_t>(Int(o, "family", 0));
  if (Has(o, "from") && !CidrOpt(env, o, "from", &r.from)) return Napi::Value();
  if (Has(o, "to") && !CidrOpt(env, o, "to", &r.to)) return Napi::Value();
  if (r.family == 0) r.family = r.from.family != 0 ? r.from.family : r.to.family;
  if ((r.has_priority = Has(o, "priority"))) r.priority = static_cast<uint32_t>(Int(o, "priority", 0));
  if ((r.has_fwmark = Has(o, "fwmark"))) r.fwmark = static_cast<uint32_t>(Int(o, "fwmark", 0));
  if ((r.has_fwmask = Has(o, "fwmask"))) r.fwmask = static_cast<uint32_t>(Int(o, "fwmask", 0));
  r.table = static_cast<uint32_t>(Int(o, "table", kTableMain));
  r.invert = JsTruthy(JsGet(o, "invert"));
  if ((r.has_suppress_prefixlen = Has(o, "suppressPrefixLength")))
    r.suppress_prefixlen = static_cast<uint32_t>(Int(o, "suppressPrefixLength", 0));
  std::string option, why;
  if (!check_rule(r, &option, &why)) {
    ThrowInvalidOption(env, option, why);
    return Napi::Value();
  }
  Rtnl nl;
  DevError e = nl.open();
  RuleSpec stored = r;
  if (e.ok()) e = add ? add_rule(nl, r, &stored) : delete_rule(nl, r);
  if (!e.ok()) {
    ThrowDevFailure(env, "ERR_TUNIO_RULE", add ? "cannot add rule" : "cannot delete rule", e);
    return Napi::Value();
  }
  return RuleToJs(env, add ? stored : r);
}

}  // namespace tunio
