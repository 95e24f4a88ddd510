// Endpoints for the native tests: from numeric text ("127.0.0.1", "::1"), or, for tables that
// only need distinct peers, host `n` of a documentation-style test network (10.0.0.n, fd00::n).
#pragma once

#include <doctest.h>

#include <cstdint>

#include "packet.h"
#include "socket_address.h"

namespace tunio {

inline IpEndpoint endpoint(const char* text, uint16_t port = 0) {
  IpEndpoint e;
  REQUIRE(parse_address(text, &e));
  e.port = port;
  return e;
}

inline IpEndpoint test_host(uint8_t family, uint8_t n, uint16_t port = 0) {
  IpEndpoint e;
  e.family = family;
  e.addr[0] = family == 4 ? 10 : 0xfd;
  e.addr[address_length(family) - 1] = n;
  e.port = port;
  return e;
}
inline IpEndpoint host4(uint8_t n, uint16_t port = 0) { return test_host(4, n, port); }
inline IpEndpoint host6(uint8_t n, uint16_t port = 0) { return test_host(6, n, port); }

}  // namespace tunio
