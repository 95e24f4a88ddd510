// The deliberately naive one's-complement arithmetic that the native tests
// (packet_builders.h) and the fuzz targets (fuzz/fuzz_util.h) check the packet code against:
// byte pairs summed into 64 bits, folded at the end. It shares no code with
// src-native/core/checksum.cc, so a bug there cannot hide itself. One copy for both.
#pragma once

#include <cstddef>
#include <cstdint>

namespace naive {

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

inline uint64_t naive_sum(const uint8_t* p, size_t n, uint64_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n % 2) sum += static_cast<uint32_t>(p[n - 1] << 8);
  return sum;
}

inline uint16_t naive_fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

}  // namespace naive
