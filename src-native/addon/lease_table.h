// Single leases (pool.lease(), pool.leaseFrom()) without an object per lease on the native side.
//
// Why: wrapping every lease in an ObjectWrap costs several microseconds (a Node-API reference
// with a finalizer per object, plus the malloc traffic of creating and collecting it), more
// than allocating a Buffer. Here a lease is just the number of its slot (Slot::index); the
// table below records which slots are leased, and JavaScript passes that number back.
//
// A lease still has to go back to the pool when it is garbage-collected unreleased, and a
// Buffer over its bytes must keep them from being reused for as long as the Buffer lives.
// Both are tracked by a LeaseToken: the finalizer hint of the external ArrayBuffer that
// stands for the lease in JavaScript. Node calls the finalizer only once no ArrayBuffer
// holds the memory any more (detached or collected), so "token finalized while the lease is
// still out" means "leaked". Which ArrayBuffer that is depends on the mode (lib/lease.ts):
//   - transfer mode: one long-lived "home" ArrayBuffer per slot whose memory moves to a new
//     ArrayBuffer per lease with ArrayBuffer.prototype.transfer() and back on release (the
//     old one is detached by the move). One token per slot, reused by every lease of it.
//   - external mode (no transfer()): one external Buffer, with its own token, per lease.
//   - copy mode and leaseFrom() leases without a view: no token; lib/lease.ts tracks the
//     Lease object with a FinalizationRegistry and calls ReleaseLeaked().
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "buffer_pool.h"

namespace tunio {

class LeaseTable;

// Finalizer hint of an ArrayBuffer over a slot. Deleted by that finalizer.
struct LeaseToken {
  std::shared_ptr<LeaseTable> table;  // keeps the table and its pool memory alive
  uint32_t index;
};

class LeaseTable : public std::enable_shared_from_this<LeaseTable> {
 public:
  explicit LeaseTable(std::shared_ptr<BufferPool> pool);
  ~LeaseTable();
  LeaseTable(const LeaseTable&) = delete;
  LeaseTable& operator=(const LeaseTable&) = delete;

  // The scratch words shared with lib/pool-lease.ts: the last acquire's [number, generation],
  // then the release queue. In transfer mode release() needs no native work but handing the
  // slot back, so JavaScript queues the number instead of calling in, and the next call into
  // the table (or the pool, when it would otherwise grow or refuse) drains the queue: one
  // call per lease instead of two.
  static constexpr size_t kScratchIndex = 0;
  static constexpr size_t kScratchGeneration = 1;
  static constexpr size_t kScratchPending = 2;
  static constexpr size_t kScratchQueue = 3;
  static constexpr size_t kReleaseQueue = 32;
  static constexpr size_t kScratchWords = kScratchQueue + kReleaseQueue;
  // Hands back the slots of the queued releases.
  void DrainReleased();

  // A slot of at least `size` bytes, now leased; its index, or -1 when the pool is full.
  // `via_home`: the lease's ArrayBuffer will be the slot's home moved out (transfer mode), so
  // the home's token tracks it.
  int64_t Acquire(size_t size, bool via_home);
  // True while `index` is leased through this table (and not abandoned).
  bool Held(uint32_t index) const;
  uint32_t Generation(uint32_t index) const { return entries_[index].generation; }
  Slot* SlotAt(uint32_t index) const { return entries_[index].slot.get(); }

  // release(): the lease's views are already detached (or moved back home); reuse the slot.
  void Release(uint32_t index);
  // release() found the lease's ArrayBuffer already detached by someone else (its memory was
  // moved to an ArrayBuffer tunio does not know): keep the slot until that one is collected.
  void Abandon(uint32_t index);
  // The lease's view goes while the lease stays held (aead.seal of a single lease): its token
  // no longer stands for the lease, so its finalizer releases nothing.
  void ForgetToken(uint32_t index) { entries_[index].token = nullptr; }
  // Ownership moves to a device: hands over the slot reference.
  SlotRef Take(uint32_t index);
  // The FinalizationRegistry saw the Lease collected while held (generation guards reuse).
  bool ReleaseLeaked(uint32_t index, uint32_t generation);

  // An external ArrayBuffer over the whole slot (transfer mode), or an external Buffer over
  // the lease's `length` bytes from `start` (external mode), whose finalizer tracks the lease. Returns an
  // empty value with `*refused` set when the runtime forbids external buffers.
  Napi::Value CreateHome(Napi::Env env, uint32_t index, bool* refused);
  Napi::Value CreateView(Napi::Env env, uint32_t index, size_t start, size_t length, bool* refused);

  const std::shared_ptr<BufferPool>& pool() const { return pool_; }

  // The scratch words: the Uint32Array the JS Pool passed in while its NativePool lives,
  // else a private array (set_scratch(nullptr) drains the queue first).
  uint32_t* scratch() { return scratch_ ? scratch_ : own_scratch_; }
  void set_scratch(uint32_t* scratch) {
    DrainReleased();
    scratch_ = scratch;
  }

 private:
  struct Entry {
    SlotRef slot;                       // set while leased
    const LeaseToken* token = nullptr;  // the ArrayBuffer standing for the lease, if any
    uint32_t generation = 0;            // bumped on every lease of this slot
    bool abandoned = false;
  };
  // Node-API finalizer of a token's ArrayBuffer (hint: the LeaseToken).
  static void TokenFinalized(node_api_basic_env env, void* data, void* hint);
  LeaseToken* NewToken(uint32_t index);

  std::shared_ptr<BufferPool> pool_;
  std::vector<Entry> entries_;           // by Slot::index, grown with the pool
  std::vector<const LeaseToken*> homes_;  // transfer mode: current home token per slot
  uint32_t* scratch_ = nullptr;
  uint32_t own_scratch_[kScratchWords] = {};
};

}  // namespace tunio
