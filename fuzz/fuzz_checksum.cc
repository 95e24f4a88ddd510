// libFuzzer target: the fast checksum equals a naive byte-pair implementation for any bytes,
// any start offset (alignment) and any initial sum, for each vector kernel and the copying
// variant; chaining even pieces equals one pass;
// incremental updates equal recomputation.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "checksum.h"

namespace {
uint16_t naive_fold(uint64_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}
uint64_t naive_sum(const uint8_t* p, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i + 1 < n; i += 2) s += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n % 2) s += static_cast<uint32_t>(p[n - 1] << 8);
  return s;
}
// Distinguishes 0 from 0xffff only where ones-complement math does not (both mean zero).
bool same(uint16_t a, uint16_t b) { return a == b || ((a == 0 || a == 0xffff) && (b == 0 || b == 0xffff)); }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const size_t offset = data[0] % 8;
  const uint32_t initial = static_cast<uint32_t>(data[1] << 8 | data[2]) * (data[3] & 1 ? 3 : 1);
  data += 4;
  size -= 4;
  // Copy to an offset inside an exactly-sized allocation so the end is ASan-visible and
  // the start has the requested alignment.
  std::vector<uint8_t> buf(offset + size);
  if (size) std::memcpy(buf.data() + offset, data, size);
  const uint8_t* p = buf.data() + offset;

  const uint16_t fast = tunio::checksum_add(p, size, initial);
  const uint16_t slow = naive_fold(naive_sum(p, size) + initial);
  if (!same(fast, slow)) abort();
  // Each kernel (the portable one, and AVX2 where the CPU has it), and the copying variant:
  // the same sum, the bytes copied, nothing written past them.
  for (auto k : {tunio::checksum_impl::Kernel::portable, tunio::checksum_impl::Kernel::avx2}) {
    if (!tunio::checksum_impl::available(k)) continue;
    if (!same(tunio::checksum_impl::add(k, p, size, initial), slow)) abort();
    std::vector<uint8_t> dst(size + 1, 0x5a);
    if (!same(tunio::checksum_impl::copy(k, dst.data(), p, size, initial), slow)) abort();
    if ((size && std::memcmp(dst.data(), p, size) != 0) || dst[size] != 0x5a) abort();
  }
  // Chaining at an even split point.
  const size_t cut = (size / 2) & ~static_cast<size_t>(1);
  const uint16_t chained = tunio::checksum_add(p + cut, size - cut, tunio::checksum_add(p, cut, initial));
  if (!same(chained, fast)) abort();
  // Incremental update of a 16-bit word equals recomputation.
  if (size >= 4) {
    std::vector<uint8_t> copy(p, p + size);
    const uint16_t check = tunio::internet_checksum(copy.data(), size);
    const uint16_t old_word = static_cast<uint16_t>(copy[0] << 8 | copy[1]);
    const uint16_t new_word = static_cast<uint16_t>(copy[2] << 8 | copy[3]);
    copy[0] = copy[2];
    copy[1] = copy[3];
    const uint16_t updated = tunio::checksum_update16(check, old_word, new_word);
    if (!same(updated, tunio::internet_checksum(copy.data(), size))) abort();
  }
  return 0;
}
