#include <doctest.h>

#include <vector>

#include "buffer_pool.h"
#include "packet.h"

using tunio::BufferPool;
using tunio::Slot;
using tunio::SlotRef;

TEST_CASE("pool: size classes and reuse") {
  BufferPool pool(1 << 20);
  Slot* small = pool.acquire(100);
  REQUIRE(small != nullptr);
  CHECK(small->capacity == BufferPool::kSmallSlotSize);
  Slot* exact = pool.acquire(BufferPool::kSmallSlotSize);
  CHECK(exact->capacity == BufferPool::kSmallSlotSize);
  Slot* large = pool.acquire(BufferPool::kSmallSlotSize + 1);
  REQUIRE(large != nullptr);
  CHECK(large->capacity == BufferPool::kLargeSlotSize);
  CHECK(pool.acquire(BufferPool::kLargeSlotSize + 1) == nullptr);
  CHECK(pool.stats().lease_failures == 1);

  uint8_t* first = small->data;
  BufferPool::unref(small);
  Slot* again = pool.acquire(10);
  CHECK(again->data == first);  // LIFO free list: memory is reused, not re-allocated
  BufferPool::unref(again);
  BufferPool::unref(exact);
  BufferPool::unref(large);
  CHECK(pool.stats().in_use_bytes == 0);
  CHECK(pool.stats().slots_in_use == 0);
}

TEST_CASE("pool: refcounted views keep the parent until the last one goes") {
  BufferPool pool(1 << 20);
  Slot* parent = pool.acquire_large();
  SlotRef a(parent);
  SlotRef b = SlotRef::share(parent);
  SlotRef c = SlotRef::share(parent);
  CHECK(parent->refs == 3);
  a.reset();
  b.reset();
  CHECK(pool.stats().in_use_bytes == BufferPool::kLargeSlotSize);
  c.reset();
  CHECK(pool.stats().in_use_bytes == 0);
}

TEST_CASE("packet: the received-datagram constructor adopts the reference and sets its fields, the rest as default") {
  BufferPool pool(1 << 20);
  Slot* s = pool.acquire_large();
  tunio::IpEndpoint from, to;
  from.family = 4;
  from.addr[0] = 10;
  from.port = 4500;
  to.family = 6;
  to.addr[15] = 1;
  to.ifindex = 7;
  {
    tunio::Packet first(SlotRef(s), 0, 1400, from, to, 2);
    tunio::Packet second(SlotRef::share(s), 1400, 600, from, to, 0);
    CHECK(s->refs == 2);
    CHECK(first.slot.get() == s);
    CHECK(first.data() == s->data);
    CHECK(second.data() == s->data + 1400);
    CHECK(first.length == 1400);
    CHECK(second.length == 600);
    CHECK(first.remote.same_address_port(from));
    CHECK(first.local.family == 6);
    CHECK(first.local.addr[15] == 1);
    CHECK(first.local.ifindex == 7);
    CHECK(first.ecn == 2);
    CHECK(first.headroom == 0);
    CHECK(first.tailroom == 0);
    CHECK(first.gso.gso_type == 0);
    CHECK(first.gso.gso_size == 0);
  }
  CHECK(pool.stats().in_use_bytes == 0);  // both references dropped: the slot is free again
}

TEST_CASE("pool: the cap bounds reserved memory and a full pool fails cleanly") {
  const size_t cap = 1 << 20;  // 1 MiB = 16 large slots
  BufferPool pool(cap);
  std::vector<Slot*> held;
  for (;;) {
    Slot* s = pool.acquire_large();
    if (!s) break;
    held.push_back(s);
  }
  CHECK(held.size() == cap / BufferPool::kLargeSlotSize);
  CHECK(pool.stats().reserved_bytes <= cap);
  CHECK(pool.stats().lease_failures == 1);
  CHECK_FALSE(pool.can_acquire(1));  // no small chunk fits either
  CHECK_FALSE(pool.can_acquire_count(BufferPool::kLargeSlotSize, 1));
  uint64_t reserved = pool.stats().reserved_bytes;
  BufferPool::unref(held.back());
  held.pop_back();
  CHECK(pool.can_acquire(BufferPool::kLargeSlotSize));
  CHECK_FALSE(pool.can_acquire_count(BufferPool::kLargeSlotSize, 2));
  Slot* s = pool.acquire_large();
  CHECK(s != nullptr);
  held.push_back(s);
  CHECK(pool.stats().reserved_bytes == reserved);  // reused, not grown
  CHECK(pool.stats().high_water_bytes == cap);
  for (Slot* h : held) BufferPool::unref(h);
  CHECK(pool.stats().in_use_bytes == 0);
}

