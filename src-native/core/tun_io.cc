#include "tun_io.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <utility>

#include "slot_packer.h"
#include "sys_error.h"

#include "virtio_net_hdr.h"

namespace tunio {

namespace {

// Writes each segment of a re-split superpacket on its own (the EINVAL fallback).
class WritingSink final : public SegmentSink {
 public:
  using Write = std::function<ssize_t(const iovec*, int)>;
  WritingSink(Write write, bool vnet) : write_(std::move(write)), vnet_(vnet) {}
  uint8_t* reserve(size_t len) override { return len <= sizeof buf_ ? buf_ : nullptr; }
  void commit(size_t len) override {
    uint8_t hdr[kVirtioNetHdrLen] = {0};
    iovec iov[2];
    int n = 0;
    if (vnet_) iov[n++] = {hdr, sizeof hdr};
    iov[n++] = {buf_, len};
    ssize_t r = write_(iov, n);
    calls++;
    if (r < 0) {
      failed++;
    } else {
      written++;
      bytes += len;
    }
  }
  uint64_t calls = 0, written = 0, failed = 0, bytes = 0;

 private:
  Write write_;
  bool vnet_;
  uint8_t buf_[65536];
};

// A superpacket of 64 KiB split into MSS-sized segments grows by one header per segment;
// two fresh large slots always hold it (see read_batch).
constexpr size_t kSlotsPerSuperpacket = 2;

}  // namespace

TunQueueIo::TunQueueIo(TunDevice* dev, int queue, TunIoOptions opts)
    : dev_(dev), queue_(queue), opts_(opts), scratch_(new uint8_t[65536]) {
  const char* debug = std::getenv("TUNIO_DEBUG");
  debug_ = debug != nullptr && debug[0] != '\0' && debug[0] != '0';
  const TunOffload& off = dev->offload();
  vnet_ = off.vnet_hdr;
  coalesce_tcp_ = vnet_ && off.tso4 && off.tso6 && opts.coalesce_tcp;
  coalesce_udp_ = vnet_ && off.uso && opts.coalesce_udp;
  coalesce_tcp_configured_ = coalesce_tcp_;
  coalesce_udp_configured_ = coalesce_udp_;
  GroOptions g;
  g.tcp = coalesce_tcp_;
  g.udp = coalesce_udp_;
  coalescer_ = GroCoalescer(g);
}

IoResult TunQueueIo::read_batch(BufferPool& pool, std::vector<Packet>& out, TunStats& stats, uint32_t max_reads) {
  const size_t out_before = out.size();
  auto finish = [&](IoStatus status, int err = 0) {
    IoResult r;
    r.status = status;
    r.done = out.size() - out_before;
    if (err != 0) r.error = SysError::make(err, "readv");
    return r;
  };
  SlotPacker sink(pool, out, opts_.headroom, opts_.tailroom);
  const size_t cap = 65536;
  // Headroom and tailroom are reserved per segment: a superpacket of up to 128 segments (USO's
  // UDP_MAX_SEGMENTS; TCP segments of a 64 KiB superpacket are fewer at any usual MSS) needs
  // that much more, in whole slots.
  const size_t room_per_packet = static_cast<size_t>(opts_.headroom) + opts_.tailroom;
  const size_t slots_needed =
      kSlotsPerSuperpacket + (room_per_packet * 128 + BufferPool::kLargeSlotSize - 1) / BufferPool::kLargeSlotSize;
  const uint32_t reads = max_reads == 0 ? opts_.batch_size : max_reads;
  for (uint32_t i = 0; i < reads; i++) {
    // Backpressure: read only what we can store. Memory for a worst-case split must be there
    // before the kernel hands us the packet, or it would be lost.
    if (sink.room() < cap && !pool.can_acquire_count(BufferPool::kLargeSlotSize, slots_needed)) {
      stats.pool_waits++;
      return finish(IoStatus::kPoolExhausted);
    }
    uint8_t hdr_bytes[kVirtioNetHdrLen];
    ssize_t n = dev_->read_raw(queue_, vnet_ ? hdr_bytes : nullptr, scratch_.get(), cap);
    stats.read_calls++;
    if (n < 0) {
      if (n == -EAGAIN || n == -EWOULDBLOCK) return finish(IoStatus::kWouldBlock, static_cast<int>(-n));
      if (n == -EINTR) continue;
      stats.read_errors++;
      return finish(IoStatus::kError, static_cast<int>(-n));
    }
    const size_t len = static_cast<size_t>(n);
    VirtioNetHdr h;
    if (vnet_ && !decode_virtio_net_hdr(hdr_bytes, sizeof hdr_bytes, &h)) {
      stats.drop_malformed++;
      continue;
    }
    const bool gso = vnet_ && h.gso_kind() != VIRTIO_NET_HDR_GSO_NONE;
    if (gso && opts_.split) {
      SplitStats ss;
      const size_t before = out.size();
      SplitResult r = gso_split(h, scratch_.get(), len, sink, &ss);
      const size_t produced = out.size() - before;
      if (r == SplitResult::no_memory) stats.drop_pool_exhausted++;
      else if (r != SplitResult::ok) stats.drop_malformed++;
      if (produced > 0) {
        stats.superpackets_in++;
        stats.segments_in += produced;
        stats.packets_in += produced;
        stats.bytes_in += ss.bytes;
      }
      continue;
    }
    if (len == 0) {
      stats.drop_malformed++;
      continue;
    }
    uint8_t* dst = sink.reserve(len);
    if (!dst) {
      stats.drop_pool_exhausted++;
      return finish(IoStatus::kPoolExhausted);
    }
    if (vnet_ && !gso && (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
      // Copied into the slot and the checksum completed in the same pass (an abandoned
      // reservation is reused by the next packet).
      if (copy_complete_checksum(h, scratch_.get(), len, dst) != SplitResult::ok) {
        stats.drop_malformed++;
        continue;
      }
      stats.checksums_completed++;
    } else {
      std::memcpy(dst, scratch_.get(), len);
    }
    sink.commit(len);
    if (gso) {  // split: false, the superpacket goes out whole with its metadata
      Packet& p = out.back();
      p.gso.gso_type = h.gso_kind();
      p.gso.ecn = (h.gso_type & VIRTIO_NET_HDR_GSO_ECN) != 0;
      p.gso.flags = h.flags;
      p.gso.hdr_len = h.hdr_len;
      p.gso.gso_size = h.gso_size;
      p.gso.csum_start = h.csum_start;
      p.gso.csum_offset = h.csum_offset;
      stats.superpackets_in++;
    }
    stats.packets_in++;
    stats.bytes_in += len;
  }
  return finish(IoStatus::kOk);
}

ssize_t TunQueueIo::write_one(const GroPacket* in, const GroWrite& w, const GroPlan& plan) {
  uint8_t hdr[kVirtioNetHdrLen];
  // The iovec is filled in place (sized once; it only grows): no capacity check per member.
  const size_t count = (vnet_ ? 1 : 0) + 1 + size_t{w.members_count};
  if (iov_.size() < count) iov_.resize(count);
  iovec* v = iov_.data();
  if (vnet_) {
    encode_virtio_net_hdr(w.hdr, hdr);
    *v++ = {hdr, sizeof hdr};
  }
  const GroPacket& head = in[w.packet];
  *v++ = {head.data, head.len};
  const GroMember* g = plan.members.data() + w.members_begin;
  const GroMember* const end = g + w.members_count;
  for (; g != end; ++g) *v++ = {in[g->packet].data + g->offset, g->length};
  return write_packet(iov_.data(), static_cast<int>(count), w.members_count > 0);
}

ssize_t TunQueueIo::write_packet(const iovec* iov, int iovcnt, bool coalesced) {
  return writer_ ? writer_->write(iov, iovcnt, coalesced) : dev_->write_raw(queue_, iov, iovcnt);
}

bool TunQueueIo::write_segments_one_by_one(const GroPacket* in, const GroWrite& w, const GroPlan& plan,
                                           TunStats& stats) {
  // Gather the coalesced packet (head + slices) and split it again: gso_split gives back the
  // member packets exactly (see gro_coalesce.h), each written on its own without a GSO type.
  size_t len = 0;
  const GroPacket& head = in[w.packet];
  std::memcpy(scratch_.get(), head.data, head.len);
  len = head.len;
  for (uint32_t m = 0; m < w.members_count; m++) {
    const GroMember& g = plan.members[w.members_begin + m];
    std::memcpy(scratch_.get() + len, in[g.packet].data + g.offset, g.length);
    len += g.length;
  }
  auto sink = std::make_unique<WritingSink>(
      [this](const iovec* iov, int iovcnt) { return write_packet(iov, iovcnt, false); }, vnet_);
  SplitResult r = gso_split(w.hdr, scratch_.get(), len, *sink);
  stats.write_calls += sink->calls;
  stats.packets_out += sink->written;
  stats.bytes_out += sink->bytes;
  stats.drop_write_rejected += sink->failed;
  const uint64_t expected = w.members_count + 1;
  if (r != SplitResult::ok && sink->written + sink->failed < expected) {
    stats.drop_malformed += expected - sink->written - sink->failed;
  }
  return r == SplitResult::ok;
}

// TUNIO_DEBUG=1: which packet the kernel refused, and why (errno plus the IP header fields
// that identify it), on stderr. Off by default: rejected packets are counted, not logged.
void TunQueueIo::log_rejected(int err, const GroPacket& head, uint32_t members) const {
  const uint8_t* p = head.data;
  const uint32_t n = head.len;
  char what[160] = "not IP";
  if (n >= 20 && (p[0] >> 4) == 4) {
    std::snprintf(what, sizeof what, "IPv4 %u.%u.%u.%u -> %u.%u.%u.%u proto %u len %u", p[12], p[13], p[14],
                  p[15], p[16], p[17], p[18], p[19], p[9], (p[2] << 8) | p[3]);
  } else if (n >= 40 && (p[0] >> 4) == 6) {
    std::snprintf(what, sizeof what,
                  "IPv6 %02x%02x:%02x%02x:..:%02x%02x -> %02x%02x:%02x%02x:..:%02x%02x next header %u payload %u",
                  p[8], p[9], p[10], p[11], p[22], p[23], p[24], p[25], p[26], p[27], p[38], p[39], p[6],
                  (p[4] << 8) | p[5]);
    if (p[6] == 58 && n > 40) {  // ICMPv6: the type tells RS (133), NS (135), MLD (143), ...
      const size_t used = std::strlen(what);
      std::snprintf(what + used, sizeof what - used, " icmpv6 type %u", p[40]);
    }
  }
  std::fprintf(stderr, "tunio: TUN write refused (%s, errno %d): %s, %u bytes, %u coalesced members\n",
               errno_name(err), err, what, n, members);
}

size_t TunQueueIo::plan_window(const std::vector<Packet>& pkts) {
  if (pkts.size() <= kMaxPlan) return pkts.size();
  // Back off from the blind cut to the last change of slot, unless that would halve the window
  // (packets of one slot throughout: any cut is as good as another).
  size_t cut = kMaxPlan;
  while (cut > kMaxPlan / 2 && pkts[cut].slot.get() == pkts[cut - 1].slot.get()) cut--;
  return cut > kMaxPlan / 2 ? cut : kMaxPlan;
}

void TunQueueIo::make_plan(const GroPacket* in, size_t n, TunStats& stats) {
  plan_n_ = n;
  if (coalesce_tcp_ || coalesce_udp_) {
    GroOptions g = coalescer_.options();
    if (g.tcp != coalesce_tcp_ || g.udp != coalesce_udp_) {
      g.tcp = coalesce_tcp_;
      g.udp = coalesce_udp_;
      coalescer_ = GroCoalescer(g);
    }
    coalescer_.plan(in, n, &plan_);
    for (size_t r = 0; r < kGroRefusalCount; r++) stats.coalesce_refusals[r] += plan_.stats.refused[r];
  } else {
    plan_.writes.clear();
    plan_.members.clear();
    for (size_t i = 0; i < n; i++) {
      GroWrite w;
      w.packet = static_cast<uint32_t>(i);
      w.total_len = in[i].len;
      plan_.writes.push_back(w);
    }
  }
  plan_pos_ = 0;
  plan_done_ = 0;
  plan_active_ = true;
}

int TunQueueIo::write_planned(const GroPacket* in, TunStats& stats) {
  while (plan_pos_ < plan_.writes.size()) {
    const GroWrite& w = plan_.writes[plan_pos_];
    const GroPacket& head = in[w.packet];
    const uint64_t count = w.members_count + 1;
    if (head.len == 0) {  // an empty packet, or one without memory (planned with no data)
      stats.drop_malformed += count;
      plan_done_ += count;
      plan_pos_++;
      continue;
    }
    if (coalesce_refused_ && w.members_count > 0) {
      // Planned before coalescing was refused: write its segments one by one too, rather
      // than meet (and count) the same EINVAL again.
      write_segments_one_by_one(in, w, plan_, stats);
      plan_done_ += count;
      plan_pos_++;
      continue;
    }
    const ssize_t r = write_one(in, w, plan_);
    stats.write_calls++;
    if (r >= 0) {
      stats.packets_out += count;
      stats.bytes_out += w.total_len;
      if (w.members_count > 0) {
        stats.superpackets_out++;
        stats.segments_out += count;
      }
      plan_done_ += count;
      plan_pos_++;
      continue;
    }
    const int e = static_cast<int>(-r);
    if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) return e;  // resume here; the caller reports which ('congestion')
    if (e == EINTR) continue;
    if (w.members_count > 0 && e == EINVAL) {
      // Some kernels refuse coalesced writes: nothing is lost, the segments go one by one,
      // and this queue stops coalescing. Known case: Linux 6.6.44 and other 2024 stable
      // trees took commit e269d79c7d35 ("net: missing check virtio"), whose check in
      // virtio_net_hdr_to_skb() (include/linux/virtio_net.h, called from tun_get_user() in
      // drivers/net/tun.c) fails a UDP GSO write whose last segment is shorter than
      // gso_size with EINVAL; commit 89add40066f9 (Linux 6.11) replaced that check.
      stats.coalesce_fallbacks++;
      disable_coalescing();
      write_segments_one_by_one(in, w, plan_, stats);
      plan_done_ += count;
      plan_pos_++;
      continue;
    }
    if (e == EBADF || e == EBADFD || e == EFAULT) return e;
    stats.drop_write_rejected += count;  // EINVAL, EMSGSIZE, EIO (link down), ...: this packet only
    if (debug_) log_rejected(e, head, w.members_count);
    plan_done_ += count;
    plan_pos_++;
  }
  return 0;
}

IoResult TunQueueIo::write_batch(std::vector<Packet>& pkts, TunStats& stats) {
  // Packets already written or dropped by a plan this call resumes were counted by the call
  // that wrote them: `done` counts from here.
  const size_t before = pkts.size() - done_in_plan();
  const uint64_t dropped_before = stats.drop_malformed + stats.drop_write_rejected;
  auto finish = [&](IoStatus status, int err = 0) {
    IoResult r;
    r.status = status;
    r.done = before - (pkts.size() - done_in_plan());
    r.dropped = static_cast<size_t>(stats.drop_malformed + stats.drop_write_rejected - dropped_before);
    if (err != 0) r.error = SysError::make(err, "writev");
    return r;
  };
  while (!pkts.empty()) {
    if (!plan_active_) {
      // Plan at most one window at a time; the rest waits in `pkts`.
      const size_t n = plan_window(pkts);
      gro_in_.resize(n);
      for (size_t i = 0; i < n; i++) {
        Packet& p = pkts[i];
        gro_in_[i].data = p.valid() ? p.data() : nullptr;
        gro_in_[i].len = p.valid() ? p.length : 0;
      }
      make_plan(gro_in_.data(), n, stats);
    }
    const int e = write_planned(gro_in_.data(), stats);
    if (e != 0) return finish(IoResult::status_of(e), e);
    pkts.erase(pkts.begin(), pkts.begin() + static_cast<std::ptrdiff_t>(plan_n_));
    plan_active_ = false;
    plan_done_ = 0;
  }
  return finish(IoStatus::kOk);
}

IoResult TunQueueIo::write_views(ViewBatch& batch, std::vector<Packet>& pkts, TunStats& stats) {
  const size_t n = batch.size();
  const uint64_t dropped_before = stats.drop_malformed + stats.drop_write_rejected;
  IoResult r;
  if (n == 0) return r;
  // Planned and written from the views where they are (no copy into gro_in_, no Packet each).
  make_plan(batch.views(), n, stats);
  const int e = write_planned(batch.views(), stats);
  r.dropped = static_cast<size_t>(stats.drop_malformed + stats.drop_write_rejected - dropped_before);
  if (e == 0) {
    plan_active_ = false;
    plan_done_ = 0;
    r.done = n;
    batch.clear();  // the slots' references: the kernel has copied every byte
    return r;
  }
  // Stopped inside the plan: the window becomes Packets in `pkts` (the views' data pointers,
  // which the plan indexes and has patched, stay in gro_in_), as if write_batch had planned them.
  r.status = IoResult::status_of(e);
  r.error = SysError::make(e, "writev");
  r.done = plan_done_;
  gro_in_.assign(batch.views(), batch.views() + n);
  batch.to_packets(pkts);
  return r;
}

}  // namespace tunio
