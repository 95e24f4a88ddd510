#include <doctest.h>

#include <random>
#include <set>

#include "replay_window.h"

using namespace tunio;

TEST_CASE("replay window: each counter once, in any order within the window") {
  ReplayWindow w(2048);
  CHECK(w.span() == 1984);
  CHECK(w.accept(0));
  CHECK_FALSE(w.accept(0));
  CHECK(w.accept(5));
  CHECK(w.accept(3));
  CHECK_FALSE(w.accept(3));
  CHECK(w.accept(1000));
  CHECK(w.accept(4));
}

TEST_CASE("replay window: too old is refused, a jump clears the ring") {
  ReplayWindow w(256);  // span 192
  CHECK(w.accept(10000));
  CHECK(w.accept(10000 - 191));
  CHECK_FALSE(w.accept(10000 - 192));
  CHECK_FALSE(w.accept(0));
  CHECK(w.accept(10064));  // the next block, ring slot reused
  CHECK_FALSE(w.accept(10064));
  CHECK(w.accept(10000 - 100));
  CHECK(w.accept(1u << 30));  // far ahead: everything before is out of the window
  CHECK_FALSE(w.accept(10064));
  CHECK(w.accept((1u << 30) - 1));
}

TEST_CASE("replay window: equals a set model on random reorderings") {
  std::mt19937_64 rng(18);
  ReplayWindow w(1024);
  std::set<uint64_t> seen;
  uint64_t greatest = 0;
  bool any = false;
  uint64_t base = 0;
  for (int i = 0; i < 200000; i++) {
    base += rng() % 3;
    const uint64_t c = base + rng() % 1200 - (base >= 600 ? 600 : base);
    bool expect;
    if (any && c <= greatest && greatest - c >= w.span()) expect = false;
    else expect = seen.count(c) == 0;
    CAPTURE(c);
    REQUIRE(w.accept(c) == expect);
    if (expect) {
      seen.insert(c);
      if (!any || c > greatest) greatest = c;
      any = true;
    }
  }
}