TEST_CASE("pool: can_acquire_count counts free slots and room to grow") {
  BufferPool pool(1 << 20);  // 4 chunks of 4 large slots
  CHECK(pool.can_acquire_count(BufferPool::kLargeSlotSize, 16));
  CHECK_FALSE(pool.can_acquire_count(BufferPool::kLargeSlotSize, 17));
  Slot* a = pool.acquire_large();  // grows one chunk: 3 free + 3 chunks of room
  CHECK(pool.can_acquire_count(BufferPool::kLargeSlotSize, 15));
  CHECK_FALSE(pool.can_acquire_count(BufferPool::kLargeSlotSize, 16));
  BufferPool::unref(a);
}

TEST_CASE("pool: a million cycles reserve nothing new after the first") {
  BufferPool pool(8 << 20);
  for (int i = 0; i < 1000000; i++) {
    Slot* s = pool.acquire(1400);
    BufferPool::unref(s);
  }
  CHECK(pool.stats().reserved_bytes == 256 * 1024);
  CHECK(pool.stats().acquired == 1000000);
}

TEST_CASE("pool: the smallest cap still holds one chunk") {
  BufferPool pool(0);
  CHECK(pool.cap_bytes() == BufferPool::kMinCapBytes);
  tunio::Slot* s = pool.acquire(10);
  REQUIRE(s != nullptr);
  BufferPool::unref(s);
}

TEST_CASE("pool: every slot has its own index below slot_count(), stable across reuse") {
  BufferPool pool(4u << 20);
  std::vector<Slot*> held;
  for (int i = 0; i < 40; i++) held.push_back(pool.acquire(i % 2 ? 100 : 40000));
  std::vector<Slot*> by_index(pool.slot_count(), nullptr);
  for (Slot* s : held) {
    REQUIRE(s != nullptr);
    REQUIRE(s->index < pool.slot_count());
    CHECK(by_index[s->index] == nullptr);  // no two slots share an index
    by_index[s->index] = s;
  }
  for (Slot* s : held) BufferPool::unref(s);
  for (int i = 0; i < 40; i++) {
    Slot* s = pool.acquire(i % 2 ? 100 : 40000);
    REQUIRE(s->index < by_index.size());
    CHECK((by_index[s->index] == nullptr || by_index[s->index] == s));  // an index names one slot for good
    BufferPool::unref(s);
  }
}

TEST_CASE("pool: the reclaim hook runs before the pool would grow or refuse") {
  BufferPool pool(BufferPool::kMinCapBytes);  // one chunk: 128 small slots
  std::vector<Slot*> deferred;                // slots an owner holds back until asked
  pool.set_reclaim([](void* held) {
    auto* slots = static_cast<std::vector<Slot*>*>(held);
    for (Slot* s : *slots) BufferPool::unref(s);
    slots->clear();
  }, &deferred);
  for (int i = 0; i < 128; i++) deferred.push_back(pool.acquire(100));
  const uint64_t reserved = pool.stats().reserved_bytes;
  CHECK(pool.can_acquire_count(100, 128));  // asks the owner first
  CHECK(deferred.empty());
  for (int i = 0; i < 128; i++) deferred.push_back(pool.acquire(100));
  Slot* one_more = pool.acquire(100);  // the free list is empty: the hook hands them back
  REQUIRE(one_more != nullptr);
  CHECK(pool.stats().reserved_bytes == reserved);
  CHECK(pool.stats().lease_failures == 0);
  BufferPool::unref(one_more);
  pool.set_reclaim(nullptr, nullptr);
  for (Slot* s : deferred) BufferPool::unref(s);
}
