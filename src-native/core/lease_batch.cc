#include "lease_batch.h"

#include "slot_packer.h"

namespace tunio {

LeaseBatchResult lease_batch(BufferPool& pool, size_t count, uint32_t len, uint32_t headroom,
                             uint32_t tailroom, std::vector<Packet>& out) {
  const uint32_t footprint = headroom + len + tailroom;
  out.reserve(count);
  if (count > 1 && len > 0 && footprint * 2 <= BufferPool::kLargeSlotSize) {
    // Packed back to back into 64 KiB slots, each packet a view (as the segments of a split
    // TUN read are): a batch filled with equal-size datagrams then goes out as one iovec per
    // UDP_SEGMENT message instead of one per datagram, and touches contiguous memory. Costs
    // the same memory as a small slot each (2 KiB) for MTU-size packets, less for others.
    // Where no 64 KiB slot is to be had (a pool whose memory is all small slots, at its cap),
    // the rest takes a slot per packet below.
    SlotPacker packer(pool, out, headroom, tailroom);
    while (out.size() < count) {
      if (packer.room() < len && !pool.can_acquire(BufferPool::kLargeSlotSize)) break;
      if (!packer.reserve(len)) break;
      packer.commit(len);
    }
  }
  while (out.size() < count) {
    Slot* slot = pool.acquire(footprint);
    if (!slot) {
      out.clear();  // the packets already taken release their slots
      return LeaseBatchResult::kPoolExhausted;
    }
    Packet p;
    p.slot = SlotRef(slot);
    p.offset = headroom;
    p.length = len;
    p.headroom = headroom;
    p.tailroom = slot->capacity - headroom - len;  // the whole slot is this packet's
    out.push_back(std::move(p));
  }
  return LeaseBatchResult::kOk;
}

}  // namespace tunio
