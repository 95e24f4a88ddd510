// Lays packets back to back into 64 KiB pool slots, each committed packet a view that shares
// its slot (SlotRef::share). Equal-size packets packed this way sit contiguous in memory, so
// the UDP side hands a run of them to one sendmsg(UDP_SEGMENT) as a single iovec. Used for the
// segments of a split TUN read (as the GSO split's sink) and for pool.leaseBatch().
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "buffer_pool.h"
#include "gso_split.h"
#include "packet.h"

namespace tunio {

class SlotPacker final : public SegmentSink {
 public:
  SlotPacker(BufferPool& pool, std::vector<Packet>& out) : pool_(pool), out_(out) {}
  ~SlotPacker() override {
    if (cur_) BufferPool::unref(cur_);
  }
  SlotPacker(const SlotPacker&) = delete;
  SlotPacker& operator=(const SlotPacker&) = delete;

  // Room for `len` bytes: in the current slot, or in a fresh 64 KiB one. nullptr when `len`
  // exceeds a slot or the pool refuses one (counted by the pool as a lease failure).
  uint8_t* reserve(size_t len) override {
    if (len > BufferPool::kLargeSlotSize) return nullptr;
    if (!cur_ || off_ + len > cur_->capacity) {
      Slot* s = pool_.acquire_large();
      if (!s) return nullptr;
      if (cur_) BufferPool::unref(cur_);
      cur_ = s;
      off_ = 0;
    }
    return cur_->data + off_;
  }
  // The last reservation holds a packet of `len` bytes: append it to the output as a view.
  void commit(size_t len) override {
    Packet p;
    p.slot = SlotRef::share(cur_);
    p.offset = off_;
    p.length = static_cast<uint32_t>(len);
    out_.push_back(std::move(p));
    off_ += static_cast<uint32_t>(len);
  }
  // Room left in the current slot without taking a new one.
  size_t room() const { return cur_ ? cur_->capacity - off_ : 0; }

 private:
  BufferPool& pool_;
  std::vector<Packet>& out_;
  Slot* cur_ = nullptr;
  uint32_t off_ = 0;
};

}  // namespace tunio
