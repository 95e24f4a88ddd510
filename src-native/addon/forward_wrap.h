// A native forward (lib/forward.ts): batches read from one end are handed to the other inside
// the source's poll callback, with no JavaScript turn per batch: TUN queue -> UDP socket (each
// packet sealed first when an Aead is given) or UDP socket -> TUN queue (each datagram opened
// first). The ends are the same TunWrap / UdpWrap that read(), write() and send() use: the same
// read path (GSO split, recvmmsg with GRO), the same send queue and planner (UDP_SEGMENT runs,
// GRO coalescing), the same AEAD batch calls (aead.h). Only the hand-off between them moves
// out of JavaScript; JS is still called for what it has to see (events, peer errors, the end).
//
// Why a sealed round is a few reads: a TUN read batch of 64 superpackets is about 4 MB after the
// split, more than the L2 cache, so sealing it and then sending it read every byte back from
// memory twice. A sealed round of `batchSize` kernel reads (default 8) is read, sealed and sent
// while it is still in the cache; an unsealed round (default 64) has no pass between the split
// and the send. Rounds repeat until the source is empty (EAGAIN), as the JS reader does. The
// defaults are lib/forward.ts's FORWARD_DEFAULTS, which always passes batchSize.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <vector>

#include "io_result.h"
#include "open_handle.h"
#include "packet.h"
#include "view_batch.h"

namespace tunio {

class AeadWrap;
class ForwardWrap;
class TunWrap;
class UdpWrap;

// One end of a forward as ForwardWrap drives it: a TunWrap queue or a UdpWrap, through
// IoWrap<T> (io_wrap.h), which implements it once over the wrap's queue operations.
// `queue` is the TUN queue (UdpWrap ignores it).
class ForwardEnd {
 public:
  virtual ~ForwardEnd() = default;
  // Whether `queue` names a queue of this end (a UDP socket has queue 0 only).
  virtual bool ForwardHasQueue(int queue) const = 0;
  // Source: one read of up to `max_reads` kernel reads (TUN) or messages (UDP) into `out`,
  // counted in the end's own stats as readBatch() would; `bytes` gets the summed length of the
  // packets it appended (from those stats: no pass over the packets). kWouldBlock when the
  // source is empty: EAGAIN, or (UDP) a recvmmsg that returned fewer messages than asked.
  virtual IoResult ForwardRead(int queue, std::vector<Packet>& out, uint32_t max_reads, uint64_t& bytes) = 0;
  // Source: readable callbacks on or off.
  virtual void ForwardWatch(int queue, bool on) = 0;
  // Sink: takes the packets (moved out of `pkts`) as write()/send() would, queue limit, drops
  // and events included; `to` is the UDP destination (ignored by a TUN queue) of packets that,
  // as a TUN's, carry no remote of their own (a forward into a UDP socket comes from a TUN).
  virtual void ForwardWrite(int queue, std::vector<Packet>& pkts, const IpEndpoint& to) = 0;
  // Sink: waiting for the kernel (EAGAIN/ENOBUFS): the forward stops reading until drained.
  virtual bool ForwardCongested(int queue) const = 0;
  // Either end: whether this end (in that role) is already part of a forward.
  virtual bool ForwardLinked(int queue, bool as_source) const = 0;
  // Either end: `f` starts (or, nullptr, stops) using this end in that role.
  virtual void ForwardLink(int queue, bool as_source, ForwardWrap* f) = 0;
  // Either end: whether ForwardNotify would call JS now (something is recorded for it). The
  // forward holds its ends in local handles only for a wake-up that calls JS (OnReadable).
  virtual bool ForwardHasNotice(int queue) const = 0;
  // Either end: calls JS with what the forward's I/O recorded (events, peer errors), if any.
  virtual void ForwardNotify(int queue) = 0;
  // Either end: closed (a forward never starts on a closed end).
  virtual bool ForwardClosed() const = 0;
};

// The forward's own counts (stats() in lib/forward.ts); the ends count packets as always.
#define TUNIO_FORWARD_STATS(X)                                                             \
  X(rounds, top, "rounds")               /* source reads handed on */                     \
  X(packets, top, "packets")             /* packets handed to the sink */                 \
  X(bytes, top, "bytes")                 /* their bytes (after seal/open) */              \
  X(transform_drops, top, "transformDrops") /* failed seal/open: dropped, in aead stats */ \
  X(sink_waits, top, "sinkWaits")        /* paused: the sink waited for the kernel */     \
  X(pool_waits, top, "poolWaits")        /* paused: the pool was full (retried in 1 ms) */

struct ForwardStats {
#define TUNIO_FORWARD_STAT_MEMBER(name, group, key) uint64_t name = 0;
  TUNIO_FORWARD_STATS(TUNIO_FORWARD_STAT_MEMBER)
#undef TUNIO_FORWARD_STAT_MEMBER
};

class ForwardWrap : public Napi::ObjectWrap<ForwardWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  // new NativeForward(source, sink, options, onEnd(error)): source and sink a NativeTun and a
  // NativeUdp (either way round); options { queue, to?, seal?, open?, batchSize } as
  // lib/forward.ts validated them; onEnd is called once when the forward stops on its own (a
  // read error, the counter limit), not after stop() or an end's close().
  explicit ForwardWrap(const Napi::CallbackInfo& info);
  ~ForwardWrap() override;

  // From the source's poll callback: it is readable.
  void OnReadable();
  // From the sink: its queue emptied after a wait for the kernel.
  void OnSinkDrained();
  // From an end that closes (or the environment going away): unlink both ends, no JS call.
  void Detach();

 private:
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  // Stopped on its own (read error, counter limit): detach, then onEnd(error).
  void End(const char* code, const std::string& message, int err, const char* call);
  void Pause(bool for_pool);
  static void CleanupHook(void* arg);

  ForwardEnd* source_ = nullptr;
  ForwardEnd* sink_ = nullptr;
  int source_queue_ = 0;
  int sink_queue_ = 0;
  IpEndpoint to_;
  AeadWrap* aead_ = nullptr;  // seal (source TUN) or open (source UDP), or none
  bool seal_ = false;
  uint32_t batch_size_ = 8;  // lib/forward.ts always passes batchSize (FORWARD_DEFAULTS)
  Napi::ObjectReference source_ref_, sink_ref_, aead_ref_;  // the ends live while linked
  std::vector<Packet> batch_;                               // one round, reused
  // UDP -> TUN without open: the round's datagrams go as views (view_batch.h: a slot reference
  // per message, no Packet per datagram) from the socket to the TUN queue, which the forward
  // calls directly (UdpWrap::ReadViews, TunWrap::EnqueueViews); null otherwise.
  UdpWrap* view_source_ = nullptr;
  TunWrap* view_sink_ = nullptr;
  ViewBatch views_;  // one round, reused
  std::vector<uint64_t> counters_;                          // open's counters, reused
  uv_timer_t* pool_timer_ = nullptr;
  OpenHandle handle_;
  ForwardStats stats_;
  bool active_ = false;
  bool in_round_ = false;  // OnReadable is running: Detach from JS inside it must not free batch_
};

// Reads the TUNIO_FORWARD_STATS into a JS object.
Napi::Value ForwardStatsToJs(napi_env env, const ForwardStats& s);

}  // namespace tunio
