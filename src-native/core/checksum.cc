#include "checksum.h"

#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "native_load.h"

namespace tunio {

namespace {

constexpr bool kLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

// Sums host-order words: the ones-complement sum is byte-order independent up to a final
// byte swap (RFC 1071 section 2(B)), so the data is summed in native order and the folded
// result swapped once on little-endian hosts. Short buffers (headers, pseudo-headers) and the
// tail of long ones: each 64-bit load split into two 32-bit halves added into a 64-bit
// accumulator, which cannot overflow for any buffer below 2^32 words.
inline uint64_t sum_scalar(const uint8_t* p, size_t len) {
  uint64_t sum = 0;
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
  return sum;
}

// The folded sum of a native-order accumulation, swapped to the big-endian words' sum, plus
// `initial`.
inline uint16_t finish_native(uint64_t sum, uint64_t initial) {
  uint16_t folded = checksum_fold(sum);
  if (kLittleEndian) folded = static_cast<uint16_t>((folded >> 8) | (folded << 8));
  return checksum_fold(static_cast<uint64_t>(folded) + initial);
}

// Long buffers (a packet's payload): 64 bytes per step in two 32-byte vectors of eight 32-bit
// lanes (GCC/Clang vector extensions: two SSE2 or NEON registers each, one AVX2 register in
// the avx2 clone). Each lane adds its word's low and high 16 bits into separate accumulators,
// no carries to track: 2^16 - 1 per step and accumulator, so a chunk of up to kChunk bytes
// (8,192 steps; the last step of a call may be a half one, 32 bytes) leaves every lane below 2^29 and the four accumulators' sum below 2^31. The
// halves are native 16-bit words, whose sum folds to the same value as the 32-bit words'.
// With kCopy the bytes are also stored to `dst` in the same pass (the split's copy of a
// segment's payload is then not a second pass over it).
constexpr size_t kVecStep = 64;
constexpr size_t kChunk = 512 * 1024;

#if defined(__GNUC__)
typedef uint32_t U32x8 __attribute__((vector_size(32)));

template <bool kCopy>
__attribute__((always_inline)) inline uint64_t sum_vec(uint8_t* dst, const uint8_t* src, size_t n) {
  uint64_t total = 0;
  while (n > 0) {
    const size_t chunk = n < kChunk ? n : kChunk;
    U32x8 a = {}, b = {}, c = {}, d = {};
    for (size_t i = 0; i + kVecStep <= chunk; i += kVecStep) {
      U32x8 v0, v1;
      std::memcpy(&v0, src + i, sizeof v0);
      std::memcpy(&v1, src + i + 32, sizeof v1);
      if (kCopy) {
        std::memcpy(dst + i, &v0, sizeof v0);
        std::memcpy(dst + i + 32, &v1, sizeof v1);
      }
      a += v0 & 0xffffu;
      b += v0 >> 16;
      c += v1 & 0xffffu;
      d += v1 >> 16;
    }
    if (chunk % kVecStep != 0) {  // one half step of 32 bytes left (n is a multiple of 32)
      const size_t i = chunk - 32;
      U32x8 v0;
      std::memcpy(&v0, src + i, sizeof v0);
      if (kCopy) std::memcpy(dst + i, &v0, sizeof v0);
      a += v0 & 0xffffu;
      b += v0 >> 16;
    }
    const U32x8 s = a + b + c + d;
    for (int k = 0; k < 8; k++) total += s[k];
    src += chunk;
    if (kCopy) dst += chunk;
    n -= chunk;
  }
  return total;
}

uint64_t add_portable(uint8_t*, const uint8_t* src, size_t n) { return sum_vec<false>(nullptr, src, n); }
uint64_t copy_portable(uint8_t* dst, const uint8_t* src, size_t n) { return sum_vec<true>(dst, src, n); }
#if defined(__x86_64__)
#define TUNIO_CHECKSUM_AVX2 1
// The AVX2 kernel sums with vpmaddwd instead of masking and shifting: each native 16-bit word
// w is flipped to w ^ 0x8000, which read as signed is w - 32768, and vpmaddwd (times 1) adds
// each pair of them into a signed 32-bit lane; the n / 2 words' 32768 each are added back
// once at the end. Per 32 bytes an xor, a vpmaddwd and an add where the portable kernel takes
// an and, a shift and two adds: 13 instructions per 64 bytes copied and summed instead of 15
// (bench/split-instructions.cc). A lane takes at most |-65536| per step: a chunk's 8,193 steps
// (kChunk / 64, plus a half step) leave each of the two accumulators below 2^29.5 in magnitude
// and their sum below 2^31. The lanes' sum is negative or not; the total, with the words'
// 32768s added back, is the plain sum of the words, computed modulo 2^64 (exact: below 2^64).
typedef int32_t I32x8 __attribute__((vector_size(32)));
template <bool kCopy>
__attribute__((target("avx2"))) inline uint64_t sum_avx2(uint8_t* dst, const uint8_t* src, size_t n) {
  const __m256i flip = _mm256_set1_epi16(static_cast<short>(0x8000));
  const __m256i ones = _mm256_set1_epi16(1);
  uint64_t total = static_cast<uint64_t>(n / 2) * 32768u;
  while (n > 0) {
    const size_t chunk = n < kChunk ? n : kChunk;
    I32x8 a = {}, b = {};
    for (size_t i = 0; i + kVecStep <= chunk; i += kVecStep) {
      const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
      const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 32));
      if (kCopy) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), v0);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 32), v1);
      }
      a += reinterpret_cast<I32x8>(_mm256_madd_epi16(_mm256_xor_si256(v0, flip), ones));
      b += reinterpret_cast<I32x8>(_mm256_madd_epi16(_mm256_xor_si256(v1, flip), ones));
    }
    if (chunk % kVecStep != 0) {  // one half step of 32 bytes left (n is a multiple of 32)
      const size_t i = chunk - 32;
      const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
      if (kCopy) _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), v0);
      a += reinterpret_cast<I32x8>(_mm256_madd_epi16(_mm256_xor_si256(v0, flip), ones));
    }
    // Eight signed lanes, sign-extended to four 64-bit sums.
    const __m256i s = reinterpret_cast<__m256i>(a + b);
    const __m256i q = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(s)),
                                       _mm256_cvtepi32_epi64(_mm256_extracti128_si256(s, 1)));
    const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    total += static_cast<uint64_t>(_mm_cvtsi128_si64(h)) + static_cast<uint64_t>(_mm_extract_epi64(h, 1));
    src += chunk;
    if (kCopy) dst += chunk;
    n -= chunk;
  }
  return total;
}
__attribute__((target("avx2"))) uint64_t add_avx2(uint8_t*, const uint8_t* src, size_t n) {
  return sum_avx2<false>(nullptr, src, n);
}
__attribute__((target("avx2"))) uint64_t copy_avx2(uint8_t* dst, const uint8_t* src, size_t n) {
  return sum_avx2<true>(dst, src, n);
}
#endif
#else  // no vector extensions: the scalar sum, the copy separate
uint64_t add_portable(uint8_t*, const uint8_t* src, size_t n) { return sum_scalar(src, n); }
uint64_t copy_portable(uint8_t* dst, const uint8_t* src, size_t n) {
  std::memcpy(dst, src, n);
  return sum_scalar(src, n);
}
#endif

