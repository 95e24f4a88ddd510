// Batched packet I/O on one TUN queue: the read path (readv of [virtio hdr][superpacket],
// GSO split into packed pool slots) and the write path (GRO coalescing, one writev per
// superpacket, fallbacks). The device handshake lives in tun_device.*, the packet surgery in
// gso_split.* / gro_coalesce.*; this file is the policy between them. No Node headers.
#pragma once

#include <sys/uio.h>

#include <cerrno>

#include <cstdint>
#include <memory>
#include <vector>

#include "buffer_pool.h"
#include "gro_coalesce.h"
#include "gso_split.h"
#include "io_result.h"
#include "packet.h"
#include "tun_device.h"
#include "tun_stats.h"
#include "view_batch.h"

namespace tunio {

struct TunIoOptions {
  bool split = true;           // false: deliver superpackets whole with their GsoMeta
  bool coalesce_tcp = true;    // used only when the kernel accepted TSO
  bool coalesce_udp = true;    // used only when the kernel accepted USO
  uint32_t batch_size = 64;    // kernel reads per read_batch
  // Bytes reserved before and after every packet read (Packet::headroom/tailroom), so a
  // protocol header and an AEAD tag can be added in place (aead.h). At most kMaxPacketRoom each.
  uint32_t headroom = 0;
  uint32_t tailroom = 0;
};

// Where a TunQueueIo's writes go when not straight to its device: one packet or coalesced
// superpacket per call, the iovec as for TunDevice::write_raw. Tests (and the addon's TEST ONLY
// hooks) put one in between to fail chosen writes (tun_io_faults.h); production code never
// sets one, so its writes are a direct call.
class TunWriter {
 public:
  virtual ~TunWriter() = default;
  // Bytes written or -errno. `coalesced`: a superpacket the coalescer built.
  virtual ssize_t write(const iovec* iov, int iovcnt, bool coalesced) = 0;
};

class TunQueueIo {
 public:
  TunQueueIo(TunDevice* dev, int queue, TunIoOptions opts);

  // Reads up to batch_size packets (superpackets split) into `out`. Stops early with
  // kWouldBlock when the queue is empty, kPoolExhausted when the pool cannot hold one more
  // worst-case superpacket (backpressure: nothing is read that could not be stored), kError on
  // a read failure other than EAGAIN (`error`, call "readv"). Packets already appended stay
  // valid in any case; `done` counts them. `max_reads` (0: batch_size) caps the kernel reads
  // of this call: a native forward reads, seals and sends in rounds that stay in the cache.
  IoResult read_batch(BufferPool& pool, std::vector<Packet>& out, TunStats& stats, uint32_t max_reads = 0);

  // Writes packets from the front of `pkts` (coalescing what it can), removing what the
  // kernel took or what was dropped (`done`, of them `dropped`). kWouldBlock (EAGAIN) or
  // kNoBuffers (ENOBUFS): the fd is full, the rest stays. kError: the fd is broken (EBADF,
  // EBADFD, EFAULT), the rest stays for the caller to drop.
  IoResult write_batch(std::vector<Packet>& pkts, TunStats& stats);

  // write_batch for a native forward's batch of views (view_batch.h), when nothing waits:
  // `pkts` (the queue write_batch writes from) empty and can_write_views(batch.size()). Planned
  // and written from the views in place, no Packet per datagram; the same writes, counts and
  // result as write_batch on the same datagrams as Packets. Written in full: `batch` is
  // cleared (its slot references dropped). Stopped (kWouldBlock, kNoBuffers, kError): the
  // batch is moved into `pkts` as Packets with the plan still active, which write_batch
  // resumes (done_in_plan() of them are written or dropped).
  IoResult write_views(ViewBatch& batch, std::vector<Packet>& pkts, TunStats& stats);
  bool can_write_views(size_t n) const { return !plan_active_ && n <= kMaxPlan; }

