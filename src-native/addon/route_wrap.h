// routeChange / ruleChange: routes and policy rules for lib/routes.ts. Marshalling only: the
// options arrive validated for type and range (lib/routes.ts); addresses are parsed, the spec
// checked and the messages built by src-native/core/route_rule.
#pragma once

#include <napi.h>

namespace tunio {

// routeChange(add: boolean, spec) -> the route as the kernel stored it (add) / the canonical
// spec that was deleted
Napi::Value RouteChange(const Napi::CallbackInfo& info);
// ruleChange(add: boolean, spec) -> the rule as the kernel stored it (add) / the canonical
// spec that was deleted
Napi::Value RuleChange(const Napi::CallbackInfo& info);

}  // namespace tunio
