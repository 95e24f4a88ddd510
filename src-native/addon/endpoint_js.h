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

// A datagram's send metadata as lib/lease.ts's remote/local/ecn setters take it.
struct SendMeta {
  IpEndpoint remote;
  IpEndpoint local;
  uint8_t ecn = 0;
};

// One field of it from JavaScript into `meta`: "remote" (an endpoint as EndpointFromJs takes
// it, port 0 refused), "local" (an address of this host without a zone, or { address,
// ifindex? }), "ecn" (0..3); null clears remote or local. Parsed by the core (endpoint_text.h);
// on false, *why says why (the caller names the field). BatchWrap::SetMeta and sendMeta below.
bool SendMetaFieldFromJs(const std::string& field, Napi::Value value, SendMeta* meta, std::string* why);

// sendMeta(field, value) -> the field as a lease reads it back ({ address, family, port } for
// a remote, { address, family, ifindex? } for a local, null when cleared, the ECN number), or
// ERR_TUNIO_INVALID_ARG naming the field: a lease of the pool (lib/pool-lease.ts) keeps its
// metadata in JavaScript until it is sent, and its setters check it here.
Napi::Value SendMetaJs(const Napi::CallbackInfo& info);

// interfaceIndex(name) -> the index of the interface of that name in this network namespace,
// 0 when there is none (lib/routes.ts: a route's `dev` by name).
Napi::Value InterfaceIndex(const Napi::CallbackInfo& info);

}  // namespace tunio
