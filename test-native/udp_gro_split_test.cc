// Table tests of UdpGroSplit: (read length, UDP_GRO cmsg value) -> datagram boundaries.
#include <doctest.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "udp_gro_split.h"

using tunio::UdpGroSplit;

namespace {

using Segments = std::vector<std::pair<uint32_t, uint32_t>>;  // offset, length

Segments segments_of(uint32_t total, int32_t gso) {
  const UdpGroSplit split(total, gso);
  Segments out;
  for (uint32_t k = 0; k < split.count(); k++) out.emplace_back(split.offset(k), split.length(k));
  return out;
}

}  // namespace

TEST_CASE("udp gro split: boundaries for each kind of read") {
  struct Row {
    const char* what;
    uint32_t total;
    int32_t gso;
    Segments want;
  };
  const Row rows[] = {
      {"no cmsg: one datagram", 1400, 0, {{0, 1400}}},
      {"empty datagram, no cmsg", 0, 0, {{0, 0}}},
      {"empty datagram with a cmsg", 0, 1400, {{0, 0}}},
      {"exact multiple", 300, 100, {{0, 100}, {100, 100}, {200, 100}}},
      {"shorter last", 250, 100, {{0, 100}, {100, 100}, {200, 50}}},
      {"last of one byte", 201, 100, {{0, 100}, {100, 100}, {200, 1}}},
      {"gso == length: one datagram", 1400, 1400, {{0, 1400}}},
      {"gso > length: one datagram", 700, 1400, {{0, 700}}},
      {"negative cmsg value: one datagram", 500, -1, {{0, 500}}},
      {"INT32_MIN cmsg value: one datagram", 500, INT32_MIN, {{0, 500}}},
      {"one-byte segments", 3, 1, {{0, 1}, {1, 1}, {2, 1}}},
      {"64 x 1000 (a full GRO read)", 64000, 1000, {}},
  };
  for (const Row& r : rows) {
    CAPTURE(r.what);
    const Segments got = segments_of(r.total, r.gso);
    if (!r.want.empty()) {
      CHECK(got == r.want);
    } else {
      REQUIRE(got.size() == 64);
      for (uint32_t k = 0; k < 64; k++) CHECK(got[k] == std::make_pair(k * 1000, 1000u));
    }
  }
}

TEST_CASE("udp gro split: no wrap-around for lengths near 4 GiB") {
  // Not reachable with 64 KiB slots; the arithmetic must still be exact ((len + seg - 1) / seg
  // would wrap here).
  const UdpGroSplit split(UINT32_MAX, 0x7fffffff);
  CHECK(split.segment_size() == 0x7fffffffu);
  REQUIRE(split.count() == 3);
  CHECK(split.offset(2) == 0xfffffffeu);
  CHECK(split.length(2) == 1);
  const UdpGroSplit one(UINT32_MAX, 1);
  CHECK(one.count() == UINT32_MAX);
  CHECK(one.length(UINT32_MAX - 1) == 1);
}
