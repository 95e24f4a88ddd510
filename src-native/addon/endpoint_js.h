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
// Parses "1.2.3.4", "::1", "::ffff:1.2.3.4" (normalised to IPv4) and IPv6 with a zone,
// "fe80::1%eth0" or "fe80::1%2" (the scope id: an interface name of this network namespace or
// its index), into ep (port untouched). On false, *why (if given) says what is wrong.
bool ParseAddress(const std::string& text, IpEndpoint* ep, std::string* why = nullptr);

// { address, port } (checked by lib/options.ts first) into ep (UDP bind/connect, send()'s and
// a forward's destination); on false, throws ERR_TUNIO_INVALID_OPTION naming `option`.
bool ParseEndpoint(napi_env env, Napi::Value v, const char* option, IpEndpoint* ep);

// interfaceIndex(name) -> the index of the interface of that name in this network namespace,
// 0 when there is none (lib/options.ts turns zones into scope ids with it).
Napi::Value InterfaceIndex(const Napi::CallbackInfo& info);

}  // namespace tunio
