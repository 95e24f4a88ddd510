// The TUN device as JavaScript sees it (lib/tun.ts wraps this): open + link configuration,
// per-queue batched reads and writes, fd watching, stats.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "buffer_pool.h"
#include "event_log.h"
#include "fd_watcher.h"
#include "forward_wrap.h"
#include "io_wrap.h"
#include "js_checked.h"
#include "link_monitor.h"
#include "open_handle.h"
#include "send_queue.h"
#include "tun_device.h"
#include "tun_io.h"

namespace tunio {

// The keys of stats().coalesceRefusals in GroRefusal order (exported as
// binding.coalesceRefusals: lib/tun.ts's CoalesceRefusal type is checked against it).
Napi::Array CoalesceRefusalNamesToJs(Napi::Env env);
// A queue's stats() with every counter 0: the shape JS sees (binding.statsShapes.tunQueue,
// held to lib/tun.ts's TunQueueStats by test/shared-facts.test.ts).
Napi::Value TunQueueStatsShapeToJs(Napi::Env env);
// tun.stats(): the sum of the queues' counters (TunStats, TUNIO_TUN_STATS), then the device's
// own keys, built by TunStatsToJs for stats() and, with no queue and every count 0, for
// binding.statsShapes.tun (held to lib/tun.ts's TunStats by test/shared-facts.test.ts).
struct TunDeviceStats {
  TunStats total;            // every queue's counters summed
  size_t write_queued = 0;   // packets all queues hold for the kernel
  bool coalescing_tcp = false;  // some queue coalesces TCP (UDP) now
  bool coalescing_udp = false;
  uint64_t coalesce_retries = 0;  // TunWrap's coalescing back-off (see its members)
  uint64_t coalesce_suspensions = 0;
  uint64_t coalesce_probe_failures = 0;
  uint64_t coalesce_restores = 0;
  bool read_offload = false;  // superpackets on read now
  PoolStats pool;
};
JsObject TunStatsToJs(napi_env env, const TunDeviceStats& d, const JsArray& queues);
Napi::Value TunStatsShapeToJs(Napi::Env env);
// The defaults of the core for the openTun() options that have one (binding.nativeDefaults.tun).
Napi::Value TunDefaultsToJs(Napi::Env env);

class TunWrap : public IoWrap<TunWrap> {
 public:
  static constexpr IoClass kIoClass{"NativeTun", kTunTypeTag, "tunio.Tun"};
  static Napi::Function Define(Napi::Env env);
  explicit TunWrap(const Napi::CallbackInfo& info);
  ~TunWrap() override;

  // A native forward's sink for a UDP source's datagrams as views (ForwardWrap; view_batch.h):
  // what EnqueueSend does with the same datagrams as Packets (the same admission, writes,
  // counts and events), written from the views when queue q holds nothing; they become
  // Packets in the queue only when some wait (then, or when the write stops).
  void EnqueueViews(int q, ViewBatch& batch);

 private:
  friend class IoWrap<TunWrap>;  // Open, CloseOwn, the queue accessors, the shared JS methods
  friend struct FaultSeam;        // tests' faults in a queue's writer (fault_seam.h)
  struct Queue {
    std::unique_ptr<TunQueueIo> io;
    std::unique_ptr<FdWatcher> watcher;
    SendQueue pending;  // accepted by write(), waiting for the fd
    bool want_read = false;
    bool attached = true;  // TUNSETQUEUE state: a detached queue receives nothing
    ForwardLinks links;
    TunStats stats;
  };
  SendQueue& SendQueueOf(int q) { return queues_[static_cast<size_t>(q)].pending; }
  ForwardLinks& LinksOf(int q) { return queues_[static_cast<size_t>(q)].links; }
  // The queue operations (IoWrap's list; a forward's end is made of them, watchReadable()
  // uses WatchQueue). `to` is the UDP destination: a TUN queue ignores it.
  int QueueCount() const { return static_cast<int>(queues_.size()); }
  IoResult ReadQueue(int q, std::vector<Packet>& out, uint32_t max_reads);
  // bytesIn: each packet appended counts its length (a split superpacket its segments').
  uint64_t BytesRead(int q) const { return queues_[static_cast<size_t>(q)].stats.bytes_in; }
  void WatchQueue(int q, bool on);
  void EnqueueSend(int q, std::vector<Packet>& pkts, const IpEndpoint&);
  bool HasNotice(int) const { return !closed_ && !events_.empty(); }  // the device's events, any queue's
  void NotifyJs(int q);
  bool Open(Napi::Env env, Napi::Object options, const Napi::CallbackInfo& info);

