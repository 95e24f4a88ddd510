// Conversions between IpEndpoint and JavaScript { address, port } objects.
#pragma once

#include <napi.h>

#include <string>

#include "packet.h"

namespace tunio {

// Empty (null inside) when it could not be built: see js_checked.h.
Napi::Object EndpointToJs(Napi::Env env, const IpEndpoint& ep, bool with_port);
// "1.2.3.4", "::1"; an IPv6 address with a scope id gets its zone: "fe80::1%eth0" (the
// interface's name, or the number when it has none here).
std::string AddressToString(const IpEndpoint& ep);
// A JavaScript endpoint into ep: "address:port" text or { address, port }, parsed by the core
// (endpoint_text.h: the one check of an endpoint; lib/ hands the value on). A value of
// another type is refused with the wording of a malformed one. On false, *why says why.
bool EndpointFromJs(Napi::Value v, IpEndpoint* ep, std::string* why);

// EndpointFromJs for an option (UDP bind/connect, send()'s and a forward's `to`); on false,
// throws ERR_TUNIO_INVALID_OPTION naming `option` with the core's reason.
bool ParseEndpoint(napi_env env, Napi::Value v, const char* option, IpEndpoint* ep);

// parseEndpoint(value, destination?) -> { address, family, port } (the zone of a link-local
// address as its index, "fe80::1%2") or, for a value the core refuses, the reason (a string):
// lib/lease.ts checks a lease's remote with it when it is set, and names the argument.
// `destination`: port 0 is refused too (check_destination).
Napi::Value ParseEndpointJs(const Napi::CallbackInfo& info);

// interfaceIndex(name) -> the index of the interface of that name in this network namespace,
// 0 when there is none (lib/routes.ts: a route's `dev` by name).
Napi::Value InterfaceIndex(const Napi::CallbackInfo& info);

}  // namespace tunio
