// The UDP socket as JavaScript sees it (lib/udp.ts wraps this): batched receive with GRO,
// batched send with GSO, a bounded send queue drained when the socket is writable.
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
#include "open_handle.h"
#include "send_queue.h"
#include "udp_socket.h"
#include "udp_socket_faults.h"
#include "udp_stats.h"

namespace tunio {

// PeerErrorCounts as JS sees it (stats().recvErrors, drops.peer, peerErrors; with every count 0
// also binding.statsShapes.peerErrors, held to lib/udp.ts's PeerErrorCounts by a test).
JsObject PeerErrorsToJs(napi_env env, const PeerErrorCounts& s);
// udp.stats() from its sources, as TUNIO_UDP_STATS (core/udp_stats.h) lists them (with every
// count 0 also binding.statsShapes.udp, held to lib/udp.ts's UdpStats by a test).
JsObject UdpStatsToJs(napi_env env, const UdpStatsSources& s);
// The defaults of the core for the openUdp() options that have one (binding.nativeDefaults.udp).
Napi::Value UdpDefaultsToJs(Napi::Env env);

class UdpWrap : public IoWrap<UdpWrap> {
 public:
  static constexpr IoClass kIoClass{"NativeUdp", kUdpTypeTag, "tunio.Udp"};
  static Napi::Function Define(Napi::Env env);
  explicit UdpWrap(const Napi::CallbackInfo& info);
  ~UdpWrap() override;

  // A native forward's read for a TUN sink (ForwardWrap): ReadQueue's reads, counts and
  // result, the datagrams as views (UdpSocket::recv_views) instead of Packets.
  IoResult ReadViews(ViewBatch& out, uint32_t max_reads);

 private:
  friend class IoWrap<UdpWrap>;  // Open, CloseOwn, the queue accessors, the shared JS methods
  friend struct FaultSeam;        // tests' faults in the socket's send calls (fault_seam.h)
  SendQueue& SendQueueOf(int) { return pending_; }
  ForwardLinks& LinksOf(int) { return links_; }
  // The queue operations (IoWrap's list) on the socket, its one queue, 0.
  static constexpr int QueueCount() { return 1; }
  // A forward's read: a short recvmmsg counts as empty (see udp_wrap.cc).
  IoResult ReadQueue(int, std::vector<Packet>& out, uint32_t max_reads);
  // ReadQueue and ReadViews: `read(messages)` is the recvmmsg (recv_batch or recv_views).
  template <typename Read>
  IoResult ReadForward(uint32_t max_reads, Read&& read);
  // bytesIn: each GRO read counts its length, the sum of the datagrams it was split into.
  uint64_t BytesRead(int) const { return recv_stats_.bytes; }
  void WatchQueue(int, bool on);
  void EnqueueSend(int, std::vector<Packet>& pkts, const IpEndpoint& to);
  bool HasNotice(int) const { return !closed_ && (socket_->has_errors() || HasSendEvents()); }
  void NotifyJs(int);
  bool Open(Napi::Env env, Napi::Object options, const Napi::CallbackInfo& info);
  // The JS methods of every I/O handle (IoWrap::DefineIo), then NativeUdp's own (Define).
  Napi::Value ReadBatch(const Napi::CallbackInfo& info);
  Napi::Value WatchReadable(const Napi::CallbackInfo& info);
  Napi::Value TakeEvents(const Napi::CallbackInfo& info);  // the send side's
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value SetOffload(const Napi::CallbackInfo& info);
  Napi::Value ParseTo(const Napi::CallbackInfo& info);
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value TakeErrors(const Napi::CallbackInfo& info);

  bool CheckOpen(Napi::Env env);
  // Sends what the queue holds; a packet without a remote of its own goes to `*default_to`
  // (null: the connected peer). Only EnqueueSend passes one, for a forward's batch that it
  // flushes from an empty queue.
  void Flush(const IpEndpoint* default_to = nullptr);
  // send()'s and a forward's tail: admits the datagrams appended from `before` on (the newest
  // beyond sendQueueLength dropped and counted), returns how many stay queued.
  size_t Admit(size_t before);
  // Then sends them now unless the queue waits for the socket (it keeps order).
  void FlushAdmitted(size_t accepted);
  // The send queue emptied after a wait: 'drain', and a forward into this socket reads again.
  void NoteDrained();
  // state_[0]/[1] for lib/udp.ts: whether peer errors / send events wait (see the constructor).
  void UpdateState();
  void OnRetryTimer();
  // Merged repeats of a peer error wait for the end of their interval: wake JS then.
  void ArmErrorTimer();
  void OnErrorTimer();
  bool HasSendEvents() const {
    return !send_events_.empty() ||
           (socket_ && (socket_->gso_backoff().has_events() || socket_->path_mtu().has_events()));
  }
  void EnterCongestion(const char* reason);
  void RecordSendEvent(const char* type, const char* reason, uint64_t count, int err = 0);
  void OnReady(int events, int status);
  void CloseOwn();  // IoWrap::CloseAll's step: this wrap's own watchers, timers and fds

  // The tests' kernel with faults (fault_seam.h; null unless a test injects one); declared
  // before socket_ so that it outlives the socket it is installed in.
  std::unique_ptr<UdpSocketFaults> send_faults_;
  std::unique_ptr<UdpSocket> socket_;
  std::unique_ptr<FdWatcher> watcher_;
  uv_timer_t* retry_timer_ = nullptr;  // ENOBUFS: POLLOUT may already be set, so retry on a timer
  uv_timer_t* error_timer_ = nullptr;  // see ArmErrorTimer
  SendQueue pending_;
  // send()'s `to`, parsed by parseTo() before lib/udp.ts moves any lease; the next send(items,
  // true) applies it and clears it.
  IpEndpoint send_to_;
  uint64_t drop_queue_full_ = 0;
  uint64_t drop_pool_exhausted_ = 0;
  uint64_t send_errors_ = 0;
  uint64_t poll_errors_ = 0;  // POLLERR wake-ups (error queue drained)
  // What the send side went through since JS last asked: 'congestion' (the queue started
  // waiting on EAGAIN/ENOBUFS), 'drain' (it emptied again), 'drop' (datagrams lost, by reason).
  // lib/udp.ts turns them into events. Bounded: repeats of the last event are merged.
  struct SendEvent {
    const char* type;
    const char* reason;  // nullptr for 'drain'
    uint64_t count;      // datagrams dropped, or queued when congestion began
    int err;             // errno of a failed send, else 0
  };
  EventLog<SendEvent> send_events_;
  RecvStats recv_stats_;
  SendStats send_stats_;
  UdpSocketStats closed_socket_stats_;  // the socket's own counts as of close()
  ForwardLinks links_;  // the native forwards reading this socket, sending through it
  // JS's Uint8Array(2) (the constructor's 4th argument, optional): [0] peer errors wait for
  // takeErrors(), [1] send events wait for takeEvents(), as of the end of the last
  // readBatch()/send(). lib/udp.ts reads them instead of calling both after every batch.
  Napi::Reference<Napi::Uint8Array> state_ref_;
  uint8_t* state_ = nullptr;
};

}  // namespace tunio
