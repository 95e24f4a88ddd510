#include "checksum.h"

#include <cstring>

namespace tunio {

namespace {

constexpr bool kLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);  // unaligned-safe; compiles to one load
  return v;
}
inline uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint16_t load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

// Sums host-order words: the ones-complement sum is byte-order independent up to a final
// byte swap (RFC 1071 section 2(B)), so the data is summed in native order and the folded
// result swapped once on little-endian hosts. Each 64-bit load is split into two 32-bit
// halves added into a 64-bit accumulator, which cannot overflow for any buffer below 2^32
// words; four accumulators keep the adds independent.
uint16_t checksum_add(const uint8_t* data, size_t len, uint64_t initial) {
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  const uint8_t* p = data;
  while (len >= 32) {
    uint64_t w0 = load64(p), w1 = load64(p + 8), w2 = load64(p + 16), w3 = load64(p + 24);
    a0 += (w0 & 0xffffffffu) + (w0 >> 32);
    a1 += (w1 & 0xffffffffu) + (w1 >> 32);
    a2 += (w2 & 0xffffffffu) + (w2 >> 32);
    a3 += (w3 & 0xffffffffu) + (w3 >> 32);
    p += 32;
    len -= 32;
  }
  uint64_t sum = a0 + a1 + a2 + a3;  // each < 2^60 for any realistic length: no overflow
  while (len >= 8) {
    uint64_t w = load64(p);
    sum += (w & 0xffffffffu) + (w >> 32);
    p += 8;
    len -= 8;
  }
  if (len >= 4) {
    sum += load32(p);
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    sum += load16(p);
    p += 2;
    len -= 2;
  }
  if (len == 1) {
    // The odd byte is the high-order byte of a big-endian word padded with zero, i.e. the
    // first byte in memory of a native word.
    sum += kLittleEndian ? static_cast<uint64_t>(p[0]) : static_cast<uint64_t>(p[0]) << 8;
  }
  uint16_t folded = checksum_fold(sum);
  if (kLittleEndian) folded = static_cast<uint16_t>((folded >> 8) | (folded << 8));
  return checksum_fold(static_cast<uint64_t>(folded) + initial);
}

uint16_t pseudo_header_sum_v4(const uint8_t* src4, const uint8_t* dst4, uint8_t proto,
                              uint32_t l4_len) {
  uint64_t sum = checksum_add(src4, 4, 0);
  sum += checksum_add(dst4, 4, 0);
  sum += proto;
  sum += l4_len & 0xffffu;  // 16-bit length field in the IPv4 pseudo-header
  return checksum_fold(sum);
}

uint16_t pseudo_header_sum_v6(const uint8_t* src16, const uint8_t* dst16, uint8_t proto,
                              uint32_t l4_len) {
  uint64_t sum = checksum_add(src16, 16, 0);
  sum += checksum_add(dst16, 16, 0);
  sum += (l4_len >> 16) + (l4_len & 0xffffu);  // 32-bit upper-layer length
  sum += proto;
  return checksum_fold(sum);
}

}  // namespace tunio
