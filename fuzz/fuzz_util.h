// Independent (naive) packet checks shared by the fuzz targets, on the arithmetic of
// test-native/naive_checksum.h (shared with the native tests). Deliberately does not use
// checksum.cc or ip_headers.cc, so a bug there cannot hide itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "../test-native/naive_checksum.h"

namespace fz {

using naive::be16;
using naive::naive_fold;
using naive::naive_sum;

inline void require(bool ok) {
  if (!ok) abort();
}

// Checks an IPv4/IPv6 TCP/UDP packet produced by the splitter: every length field agrees
// with the buffer, the IPv4 header checksum and the L4 checksum (with pseudo-header) verify.
// Returns the L4 header length (payload starts at ihl + that).
inline size_t check_l4_packet(const uint8_t* p, size_t n, uint8_t proto, size_t* ihl_out) {
  require(n >= 1);
  const int version = p[0] >> 4;
  size_t ihl;
  uint64_t pseudo;
  require(version == 4 || version == 6);
  if (version == 4) {
    require(n >= 20);
    ihl = static_cast<size_t>(p[0] & 15) * 4;
    require(ihl >= 20 && ihl <= n);
    require(be16(p + 2) == n);
    require(naive_fold(naive_sum(p, ihl)) == 0xffff);
    require(p[9] == proto);
    pseudo = naive_sum(p + 12, 8) + proto + (n - ihl);
  } else {
    require(n >= 40);
    ihl = 40;
    require(be16(p + 4) + 40u == n);
    require(p[6] == proto);
    const uint64_t l4 = n - 40;
    pseudo = naive_sum(p + 8, 32) + proto + (l4 >> 16) + (l4 & 0xffff);
  }
  const uint8_t* l4 = p + ihl;
  const size_t l4_len = n - ihl;
  size_t l4_hdr;
  if (proto == 6) {
    require(l4_len >= 20);
    l4_hdr = static_cast<size_t>(l4[12] >> 4) * 4;
    require(l4_hdr >= 20 && l4_hdr <= l4_len);
  } else {
    require(l4_len >= 8);
    l4_hdr = 8;
    require(be16(l4 + 4) == l4_len);
    require(be16(l4 + 6) != 0);  // 0 would mean "no checksum": must be sent as 0xFFFF
  }
  require(naive_fold(naive_sum(l4, l4_len, pseudo)) == 0xffff);
  *ihl_out = ihl;
  return l4_hdr;
}

}  // namespace fz
