// Internet checksum (RFC 1071) and the helpers the packet surgery needs.
//
// Convention: a "sum" is the ones-complement sum of the bytes read as big-endian 16-bit
// words, folded to 16 bits and NOT complemented, held in an integer in host order. The value
// stored in a header checksum field is ~sum (checksum_finish), except for the partial
// checksum of a CHECKSUM_PARTIAL / VIRTIO_NET_HDR_F_NEEDS_CSUM packet, where the kernel expects
// the folded pseudo-header sum itself (not complemented) in the field.
//
// No Node headers, no exceptions, no allocation: used on every packet and fuzzed on its own.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tunio {

// Folds a wide ones-complement accumulator to 16 bits (end-around carry).
inline uint16_t checksum_fold(uint64_t sum) {
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// Adds `len` bytes to `initial` (a folded or unfolded sum) and returns the folded sum.
// Reads 8 bytes per step. An odd last byte is padded with a zero byte, so when chaining
// calls over consecutive pieces every piece except the last must have an even length.
uint16_t checksum_add(const uint8_t* data, size_t len, uint64_t initial = 0);

// Copies `len` bytes from `src` to `dst` (not overlapping, as memcpy) and returns what
// checksum_add(dst, len, initial) would, in one pass over the bytes: a TSO split copies each
// segment's payload and sums it for the segment's checksum.
uint16_t checksum_copy(uint8_t* dst, const uint8_t* src, size_t len, uint64_t initial = 0);

// The kernels checksum_add and checksum_copy run on buffers of 64 bytes or more: the portable
// vector code (SSE2 on x86-64, NEON on arm64) or, chosen once when the CPU has it, the same
// code compiled for AVX2. Named so that the tests check each one, whichever the CPU picks.
namespace checksum_impl {
enum class Kernel { portable, avx2 };
bool available(Kernel k);
uint16_t add(Kernel k, const uint8_t* data, size_t len, uint64_t initial);
uint16_t copy(Kernel k, uint8_t* dst, const uint8_t* src, size_t len, uint64_t initial);
}  // namespace checksum_impl

// The value for a checksum field: ones-complement of the folded sum.
inline uint16_t checksum_finish(uint64_t sum) {
  return static_cast<uint16_t>(~checksum_fold(sum));
}

// RFC 1071 checksum of a buffer (e.g. an IPv4 header with its checksum field zeroed).
inline uint16_t internet_checksum(const uint8_t* data, size_t len) {
  return checksum_finish(checksum_add(data, len, 0));
}

// Pseudo-header sums (folded, not complemented). `l4_len` is the TCP/UDP length (header +
// payload); for IPv6 it is a 32-bit field, for IPv4 a 16-bit one (callers keep it <= 65535).
uint16_t pseudo_header_sum_v4(const uint8_t* src4, const uint8_t* dst4, uint8_t proto,
                              uint32_t l4_len);
uint16_t pseudo_header_sum_v6(const uint8_t* src16, const uint8_t* dst16, uint8_t proto,
                              uint32_t l4_len);

// Incremental update (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')) of a stored checksum field
// `check` when one 16-bit word (or an aligned 32-bit pair of words) changes from old to new.
inline uint16_t checksum_update16(uint16_t check, uint16_t old_word, uint16_t new_word) {
  uint64_t sum = static_cast<uint16_t>(~check);
  sum += static_cast<uint16_t>(~old_word);
  sum += new_word;
  return static_cast<uint16_t>(~checksum_fold(sum));
}
inline uint16_t checksum_update32(uint16_t check, uint32_t old_value, uint32_t new_value) {
  check = checksum_update16(check, static_cast<uint16_t>(old_value >> 16),
                            static_cast<uint16_t>(new_value >> 16));
  return checksum_update16(check, static_cast<uint16_t>(old_value),
                           static_cast<uint16_t>(new_value));
}

// A UDP checksum that computes to 0 is sent as 0xFFFF (RFC 768: 0 means "no checksum";
// both are the same value in ones-complement arithmetic so receivers accept it).
inline uint16_t udp_checksum_field(uint16_t computed) {
  return computed == 0 ? 0xffff : computed;
}

}  // namespace tunio
