#include <doctest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "checksum.h"
#include "packet_builders.h"

using namespace tunio;

TEST_CASE("checksum: RFC 1071 worked example") {
  // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
  const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  CHECK(checksum_add(b, sizeof b) == 0xddf2);
  CHECK(internet_checksum(b, sizeof b) == static_cast<uint16_t>(~0xddf2));
}

TEST_CASE("checksum: known IPv4 header") {
  // Classic example header (checksum field 0xb861 zeroed).
  uint8_t h[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  CHECK(internet_checksum(h, sizeof h) == 0xb861);
  h[10] = 0xb8;
  h[11] = 0x61;
  CHECK(checksum_add(h, sizeof h) == 0xffff);  // a valid header sums to all ones
}

TEST_CASE("checksum: fast == naive for every length 0..300 and alignment 0..7") {
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(400);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t align = 0; align < 8; align++) {
    for (size_t len = 0; len <= 300; len++) {
      const uint8_t* p = buf.data() + align;
      uint32_t init = rng() & 0xffff;
      REQUIRE(checksum_add(p, len, init) == tb::naive_fold(tb::naive_sum(p, len, init)));
    }
  }
  // All-0xff data stresses carries; 64 KiB stresses accumulator width.
  std::vector<uint8_t> ff(65536, 0xff);
  CHECK(checksum_add(ff.data(), ff.size()) == tb::naive_fold(tb::naive_sum(ff.data(), ff.size())));
  CHECK(checksum_add(ff.data(), 65535, 0xffff) ==
        tb::naive_fold(tb::naive_sum(ff.data(), 65535, 0xffff)));
}

TEST_CASE("checksum: each kernel and checksum_copy == naive, lengths around the 64-byte steps") {
  std::mt19937 rng(11);
  std::vector<uint8_t> buf(70000 + 8);  // the longest length at every alignment 0..7
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  std::vector<uint8_t> ff(1200000, 0xff);  // past one 512 KiB accumulation chunk, all carries
  const size_t lens[] = {0, 1, 63, 64, 65, 127, 128, 129, 191, 1400, 1401, 1452, 9000, 65535, 65536, 69999};
  for (auto k : {checksum_impl::Kernel::portable, checksum_impl::Kernel::avx2}) {
    if (!checksum_impl::available(k)) {
      MESSAGE("kernel not available on this CPU: ", static_cast<int>(k));
      continue;
    }
    for (size_t align = 0; align < 8; align++) {
      for (size_t len : lens) {
        const uint8_t* p = buf.data() + align;
        const uint32_t init = rng() & 0x1ffff;
        const uint16_t want = tb::naive_fold(tb::naive_sum(p, len, init));
        REQUIRE(checksum_impl::add(k, p, len, init) == want);
        std::vector<uint8_t> dst(len + 16, 0xa5);
        REQUIRE(checksum_impl::copy(k, dst.data() + (align ^ 5), p, len, init) == want);
        REQUIRE(std::equal(p, p + len, dst.data() + (align ^ 5)));
        REQUIRE(dst[(align ^ 5) + len] == 0xa5);  // nothing past len written
      }
    }
    for (size_t len : {size_t{524288}, size_t{524289}, ff.size()}) {
      REQUIRE(checksum_impl::add(k, ff.data(), len, 0) == tb::naive_fold(tb::naive_sum(ff.data(), len)));
    }
    // The words at the ends of the AVX2 kernel's signed range (it sums w ^ 0x8000 as signed):
    // 0x0000 (-32768), 0xffff (32767), 0x8000 (0) and 0x7fff (-1), each for a whole buffer past
    // one 512 KiB chunk, summed and copied.
    std::vector<uint8_t> extreme(1200000);
    std::vector<uint8_t> dst(extreme.size());
    for (const uint16_t word : {uint16_t{0x0000}, uint16_t{0xffff}, uint16_t{0x8000}, uint16_t{0x7fff}}) {
      for (size_t i = 0; i < extreme.size(); i += 2) std::memcpy(&extreme[i], &word, 2);
      for (size_t len : {size_t{1400}, size_t{524288}, size_t{524289}, extreme.size()}) {
        const uint16_t want = tb::naive_fold(tb::naive_sum(extreme.data(), len));
        REQUIRE(checksum_impl::add(k, extreme.data(), len, 0) == want);
        REQUIRE(checksum_impl::copy(k, dst.data(), extreme.data(), len, 0) == want);
        REQUIRE(std::equal(extreme.begin(), extreme.begin() + static_cast<std::ptrdiff_t>(len), dst.begin()));
      }
    }
  }
  // The dispatched calls are one of the kernels.
  std::vector<uint8_t> dst(1452);
  CHECK(checksum_copy(dst.data(), buf.data() + 3, 1452, 7) == tb::naive_fold(tb::naive_sum(buf.data() + 3, 1452, 7)));
  CHECK(checksum_add(buf.data() + 1, 1452) == tb::naive_fold(tb::naive_sum(buf.data() + 1, 1452)));
}

TEST_CASE("checksum: chaining even pieces equals one pass") {
  auto data = tb::pattern(1001, 3);
  uint16_t whole = checksum_add(data.data(), data.size());
  uint16_t chained = checksum_add(data.data() + 600, 401, checksum_add(data.data(), 600));
  CHECK(whole == chained);
}

TEST_CASE("checksum: pseudo-header sums match the naive ones") {
  tb::Ip ip4;
  auto p4 = tb::build_udp(ip4, 1, 2, tb::pattern(33, 1));
  CHECK(pseudo_header_sum_v4(&p4[12], &p4[16], 17, 41) ==
        tb::naive_fold(tb::naive_pseudo(p4, 17, 41)));
  tb::Ip ip6;
  ip6.version = 6;
  ip6.src6[3] = 0xff;
  auto p6 = tb::build_tcp(ip6, tb::Tcp{}, tb::pattern(10, 1));
  CHECK(pseudo_header_sum_v6(&p6[8], &p6[24], 6, 0x12345) ==
        tb::naive_fold(tb::naive_pseudo(p6, 6, 0x12345)));
}

TEST_CASE("checksum: incremental update equals recomputation") {
  auto pkt = tb::build_tcp(tb::Ip{}, tb::Tcp{}, tb::pattern(100, 9));
  const uint16_t old_check = tb::be16(&pkt[10]);
  const uint16_t old_ttl_proto = tb::be16(&pkt[8]);
  pkt[8] = 17;  // TTL change, as a router would do
  uint16_t updated = checksum_update16(old_check, old_ttl_proto, tb::be16(&pkt[8]));
  tb::put16(&pkt[10], 0);
  CHECK(updated == tb::naive_checksum(pkt.data(), 20));

  // 32-bit: rewrite the source address.
  tb::put16(&pkt[10], updated);
  uint32_t old_src = tb::be32(&pkt[12]);
  tb::put32(&pkt[12], 0xc0a80101);
  uint16_t u32 = checksum_update32(updated, old_src, 0xc0a80101);
  tb::put16(&pkt[10], 0);
  CHECK(u32 == tb::naive_checksum(pkt.data(), 20));
}

TEST_CASE("checksum: UDP zero checksum is emitted as 0xFFFF") {
  CHECK(udp_checksum_field(0) == 0xffff);
  CHECK(udp_checksum_field(0x1234) == 0x1234);
}
