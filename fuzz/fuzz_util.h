// What the fuzz targets share: an abort that libFuzzer reports as a crash, and the packet
// library of the native tests (test-native/packet_builders.h), whose naive checks deliberately
// share no code with checksum.cc or ip_headers.cc, so a bug there cannot hide itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "../test-native/packet_builders.h"

namespace fz {

inline void require(bool ok) {
  if (!ok) abort();
}

// Checks an IPv4/IPv6 packet of protocol `proto` produced by the core: every length field
// agrees with the buffer, the IPv4 header checksum and the L4 checksum (with pseudo-header)
// verify. Returns the L4 header length (payload starts at ihl + that).
inline size_t check_l4_packet(const uint8_t* p, size_t n, uint8_t proto, size_t* ihl_out) {
  const tb::Layout l = tb::layout_of(p, n);
  require(l.consistent && l.proto == proto);
  require(tb::checksums_valid(p, n));
  *ihl_out = l.ihl;
  return l.l4_hdr;
}

}  // namespace fz
