// Bounded buffer pool with two size classes and refcounted slots.
//
// Why: every packet tunio hands to JavaScript lives in memory owned by this pool, so the
// hot path never calls malloc/free per packet and RSS is bounded by `cap_bytes`. A slot is
// refcounted so that several packets can be views of one 64 KiB receive slot (a UDP GRO
// read split into datagrams, or a GSO superpacket split into segments written back to back).
//
// Threading: a pool belongs to one thread (one Node environment); nothing here is atomic.
// No Node headers: this file is unit-tested and fuzzed on its own.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace tunio {

class BufferPool;

// One reusable buffer. The header lives outside the data so the data stays aligned and
// a stray write past a packet cannot corrupt pool bookkeeping.
struct Slot {
  uint8_t* data = nullptr;
  uint32_t capacity = 0;
  uint32_t refs = 0;
  uint8_t size_class = 0;
  // Stable number of this slot within its pool (0 .. slot_count()-1): single leases are
  // handed to JavaScript as this number rather than as an object.
  uint32_t index = 0;
  Slot* next_free = nullptr;
  BufferPool* pool = nullptr;
};

// The one definition of PoolStats (pool.stats(), and `pool` in the TUN/UDP stats): X(member,
// group, "jsName") as in tun_stats.h; lib/native.ts's NativePoolStats is held to it by
// test/shared-facts.test.ts.
#define TUNIO_POOL_STATS(X)                                                                    \
  X(cap_bytes, top, "capBytes")             /* configured upper bound of reserved memory */     \
  X(reserved_bytes, top, "reservedBytes")   /* memory taken from the system (never given back while alive) */ \
  X(in_use_bytes, top, "inUseBytes")        /* capacity of slots with at least one reference */ \
  X(high_water_bytes, top, "highWaterBytes") /* max of in_use_bytes */                          \
  X(slots_in_use, top, "slotsInUse")                                                           \
  X(lease_failures, top, "leaseFailures")   /* acquire() calls refused because the cap was reached */ \
  X(leaked, top, "leaked")                  /* references dropped by GC instead of release() (set by owners) */ \
  X(acquired, top, "acquired")              /* total successful acquire() calls */

struct PoolStats {
#define TUNIO_POOL_STATS_MEMBER(member, group, js) uint64_t member = 0;
  TUNIO_POOL_STATS(TUNIO_POOL_STATS_MEMBER)
#undef TUNIO_POOL_STATS_MEMBER
};

class BufferPool {
 public:
  static constexpr uint32_t kSmallSlotSize = 2048;   // one packet up to MTU ~1,900 + headroom
  static constexpr uint32_t kLargeSlotSize = 65536;  // superpackets, GRO reads, jumbo packets
  static constexpr uint32_t kMaxLeaseSize = kLargeSlotSize;
  static constexpr size_t kDefaultCapBytes = 64u << 20;
  static constexpr size_t kMinCapBytes = 256 * 1024;  // one growth chunk

  explicit BufferPool(size_t cap_bytes = kDefaultCapBytes);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A slot of at least `size` bytes with refs == 1, or nullptr when `size` is larger than a
  // large slot or the cap would be exceeded (counted in lease_failures). O(1). Inline when the
  // free list has one (every receive batch takes its slots here); otherwise acquire_slow.
  Slot* acquire(size_t size) {
    if (size <= kLargeSlotSize) {
      const uint8_t cls = size <= kSmallSlotSize ? 0 : 1;
      if (Slot* s = free_[cls]) return take_free(s, cls);
    }
    return acquire_slow(size);
  }
  // Same but forces the large class (receive buffers that must hold a superpacket).
  Slot* acquire_large() { return acquire(kLargeSlotSize); }

  static void ref(Slot* slot) { ++slot->refs; }
  // Drops one reference; the slot returns to its free list when the last one goes. O(1).
  // Inline: every packet's destruction comes here (the hot path of each write and send).
  static void unref(Slot* slot) {
    assert(slot->refs > 0);
    if (--slot->refs == 0) slot->pool->release_slot(slot);
  }

  void count_leak() { ++stats_.leaked; }
  const PoolStats& stats() const { return stats_; }
  size_t cap_bytes() const { return cap_; }
  // Number of slots reserved so far (every Slot::index is below it).
  size_t slot_count() const { return slot_count_; }
  // True when acquire(size) would succeed without exceeding the cap.
  bool can_acquire(size_t size) { return can_acquire_count(size, 1); }
  // True when `count` acquire(size) calls in a row would all succeed.
  bool can_acquire_count(size_t size, size_t count);

  // An owner that hands slots back in batches (the lease table defers single-lease releases
  // to its next call) registers this; the pool calls it before it would grow or refuse, so
  // deferred slots are never the reason for either. nullptr unregisters.
  using Reclaim = void (*)(void* context);
  void set_reclaim(Reclaim fn, void* context) { reclaim_ = fn; reclaim_context_ = context; }

 private:
  void release_slot(Slot* slot);
  // acquire() without a free slot of the class at hand: reclaim, grow, or refuse.
  Slot* acquire_slow(size_t size);
  Slot* take_free(Slot* s, uint8_t cls) {
    free_[cls] = s->next_free;
    free_count_[cls]--;
    s->next_free = nullptr;
    s->refs = 1;
    stats_.in_use_bytes += s->capacity;
    stats_.slots_in_use++;
    stats_.acquired++;
    if (stats_.in_use_bytes > stats_.high_water_bytes) stats_.high_water_bytes = stats_.in_use_bytes;
    return s;
  }
  bool grow(uint8_t size_class);

  struct Chunk {
    std::unique_ptr<uint8_t[]> memory;
    std::unique_ptr<Slot[]> slots;
  };
  size_t cap_;
  Slot* free_[2] = {nullptr, nullptr};
  size_t free_count_[2] = {0, 0};
  std::vector<Chunk> chunks_;
  size_t slot_count_ = 0;
  Reclaim reclaim_ = nullptr;
  void* reclaim_context_ = nullptr;
  PoolStats stats_;
};

// Move-only owner of one slot reference.
class SlotRef {
 public:
  SlotRef() = default;
  explicit SlotRef(Slot* adopt) : slot_(adopt) {}
  SlotRef(const SlotRef&) = delete;
  SlotRef& operator=(const SlotRef&) = delete;
  SlotRef(SlotRef&& o) noexcept : slot_(o.slot_) { o.slot_ = nullptr; }
  SlotRef& operator=(SlotRef&& o) noexcept {
    if (this != &o) { reset(); slot_ = o.slot_; o.slot_ = nullptr; }
    return *this;
  }
  ~SlotRef() { reset(); }
  static SlotRef share(Slot* s) { BufferPool::ref(s); return SlotRef(s); }
  void reset() { if (slot_) { BufferPool::unref(slot_); slot_ = nullptr; } }
  Slot* get() const { return slot_; }
  Slot* release() { Slot* s = slot_; slot_ = nullptr; return s; }
  explicit operator bool() const { return slot_ != nullptr; }

 private:
  Slot* slot_ = nullptr;
};

}  // namespace tunio
