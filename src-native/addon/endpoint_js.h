// Conversions between IpEndpoint and JavaScript { address, port } objects.
#pragma once

#include <napi.h>

#include <string>

#include "packet.h"

namespace tunio {

// Empty (null inside) when it could not be built: see js_checked.h.
Napi::Object EndpointToJs(Napi::Env env, const IpEndpoint& ep, bool with_port);
std::string AddressToString(const IpEndpoint& ep);
// Parses "1.2.3.4", "::1", "::ffff:1.2.3.4" (normalised to IPv4) into ep (port untouched).
bool ParseAddress(const std::string& text, IpEndpoint* ep);

}  // namespace tunio