using SumFn = uint64_t (*)(uint8_t* dst, const uint8_t* src, size_t n);
struct Kernels {
  SumFn add;
  SumFn copy;
};

bool have_avx2() {
#ifdef TUNIO_CHECKSUM_AVX2
  __builtin_cpu_init();  // may run before libgcc's constructor (a static initialiser)
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

Kernels kernels_for(checksum_impl::Kernel k) {
#ifdef TUNIO_CHECKSUM_AVX2
  if (k == checksum_impl::Kernel::avx2) return {add_avx2, copy_avx2};
#endif
  (void)k;
  return {add_portable, copy_portable};
}

// Chosen once: the widest kernel this CPU runs.
const Kernels kKernels = kernels_for(have_avx2() ? checksum_impl::Kernel::avx2 : checksum_impl::Kernel::portable);

// Buffers from 64 bytes on go to the kernel in multiples of 32 bytes; the rest (under 32)
// to the scalar sum.
inline size_t vector_part(size_t len) { return len >= kVecStep ? len & ~size_t{31} : 0; }

inline uint16_t add_with(const Kernels& k, const uint8_t* data, size_t len, uint64_t initial) {
  const size_t vec = vector_part(len);
  uint64_t sum = vec ? k.add(nullptr, data, vec) : 0;
  sum += sum_scalar(data + vec, len - vec);
  return finish_native(sum, initial);
}

inline uint16_t copy_with(const Kernels& k, uint8_t* dst, const uint8_t* src, size_t len, uint64_t initial) {
  const size_t vec = vector_part(len);
  uint64_t sum = vec ? k.copy(dst, src, vec) : 0;
  dst += vec;
  src += vec;
  len -= vec;
  while (len >= 8) {  // the tail: 8 bytes at a time copied and summed as the scalar sum does
    const uint64_t w = load64(src);
    std::memcpy(dst, &w, sizeof w);
    sum += (w & 0xffffffffu) + (w >> 32);
    src += 8;
    dst += 8;
    len -= 8;
  }
  if (len > 0) {
    std::memcpy(dst, src, len);
    sum += sum_scalar(src, len);
  }
  return finish_native(sum, initial);
}

}  // namespace

uint16_t checksum_add(const uint8_t* data, size_t len, uint64_t initial) {
  return add_with(kKernels, data, len, initial);
}

uint16_t checksum_copy(uint8_t* dst, const uint8_t* src, size_t len, uint64_t initial) {
  return copy_with(kKernels, dst, src, len, initial);
}

namespace checksum_impl {

bool available(Kernel k) { return k == Kernel::portable || have_avx2(); }

uint16_t add(Kernel k, const uint8_t* data, size_t len, uint64_t initial) {
  return add_with(kernels_for(k), data, len, initial);
}

uint16_t copy(Kernel k, uint8_t* dst, const uint8_t* src, size_t len, uint64_t initial) {
  return copy_with(kernels_for(k), dst, src, len, initial);
}

}  // namespace checksum_impl

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
