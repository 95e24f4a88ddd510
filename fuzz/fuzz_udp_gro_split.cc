// libFuzzer target for UdpGroSplit (one UDP_GRO recvmmsg read -> its datagrams).
// Input: [i32 little-endian gso_size, the raw UDP_GRO cmsg value][u32 little-endian length
// for the arithmetic-only check][the read's bytes].
// Properties, for any gso_size the cmsg could carry:
//   - the segments tile the read exactly: offsets ascend without gaps or overlap, lengths sum
//     to the read's length, every segment lies inside it (views are read through an
//     exactly-sized copy, so ASan sees any access past the end);
//   - every segment has the segment size except a shorter, non-empty last one; a segment is
//     empty only when the whole read is an empty datagram (then exactly one);
//   - a positive gso_size smaller than the read is the segment size; anything else (none,
//     negative, >= length) means one datagram;
//   - coalesce-then-split: datagrams cut from the bytes by a naive reference loop come back
//     byte for byte;
//   - for any 32-bit length (no buffer), count/offset/length stay exact in 64-bit arithmetic
//     (no wrap-around near 4 GiB).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_util.h"
#include "udp_gro_split.h"

using tunio::UdpGroSplit;

namespace {

uint32_t le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// The expected segment size, written independently of the class.
uint64_t expected_segment(uint64_t total, int32_t gso) {
  if (gso <= 0 || static_cast<uint64_t>(gso) >= total) return total;
  return static_cast<uint64_t>(gso);
}

void check_arithmetic(uint32_t total, int32_t gso) {
  const UdpGroSplit split(total, gso);
  const uint64_t seg = expected_segment(total, gso);
  fz::require(split.segment_size() == seg);
  const uint64_t count = split.count();
  if (total == 0) {
    fz::require(count == 1 && split.offset(0) == 0 && split.length(0) == 0);
    return;
  }
  fz::require(count >= 1 && count <= total);
  // count segments cover the read, count - 1 do not.
  fz::require(count * seg >= total && (count - 1) * seg < total);
  const uint32_t last = static_cast<uint32_t>(count - 1);
  fz::require(split.offset(last) == (count - 1) * seg);
  fz::require(split.length(last) >= 1 && split.length(last) <= seg);
  fz::require(static_cast<uint64_t>(split.offset(last)) + split.length(last) == total);
  if (count > 1) fz::require(split.length(0) == seg && split.length(last - 1) == seg);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  const int32_t gso = static_cast<int32_t>(le32(data));
  check_arithmetic(le32(data + 4), gso);
  data += 8;
  size -= 8;
  if (size > 65535 + 8) size = 65535 + 8;  // one read fits a 64 KiB slot (IPv4/IPv6 UDP)
  const uint32_t total = static_cast<uint32_t>(size);
  check_arithmetic(total, gso);

  // The slot: exactly `total` bytes, so any view past the end is an ASan report.
  std::vector<uint8_t> slot(data, data + size);
  const UdpGroSplit split(total, gso);

  // Reference: cut the bytes into datagrams the obvious way.
  std::vector<std::vector<uint8_t>> expected;
  const size_t seg = static_cast<size_t>(expected_segment(total, gso));
  if (total == 0) {
    expected.emplace_back();
  } else {
    for (size_t off = 0; off < size; off += seg) {
      const size_t n = size - off < seg ? size - off : seg;
      expected.emplace_back(data + off, data + off + n);
    }
  }
  fz::require(split.count() == expected.size());

  uint64_t next = 0;
  for (uint32_t k = 0; k < split.count(); k++) {
    const uint32_t off = split.offset(k);
    const uint32_t len = split.length(k);
    fz::require(off == next);  // no gap, no overlap
    fz::require(static_cast<uint64_t>(off) + len <= total);
    fz::require(len > 0 || total == 0);
    fz::require(k + 1 == split.count() ? len <= split.segment_size() : len == split.segment_size());
    // The view as a Packet sees it (data() + offset, length): copy through it.
    const uint8_t* view = slot.data() + off;
    std::vector<uint8_t> got(view, view + len);
    fz::require(got == expected[k]);
    next = static_cast<uint64_t>(off) + len;
  }
  fz::require(next == total);
  return 0;
}
