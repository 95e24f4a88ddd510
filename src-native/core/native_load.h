#pragma once
// Native-order words loaded from packet bytes at any alignment. A memcpy of a constant size is
// one load instruction on every target tunio builds for (x86-64, arm64) and, unlike a pointer
// cast, is defined for unaligned bytes and under strict aliasing. Always inlined: the checksum
// kernels and the GRO coalescer's header compares call these per word.
#include <cstdint>
#include <cstring>

namespace tunio {

template <typename Word>
inline __attribute__((always_inline)) Word load_native(const uint8_t* p) {
  Word v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline __attribute__((always_inline)) uint64_t load64(const uint8_t* p) { return load_native<uint64_t>(p); }
inline __attribute__((always_inline)) uint32_t load32(const uint8_t* p) { return load_native<uint32_t>(p); }
inline __attribute__((always_inline)) uint16_t load16(const uint8_t* p) { return load_native<uint16_t>(p); }

}  // namespace tunio
