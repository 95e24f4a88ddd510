// Lays packets back to back into 64 KiB pool slots, each committed packet a view that shares
// its slot (SlotRef::share). Equal-size packets packed this way sit contiguous in memory, so
// the UDP side hands a run of them to one sendmsg(UDP_SEGMENT) as a single iovec. Used for the
// segments of a split TUN read (as the GSO split's sink) and for pool.leaseBatch().
//
// Each packet can be given headroom and tailroom: bytes before and after it that belong to it
// alone, so a header and a tag can be added in place (aead.h). The layout per packet is
// [headroom][packet][tailroom], back to back; packets that grow by exactly headroom + tailroom
// are therefore still back to back, one contiguous run of equal-size datagrams.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "buffer_pool.h"
#include "gso_split.h"
#include "packet.h"

namespace tunio {

// Largest headroom or tailroom a packet can be laid out with (options of openTun and
// pool.leaseBatch): enough for any protocol header (aead.h: kAeadMaxHeaderLen) or a tag plus
// padding, small next to a 64 KiB slot.
constexpr uint32_t kMaxPacketRoom = 512;

class SlotPacker final : public SegmentSink {
 public:
  SlotPacker(BufferPool& pool, std::vector<Packet>& out, uint32_t headroom = 0, uint32_t tailroom = 0)
      : pool_(pool), out_(out), headroom_(headroom), tailroom_(tailroom) {}
  ~SlotPacker() override {
    if (cur_) BufferPool::unref(cur_);
  }
  SlotPacker(const SlotPacker&) = delete;
  SlotPacker& operator=(const SlotPacker&) = delete;

  // Room for `len` bytes: in the current slot, or in a fresh 64 KiB one. nullptr when `len`
  // exceeds a slot or the pool refuses one (counted by the pool as a lease failure).
  uint8_t* reserve(size_t len) override {
    const size_t need = headroom_ + len + tailroom_;
    if (need > BufferPool::kLargeSlotSize) return nullptr;
    if (!cur_ || off_ + need > cur_->capacity) {
      Slot* s = pool_.acquire_large();
      if (!s) return nullptr;
      if (cur_) BufferPool::unref(cur_);
      cur_ = s;
      off_ = 0;
    }
    return cur_->data + off_ + headroom_;
  }
  // The last reservation holds a packet of `len` bytes: append it to the output as a view.
  // Built in place in the vector: a Packet is about 100 bytes (two endpoints), and building
  // one on the stack and moving it in, then destroying the moved-from one, cost about 30
  // instructions per packet more (tun.read in bench/datapath-instructions.js).
  void commit(size_t len) override {
    Packet& p = out_.emplace_back();
    p.slot = SlotRef::share(cur_);
    p.offset = off_ + headroom_;
    p.length = static_cast<uint32_t>(len);
    p.headroom = headroom_;
    p.tailroom = tailroom_;
    off_ += headroom_ + static_cast<uint32_t>(len) + tailroom_;
  }
  // Packet bytes that fit in the current slot without taking a new one (headroom and
  // tailroom already subtracted).
  size_t room() const {
    const size_t used = static_cast<size_t>(off_) + headroom_ + tailroom_;
    return cur_ && cur_->capacity > used ? cur_->capacity - used : 0;
  }

 private:
  BufferPool& pool_;
  std::vector<Packet>& out_;
  const uint32_t headroom_;
  const uint32_t tailroom_;
  Slot* cur_ = nullptr;
  uint32_t off_ = 0;
};

}  // namespace tunio
