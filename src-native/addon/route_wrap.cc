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

// What routes and rules each bring to Change().
template <typename Spec>
struct EntryKind {
  const char* signature;  // for the argument error: "routeChange(add, spec)"
  // Reads the JS spec; false with ERR_TUNIO_INVALID_OPTION thrown.
  bool (*from_js)(Napi::Env, Napi::Object, bool add, Spec*);
  bool (*check)(const Spec&, std::string* option, std::string* why);
  SysError (*add)(Rtnl&, const Spec&, Spec* stored);
  SysError (*remove)(Rtnl&, const Spec&);
  Napi::Value (*to_js)(napi_env, const Spec&);
  const char* code;  // ERR_TUNIO_ROUTE, ERR_TUNIO_RULE
  const char* noun;  // "route", "rule"
};

// change(add, spec): reads and checks the spec, then adds or deletes it on a netlink socket of
// its own. Returns the entry as the kernel stored it (an add) or as asked (a delete), or empty
// with an error thrown.
template <typename Spec>
Napi::Value Change(const Napi::CallbackInfo& info, const EntryKind<Spec>& kind) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsBoolean() || !info[1].IsObject()) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", kind.signature);
    return Napi::Value();
  }
  const bool add = info[0].As<Napi::Boolean>().Value();
  Spec spec;
  if (!kind.from_js(env, info[1].As<Napi::Object>(), add, &spec)) return Napi::Value();
  std::string option, why;
  if (!kind.check(spec, &option, &why)) {
    ThrowInvalidOption(env, option, why);
    return Napi::Value();
  }
  Rtnl nl;
  SysError e = nl.open();
  Spec stored = spec;
  if (e.ok()) e = add ? kind.add(nl, spec, &stored) : kind.remove(nl, spec);
  if (!e.ok()) {
    ThrowSysError(env, kind.code, std::string(add ? "cannot add " : "cannot delete ") + kind.noun, e);
    return Napi::Value();
  }
  return kind.to_js(env, add ? stored : spec);
}

bool RouteFromJs(Napi::Env env, Napi::Object o, bool add, RouteSpec* out) {
  RouteSpec& r = *out;
  if (!CidrOpt(env, o, "to", &r.to)) return false;
  if (Has(o, "via") && !IpOpt(env, o, "via", r.to.family, r.via, &r.via_family)) return false;
  if (Has(o, "src") && !IpOpt(env, o, "src", r.to.family, r.src, &r.src_family)) return false;
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
  return true;
}

bool RuleFromJs(Napi::Env env, Napi::Object o, bool, RuleSpec* out) {
  RuleSpec& r = *out;
  r.family = static_cast<uint8_t>(Int(o, "family", 0));
  if (Has(o, "from") && !CidrOpt(env, o, "from", &r.from)) return false;
  if (Has(o, "to") && !CidrOpt(env, o, "to", &r.to)) return false;
  if (r.family == 0) r.family = r.from.family != 0 ? r.from.family : r.to.family;
  if ((r.has_priority = Has(o, "priority"))) r.priority = static_cast<uint32_t>(Int(o, "priority", 0));
  if ((r.has_fwmark = Has(o, "fwmark"))) r.fwmark = static_cast<uint32_t>(Int(o, "fwmark", 0));
  if ((r.has_fwmask = Has(o, "fwmask"))) r.fwmask = static_cast<uint32_t>(Int(o, "fwmask", 0));
  r.table = static_cast<uint32_t>(Int(o, "table", kTableMain));
  r.invert = JsTruthy(JsGet(o, "invert"));
  if ((r.has_suppress_prefixlen = Has(o, "suppressPrefixLength")))
    r.suppress_prefixlen = static_cast<uint32_t>(Int(o, "suppressPrefixLength", 0));
  return true;
}

}  // namespace

Napi::Value RouteChange(const Napi::CallbackInfo& info) {
  return Change<RouteSpec>(info, {"routeChange(add, spec)", RouteFromJs, check_route, add_route, delete_route, RouteToJs,
                                  "ERR_TUNIO_ROUTE", "route"});
}

Napi::Value RuleChange(const Napi::CallbackInfo& info) {
  return Change<RuleSpec>(info, {"ruleChange(add, spec)", RuleFromJs, check_rule, add_rule, delete_rule, RuleToJs,
                                 "ERR_TUNIO_RULE", "rule"});
}

}  // namespace tunio