  // Packets at the front of the caller's vector that write_batch already wrote or dropped but
  // has not erased yet (a plan interrupted by EAGAIN is resumed, not re-planned): what waits
  // for the kernel is the vector's size minus this.
  size_t done_in_plan() const { return plan_active_ ? plan_done_ : 0; }
  // The caller discarded its vector (the fd failed, or close): a plan in progress is void.
  void abandon_plan() {
    plan_active_ = false;
    plan_done_ = 0;
  }
  bool coalescing_tcp() const { return coalesce_tcp_; }
  bool coalescing_udp() const { return coalesce_udp_; }
  // Stops coalescing on this queue (another queue of the device hit the EINVAL fallback).
  void disable_coalescing() {
    coalesce_tcp_ = coalesce_udp_ = false;
    coalesce_refused_ = true;
  }
  // Coalesces again as configured (a probe after a back-off: TunWrap never stops for good).
  void enable_coalescing() {
    coalesce_tcp_ = coalesce_tcp_configured_;
    coalesce_udp_ = coalesce_udp_configured_;
    coalesce_refused_ = false;
  }

  // Every write from now on goes through `writer` (null: straight to the device again). A
  // seam for tests: see TunWriter.
  void set_writer(std::unique_ptr<TunWriter> writer) { writer_ = std::move(writer); }

 private:
  // One write to the writer, or to the device when there is none; bytes, or -errno.
  ssize_t write_packet(const iovec* iov, int iovcnt, bool coalesced);
  // Plans the window in[0, n) into plan_ (coalesced when on, else one write each) and makes it
  // the active plan.
  void make_plan(const GroPacket* in, size_t n, TunStats& stats);
  // Writes the active plan on from plan_pos_ (`in`: the window it was planned from): 0 when
  // every write is done, else the errno that stopped it (EAGAIN, EWOULDBLOCK, ENOBUFS: resume
  // later; EBADF, EBADFD, EFAULT: the fd is broken).
  int write_planned(const GroPacket* in, TunStats& stats);
  // Writes one planned write; returns bytes, or -errno.
  ssize_t write_one(const GroPacket* in, const GroWrite& w, const GroPlan& plan);
  // A coalesced write the kernel refused: re-split it and write the segments one by one.
  bool write_segments_one_by_one(const GroPacket* in, const GroWrite& w, const GroPlan& plan, TunStats& stats);

  TunDevice* dev_;
  int queue_;
  TunIoOptions opts_;
  bool vnet_ = false;
  bool coalesce_tcp_ = false;
  bool coalesce_udp_ = false;
  bool coalesce_tcp_configured_ = false;  // what open() negotiated, for enable_coalescing()
  bool coalesce_udp_configured_ = false;
  std::unique_ptr<TunWriter> writer_;  // null: write to dev_ directly
  void log_rejected(int err, const GroPacket& head, uint32_t members) const;
  bool debug_ = false;              // TUNIO_DEBUG set: log refused writes to stderr
  bool coalesce_refused_ = false;  // EINVAL fallback happened: coalesced writes still planned split
  std::unique_ptr<uint8_t[]> scratch_;  // one superpacket read from the kernel
  GroCoalescer coalescer_;
  GroPlan plan_;
  std::vector<GroPacket> gro_in_;
  std::vector<iovec> iov_;
  // A plan in progress (a write hit EAGAIN): its coalesced heads are already patched, so it
  // must be resumed, not re-planned.
  // At most kMaxPlan packets are planned at once (the scratch grows to that once). A longer
  // batch is cut where the slot changes, not at packet kMaxPlan: the datagrams of one UDP GRO
  // read share a slot and are usually one superpacket, which a blind cut wrote as two.
  static constexpr size_t kMaxPlan = 1024;
  static size_t plan_window(const std::vector<Packet>& pkts);
  bool plan_active_ = false;
  size_t plan_pos_ = 0;
  size_t plan_n_ = 0;
  size_t plan_done_ = 0;  // packets of the active plan written or dropped (still in `pkts`)
};

}  // namespace tunio
