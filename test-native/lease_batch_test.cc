#include <doctest.h>

#include <vector>

#include "buffer_pool.h"
#include "lease_batch.h"
#include "packet.h"

using namespace tunio;

namespace {

// Takes every small slot a fresh pool of the minimum cap can hold: its memory is then all
// small slots and at the cap, so no 64 KiB slot can be had.
std::vector<SlotRef> fill_with_small_slots(BufferPool& pool) {
  std::vector<SlotRef> held;
  while (Slot* s = pool.acquire(BufferPool::kSmallSlotSize)) held.emplace_back(s);
  return held;
}

// A leaseBatch request with its fields named (lease_batch takes them in a row).
struct Request {
  size_t count = 1;
  uint32_t len = 1400;
  uint32_t headroom = 0;
  uint32_t tailroom = 0;
};

// The packets lease_batch gives for a request it must accept (the defaults above as `change`
// leaves them): as many as asked.
std::vector<Packet> leased(BufferPool& pool, void (*change)(Request&) = [](Request&) {}) {
  Request r;
  change(r);
  std::vector<Packet> out;
  REQUIRE(lease_batch(pool, r.count, r.len, r.headroom, r.tailroom, out) == LeaseBatchResult::kOk);
  REQUIRE(out.size() == r.count);
  return out;
}

}  // namespace

TEST_CASE("lease_batch: equal packets are packed back to back into one 64 KiB slot") {
  BufferPool pool;
  const std::vector<Packet> out = leased(pool, [](Request& r) { r.count = 10; });
  for (size_t i = 0; i < out.size(); i++) {
    CAPTURE(i);
    CHECK(out[i].length == 1400);
    CHECK(out[i].slot.get() == out[0].slot.get());
    CHECK(out[i].data() == out[0].data() + i * 1400);  // contiguous: one iovec per GSO run
  }
  CHECK(out[0].slot.get()->capacity == BufferPool::kLargeSlotSize);
}

TEST_CASE("lease_batch: headroom and tailroom belong to each packet, packets still evenly spaced") {
  BufferPool pool;
  const std::vector<Packet> out = leased(pool, [](Request& r) { r.count = 5; r.headroom = 16; r.tailroom = 32; });
  for (size_t i = 0; i < out.size(); i++) {
    CAPTURE(i);
    CHECK(out[i].headroom == 16);
    CHECK(out[i].tailroom >= 32);
    CHECK(out[i].data() == out[0].data() + i * (16 + 1400 + 32));
  }
}

TEST_CASE("lease_batch: without a 64 KiB slot to be had, a slot per packet; never a failure for packing") {
  BufferPool pool(BufferPool::kMinCapBytes);
  std::vector<SlotRef> held = fill_with_small_slots(pool);
  REQUIRE(held.size() > 8);
  REQUIRE_FALSE(pool.can_acquire(BufferPool::kLargeSlotSize));
  held.resize(held.size() - 4);  // four small slots free again
  const std::vector<Packet> out = leased(pool, [](Request& r) { r.count = 4; r.headroom = 8; r.tailroom = 16; });
  for (size_t i = 0; i < out.size(); i++) {
    CAPTURE(i);
    CHECK(out[i].slot.get()->capacity == BufferPool::kSmallSlotSize);
    for (size_t j = 0; j < i; j++) CHECK(out[i].slot.get() != out[j].slot.get());
    CHECK(out[i].offset == 8);
    CHECK(out[i].headroom == 8);
    CHECK(out[i].tailroom == BufferPool::kSmallSlotSize - 8 - 1400);  // the rest of its slot
  }
}

TEST_CASE("lease_batch: an exhausted pool takes nothing: the result is empty and every slot is back") {
  BufferPool pool(BufferPool::kMinCapBytes);
  std::vector<SlotRef> held = fill_with_small_slots(pool);
  held.resize(held.size() - 2);  // room for two, not three
  const uint64_t in_use = pool.stats().slots_in_use;
  std::vector<Packet> out;
  CHECK(lease_batch(pool, 3, 1400, 0, 0, out) == LeaseBatchResult::kPoolExhausted);
  CHECK(out.empty());
  CHECK(pool.stats().slots_in_use == in_use);
}

TEST_CASE("lease_batch: one packet, empty packets and zero packets take the plain path") {
  BufferPool pool;
  const std::vector<Packet> one = leased(pool);
  CHECK(one[0].slot.get()->capacity == BufferPool::kSmallSlotSize);
  const std::vector<Packet> empty = leased(pool, [](Request& r) { r.count = 3; r.len = 0; });
  CHECK(empty[0].slot.get() != empty[1].slot.get());
  std::vector<Packet> none;
  CHECK(lease_batch(pool, 0, 1400, 0, 0, none) == LeaseBatchResult::kOk);
  CHECK(none.empty());
}