  // What happened since JS last asked (takeEvents): 'offload' (coalescing suspended after the
  // kernel refused a coalesced write, or back after a probe went out), 'congestion' (a queue's
  // writes started waiting for the fd), 'drain' (that queue's wait is over), 'drop' (packets
  // given to write() that will never be written, by reason). lib/tun.ts emits them. Bounded:
  // a repeat of the last drop is merged into it.
  struct DeviceEvent {
    const char* type;
    int queue = 0;
    const char* reason = nullptr;  // congestion: errno name; drop: queueFull | poolExhausted
    uint64_t count = 0;            // congestion: packets waiting; drop: packets dropped
    int err = 0;                   // offload: the errno that suspended coalescing
    bool enabled = false;          // offload
    uint64_t retry_ms = 0;         // offload, suspended: when the next probe may go
  };

  // The JS methods of every I/O handle (IoWrap::DefineIo), then NativeTun's own (Define).
  Napi::Value ReadBatch(const Napi::CallbackInfo& info);
  Napi::Value WatchReadable(const Napi::CallbackInfo& info);
  Napi::Value TakeEvents(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value SetOffload(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value LinkStats(const Napi::CallbackInfo& info);
  Napi::Value SetQueueAttached(const Napi::CallbackInfo& info);
  Napi::Value WatchLink(const Napi::CallbackInfo& info);
  Napi::Value QueueFd(const Napi::CallbackInfo& info);
  void SetCoalescing(bool on);

  bool QueueArg(const Napi::CallbackInfo& info, size_t index, int* q);
  // Writes queue q's packets (write_batch), or with `views` the batch a forward hands to an
  // empty queue (write_views), then reports congestion, drain and coalescing as they change.
  void Flush(int q, ViewBatch* views = nullptr);
  // write()'s and a forward's tail: admits the packets appended from `before` on (the newest
  // beyond writeQueueLength dropped and counted), returns how many stay queued.
  size_t Admit(int q, size_t before);
  // Then writes them now unless the queue waits for the fd (it keeps order).
  void FlushAdmitted(int q, size_t accepted);
  // Packets a queue holds that the kernel has not taken yet (`pending` minus what the active
  // write plan already wrote: a plan interrupted by EAGAIN is resumed, then erased whole).
  static size_t Waiting(const Queue& q) { return q.pending.waiting(q.io ? q.io->done_in_plan() : 0); }
  void RecordEvent(const DeviceEvent& e);
  // 'drop' of `count` packets of queue q (none: no event); err: the errno of a failed write.
  void RecordDrop(int q, const char* reason, uint64_t count, int err = 0);
  // 'offload': coalescing suspended (with the back-off until the next probe) or back.
  void RecordCoalescing(int q, bool enabled);
  void OnReady(int q, int events, int status);
  void OnLinkReady(int status);
  void StopLinkMonitor();
  void CloseOwn();  // IoWrap::CloseAll's step: this wrap's own watchers, timers and fds

  TunDevice dev_;
  std::vector<Queue> queues_;
  // 'link' events (rtnetlink RTMGRP_LINK), only while JS listens for them. The poll is
  // unref'd: watching the link alone never keeps the process alive.
  LinkMonitor link_monitor_;
  std::unique_ptr<FdWatcher> link_watcher_;
  Napi::FunctionReference link_callback_;
  uint32_t gso_max_size_ = 0;       // set by the link configuration; 0: not set
  std::string gso_max_size_error_;  // the default gso_max_size the kernel refused
  // Coalescing after the kernel refused a coalesced write (Flush): off until coalesce_retry_at_ms_
  // (monotonic), then on again as a probe; the back-off doubles while probes are refused.
  static constexpr uint64_t kCoalesceFirstBackoffMs = 1000;
  static constexpr uint64_t kCoalesceMaxBackoffMs = 60000;
  uint64_t coalesce_backoff_ms_ = 0;
  uint64_t coalesce_retry_at_ms_ = 0;  // 0: coalescing as configured
  bool coalesce_probing_ = false;
  uint64_t coalesce_retries_ = 0;      // probes made (coalescing switched on again)
  uint64_t coalesce_suspensions_ = 0;  // on -> off (an 'offload' event each)
  uint64_t coalesce_probe_failures_ = 0;  // probes refused again (back-off doubled, no event)
  uint64_t coalesce_restores_ = 0;     // off -> on: a probe's coalesced write went out (an event each)
  int coalesce_err_ = 0;               // the errno of the refusal that suspended coalescing
  EventLog<DeviceEvent> events_;
  // Coalesced writes switched off by the operator (setOffload('gro', false) or
  // TUNIO_DISABLE_TUN_GRO): no back-off probe may switch them on again.
  bool coalesce_switched_off_ = false;
};

}  // namespace tunio
