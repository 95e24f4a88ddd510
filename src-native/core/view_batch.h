// A native forward's UDP -> TUN batch described in place: each datagram a (data, length) view
// into the pool slot its message was read into, and one slot reference per message (shared by
// the datagrams of a UDP_GRO read) instead of a Packet per datagram (96 bytes, its own slot
// reference, the endpoints copied into each). UdpSocket::recv_views fills it; the TUN write
// plans and writes from the views where they are (TunQueueIo::write_views); what it cannot
// write now becomes Packets (to_packets), as the same datagrams read by recv_batch would be.
// No Node headers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "buffer_pool.h"
#include "gro_coalesce.h"
#include "packet.h"

namespace tunio {

class ViewBatch {
 public:
  struct Read {
    Slot* slot;      // one reference, held by this batch
    uint32_t count;  // datagrams of this message: the next `count` views
  };

  ViewBatch() = default;
  ViewBatch(const ViewBatch&) = delete;
  ViewBatch& operator=(const ViewBatch&) = delete;
  ~ViewBatch() { clear(); }

  // The datagrams, in the order read (GroPacket: what GroCoalescer::plan reads).
  GroPacket* views() { return views_.get(); }
  const GroPacket* views() const { return views_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Payload bytes of the views (what RecvStats::bytes counted for them).
  uint64_t bytes() const { return bytes_; }

  void reserve(size_t datagrams, size_t reads) {
    if (datagrams > capacity_) grow(datagrams);
    reads_.reserve(reads);
  }

  // A message read into `slot` (its reference moves here): `count` (>= 1) datagrams of
  // `segment` bytes from the start of the slot, the last one `total` minus the others.
  void add_read(Slot* slot, uint32_t count, uint32_t segment, uint32_t total) {
    reads_.push_back({slot, count});
    if (size_ + count > capacity_) grow(size_ + count);
    // Written through a pointer into an array sized above: no capacity check per datagram.
    GroPacket* v = views_.get() + size_;
    size_ += count;
    uint8_t* d = slot->data;
    uint32_t off = 0;
    for (uint32_t k = 1; k < count; k++, off += segment, v++) *v = {d + off, segment};
    *v = {d + off, total - off};
    bytes_ += total;
  }

  // Drops the views and their slot references.
  void clear() {
    for (const Read& r : reads_) BufferPool::unref(r.slot);
    reads_.clear();
    size_ = 0;
    bytes_ = 0;
  }

  // Appends one Packet per view to `out` (a slot reference each; no endpoints: the TUN write
  // reads none), then empties this batch.
  void to_packets(std::vector<Packet>& out) {
    size_t v = 0;
    for (const Read& r : reads_) {
      Slot* s = r.slot;
      s->refs += r.count - 1;  // the read's one reference plus one per further datagram
      for (uint32_t k = 0; k < r.count; k++, v++) {
        Packet p;
        p.slot = SlotRef(s);
        p.offset = static_cast<uint32_t>(views_[v].data - s->data);
        p.length = views_[v].len;
        out.push_back(std::move(p));
      }
    }
    reads_.clear();
    size_ = 0;
    bytes_ = 0;
  }

 private:
  // Room for at least `n` views, the ones held kept (doubling: a GRO read is up to 64).
  void grow(size_t n) {
    size_t cap = capacity_ ? capacity_ * 2 : 64;
    while (cap < n) cap *= 2;
    std::unique_ptr<GroPacket[]> more(new GroPacket[cap]);
    std::copy(views_.get(), views_.get() + size_, more.get());
    views_ = std::move(more);
    capacity_ = cap;
  }

  std::unique_ptr<GroPacket[]> views_;
  size_t size_ = 0;
  size_t capacity_ = 0;
  std::vector<Read> reads_;
  uint64_t bytes_ = 0;
};

}  // namespace tunio
