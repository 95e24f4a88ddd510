#include "udp_wrap.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <type_traits>

#include "addon_data.h"
#include "batch_wrap.h"
#include "endpoint_js.h"
#include "open_handle.h"
#include "errors.h"
#include "netlink.h"  // valid_ifname
#include "js_checked.h"
#include "packet_input.h"
#include "pool_wrap.h"
#include "stats_js.h"
#include "type_tags.h"

namespace tunio {

namespace {

// 'auto' | 'on' | 'off' (checked by lib/udp.ts); absent: `def`, the core's default.
Offload ParseOffload(Napi::Object o, const char* key, Offload def) {
  Napi::Value v = JsGet(o, key);
  if (!v.IsString()) return def;
  const std::string s = v.As<Napi::String>().Utf8Value();
  return s == "on" ? Offload::kOn : s == "off" ? Offload::kOff : Offload::kAuto;
}

// 'do' | 'probe' | 'dont' | 'want' (checked by lib/udp.ts); absent: `def`, the core's default.
PmtuMode ParsePmtu(Napi::Object o, PmtuMode def) {
  Napi::Value v = JsGet(o, "pmtu");
  if (!v.IsString()) return def;
  const std::string s = v.As<Napi::String>().Utf8Value();
  return s == "do" ? PmtuMode::kDo : s == "probe" ? PmtuMode::kProbe : s == "want" ? PmtuMode::kWant : PmtuMode::kDont;
}

}  // namespace

Napi::Value UdpDefaultsToJs(Napi::Env env) {
  const UdpOptions opts;
  return JsObject(env).Bool("ipv6Only", opts.ipv6_only).Bool("reusePort", opts.reuse_port)
      .Number("batchSize", opts.batch_size).Count("sendQueueLength", SendQueue::kDefaultLimit).result();
}

JsObject PeerErrorsToJs(napi_env env, const PeerErrorCounts& s) {
  GroupedStats out(env);
  TUNIO_PEER_ERROR_COUNTS(TUNIO_STATS_TO_JS)
  return out.done();
}

namespace {

// The nested objects of TUNIO_UDP_STATS (its OBJECT entries), by their type.
napi_value StatsObjectToJs(napi_env env, const PeerErrorCounts& s) { return PeerErrorsToJs(env, s).get(); }
napi_value StatsObjectToJs(napi_env env, const PoolStats& s) { return PoolStatsToJs(env, s); }

}  // namespace

JsObject UdpStatsToJs(napi_env env, const UdpStatsSources& s) {
  GroupedStats out(env);
#define TUNIO_UDP_STATS_OBJECT_TO_JS(source, group, js) out.in(#group).Value(js, StatsObjectToJs(env, s.source));
  TUNIO_UDP_STATS(TUNIO_STATS_TO_JS, TUNIO_UDP_STATS_OBJECT_TO_JS)
#undef TUNIO_UDP_STATS_OBJECT_TO_JS
  return out.done();
}

Napi::Function UdpWrap::Define(Napi::Env env) {
  return DefineIo(env,
                  {
                      InstanceMethod<&UdpWrap::ParseTo>("parseTo"),
                      InstanceMethod<&UdpWrap::Send>("send"),
                      InstanceMethod<&UdpWrap::TakeErrors>("takeErrors"),
                  });
}

// new NativeUdp(options, pool, onReadable): options validated by lib/udp.ts.
UdpWrap::UdpWrap(const Napi::CallbackInfo& info) : IoWrap(info) { OpenWith(info); }

bool UdpWrap::Open(Napi::Env env, Napi::Object o, const Napi::CallbackInfo& info) {
  UdpOptions opts;
  if (!ParseEndpoint(env, JsGet(o, "bind"), "bind", &opts.bind)) return false;
  Napi::Value connect = JsGet(o, "connect");
  if (!connect.IsUndefined() && !ParseEndpoint(env, connect, "connect", &opts.connect)) return false;
  opts.ipv6_only = JsTruthy(JsGet(o, "ipv6Only"));
  opts.reuse_port = JsTruthy(JsGet(o, "reusePort"));
  auto number = [&](const char* key, auto* out) {
    Napi::Value v = JsGet(o, key);
    if (v.IsNumber()) *out = static_cast<std::remove_pointer_t<decltype(out)>>(v.As<Napi::Number>().Int64Value());
  };
  number("innerFlowSteering", &opts.inner_flow_steering);
  number("recvBufferSize", &opts.recv_buffer);
  number("sendBufferSize", &opts.send_buffer);
  number("batchSize", &opts.batch_size);
  size_t send_queue_limit = SendQueue::kDefaultLimit;
  number("sendQueueLength", &send_queue_limit);
  pending_.set_limit(send_queue_limit);
  opts.gso = ParseOffload(o, "gso", opts.gso);
  opts.gro = ParseOffload(o, "gro", opts.gro);
  opts.pmtu = ParsePmtu(o, opts.pmtu);
  Napi::Value fwmark = JsGet(o, "fwmark");
  if (fwmark.IsNumber()) {
    opts.set_fwmark = true;
    opts.fwmark = static_cast<uint32_t>(fwmark.As<Napi::Number>().Int64Value());
  }
  Napi::Value device = JsGet(o, "bindDevice");
  if (device.IsString()) opts.bind_device = device.As<Napi::String>().Utf8Value();
  std::string why;  // the kernel's rules for the name, once (netlink.h; lib/udp.ts checks it is a string)
  if (!opts.bind_device.empty() && !valid_ifname(opts.bind_device, false, &why)) {
    ThrowInvalidOption(env, "bindDevice", why);
    return false;
  }
  UdpOpenResult r = UdpSocket::open(opts);
  if (!r.socket) {
    const bool refused = r.error.err == ENOPROTOOPT || r.error.err == EOPNOTSUPP;
    ThrowSysError(env, refused ? "ERR_TUNIO_OFFLOAD_REFUSED" : "ERR_TUNIO_UDP_OPEN", "cannot open UDP socket",
                  r.error.err, r.error.call ? r.error.call : "socket");
    return false;
  }
  socket_ = std::move(r.socket);
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  watcher_ = std::make_unique<FdWatcher>(loop, socket_->fd(), [this](int events, int status) { OnReady(events, status); });
  retry_timer_ = new uv_timer_t;
  uv_timer_init(loop, retry_timer_);
  retry_timer_->data = this;
  error_timer_ = new uv_timer_t;
  uv_timer_init(loop, error_timer_);
  uv_unref(reinterpret_cast<uv_handle_t*>(error_timer_));
  error_timer_->data = this;
  if (info.Length() > 3 && info[3].IsTypedArray() && info[3].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array &&
      info[3].As<Napi::Uint8Array>().ElementLength() >= 2) {
    state_ref_ = Napi::Persistent(info[3].As<Napi::Uint8Array>());
    state_ = info[3].As<Napi::Uint8Array>().Data();
  }
  return true;
}

void UdpWrap::UpdateState() {
  if (!state_ || closed_) return;
  state_[0] = socket_->has_errors() ? 1 : 0;
  state_[1] = HasSendEvents() ? 1 : 0;
}

UdpWrap::~UdpWrap() { CloseAll(); }

void UdpWrap::CloseOwn() {
  if (watcher_) watcher_->close();
  if (retry_timer_) {
    uv_timer_stop(retry_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(retry_timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    retry_timer_ = nullptr;
  }
  if (error_timer_) {
    uv_timer_stop(error_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(error_timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    error_timer_ = nullptr;
  }
  pending_.discard();
  // stats() after close reports what the socket counted until now (and no path suspended).
  if (socket_) {
    closed_socket_stats_ = UdpSocketStats::of(*socket_, monotonic_ms());
    closed_socket_stats_.gso_paths_suspended = 0;
  }
  socket_.reset();
}

bool UdpWrap::CheckOpen(Napi::Env env) {
  if (closed_) {
    ThrowError(env, "ERR_TUNIO_CLOSED", "UDP socket is closed");
    return false;
  }
  return true;
}

// readBatch() -> NativeBatch | 0 (nothing now) | 1 (pool full: backpressure)
Napi::Value UdpWrap::ReadBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  if (links_.out) {
    ThrowError(env, "ERR_TUNIO_FORWARDING", "the UDP socket is forwarded natively: stop() the forward to read it");
    return Napi::Value();
  }
  std::vector<Packet> out;
  out.reserve(kReadBatchPacketsHint);  // GRO reads carry tens of datagrams each (see tun_wrap.cc)
  IoResult r = socket_->recv_batch(*pool_, out, socket_->batch_size(), recv_stats_);
  UpdateState();
  if (!out.empty()) return BatchWrap::Create(env, pool_, std::move(out));
  if (r.status == IoStatus::kError) {
    ThrowSysError(env, "ERR_TUNIO_UDP_RECV", "receiving failed", r.error.err, r.error.call ? r.error.call : "recvmmsg");
    return Napi::Value();
  }
  return Napi::Number::New(env, r.status == IoStatus::kPoolExhausted ? 1 : 0);
}

Napi::Value UdpWrap::WatchReadable(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return Napi::Value();
  if (links_.out) return info.Env().Undefined();  // the forward decides while it runs
  WatchQueue(0, info.Length() > 0 && JsTruthy(info[0]));
  return info.Env().Undefined();
}

void UdpWrap::OnReady(int events, int status) {
  if (closed_) return;
  // status < 0: POLLERR. For this socket that means the error queue holds ICMP/local errors
  // (IP_RECVERR) or an error is pending; libuv has stopped polling. Read the queue now (it is
  // charged to the receive buffer, and POLLERR stays up until it is empty), then let both
  // directions run as if ready: the send queue flushes (re-arming POLLOUT if needed) and the
  // reader re-arms POLLIN when it still wants data.
  if (status < 0) {
    poll_errors_++;
    socket_->drain_error_queue();
  }
  if (status < 0 || (events & UV_WRITABLE)) Flush();
  bool readable = status < 0 || (events & UV_READABLE);
  if (readable && links_.out) {
    // Natively forwarded: the batches go straight to the other end (forward_wrap.h), whose
    // notifications may run JS that closes this socket.
    links_.out->OnReadable();
    if (closed_) return;
    readable = false;
  }
  // The poll stays armed on readable (see TunWrap::OnReady): the JS reader disarms it when a
  // wake-up finds nobody waiting. On POLLERR libuv stopped the handle and the reader re-arms.
  const bool errors = socket_->has_errors();
  const bool send_events = HasSendEvents();
  ArmErrorTimer();
  if (readable || errors || send_events) {
    // onReady(hasErrors, readable, hasSendEvents): JS emits 'peerError' and the send events
    // that were recorded, then wakes readers if the socket was readable.
    Napi::HandleScope scope(env_);
    handle_.Call({Napi::Boolean::New(env_, errors), Napi::Boolean::New(env_, readable),
                  Napi::Boolean::New(env_, send_events)});
  }
}

void UdpWrap::OnRetryTimer() {
  if (closed_) return;
  Flush();
  ArmErrorTimer();
  if (HasSendEvents() || socket_->has_errors()) {
    Napi::HandleScope scope(env_);
    handle_.Call({Napi::Boolean::New(env_, socket_->has_errors()), Napi::Boolean::New(env_, false),
                  Napi::Boolean::New(env_, HasSendEvents())});
  }
}

void UdpWrap::ArmErrorTimer() {
  if (closed_ || !error_timer_) return;
  const uint64_t due = socket_->next_error_flush_ms();
  if (due == 0) return;
  const uint64_t now = monotonic_ms();
  uv_timer_start(error_timer_, [](uv_timer_t* t) { static_cast<UdpWrap*>(t->data)->OnErrorTimer(); },
                 due > now ? due - now : 1, 0);
}

void UdpWrap::OnErrorTimer() {
  if (closed_) return;
  // onReady(hasErrors: true): JS takes the errors, and with them the merged repeats now due.
  Napi::HandleScope scope(env_);
  handle_.Call({Napi::Boolean::New(env_, true), Napi::Boolean::New(env_, false), Napi::Boolean::New(env_, HasSendEvents())});
  ArmErrorTimer();
}

void UdpWrap::RecordSendEvent(const char* type, const char* reason, uint64_t count, int err) {
  // The same drop again (or no room left): one event with the sum.
  send_events_.record({type, reason, count, err}, [](SendEvent& last, const SendEvent& next, bool full) {
    const bool same = std::strcmp(last.type, next.type) == 0 &&
                      (last.reason == next.reason || (last.reason && next.reason && std::strcmp(last.reason, next.reason) == 0));
    if (!same || !(full || std::strcmp(next.type, "drop") == 0)) return false;
    last.count += next.count;
    last.err = next.err ? next.err : last.err;
    return true;
  });
}

void UdpWrap::EnterCongestion(const char* reason) {
  if (pending_.congest()) RecordSendEvent("congestion", reason, pending_.waiting());
}

void UdpWrap::Flush(const IpEndpoint* default_to) {
  if (closed_ || pending_.empty()) {
    if (watcher_) watcher_->want_writable(false);
    if (!closed_ && pending_.drained()) NoteDrained();
    return;
  }
  IoResult r = socket_->send_batch(pending_.packets(), default_to, send_stats_);
  switch (r.status) {
    case IoStatus::kOk:
    case IoStatus::kPoolExhausted:  // a read's outcome: send_batch never returns it
      break;
    case IoStatus::kWouldBlock:
      EnterCongestion("EAGAIN");
      break;  // POLLOUT below
    case IoStatus::kNoBuffers:
      EnterCongestion("ENOBUFS");
      uv_timer_start(retry_timer_, [](uv_timer_t* t) { static_cast<UdpWrap*>(t->data)->OnRetryTimer(); }, 1, 0);
      watcher_->want_writable(false);
      return;
    case IoStatus::kError: {
      const size_t lost = pending_.discard();
      RecordSendEvent("drop", "sendFailed", lost, r.error.err);
      send_errors_ += lost;
      break;
    }
  }
  if (pending_.drained()) NoteDrained();
  watcher_->want_writable(!pending_.empty());
}

void UdpWrap::NoteDrained() {
  RecordSendEvent("drain", nullptr, 0);
  if (links_.in) links_.in->OnSinkDrained();
}

size_t UdpWrap::Admit(size_t before) {
  const SendQueue::Admitted a = pending_.admit(before);
  drop_queue_full_ += a.dropped;
  if (a.dropped > 0) RecordSendEvent("drop", "queueFull", a.dropped);
  return a.accepted;
}

void UdpWrap::FlushAdmitted(size_t accepted) {
  if (pending_.flush_now(accepted)) Flush();
  ArmErrorTimer();
}

IoResult UdpWrap::ReadQueue(int, std::vector<Packet>& out, uint32_t max_reads) {
  return ReadForward(max_reads, [&](uint32_t messages) { return socket_->recv_batch(*pool_, out, messages, recv_stats_); });
}

IoResult UdpWrap::ReadViews(ViewBatch& out, uint32_t max_reads) {
  return ReadForward(max_reads, [&](uint32_t messages) { return socket_->recv_views(*pool_, out, messages, recv_stats_); });
}

template <typename Read>
IoResult UdpWrap::ReadForward(uint32_t max_reads, Read&& read) {
  const uint32_t messages = max_reads == 0 || max_reads > socket_->batch_size() ? socket_->batch_size() : max_reads;
  const uint64_t calls = recv_stats_.recvmmsg_calls, read_before = recv_stats_.messages;
  IoResult r = read(messages);
  // One recvmmsg that came back with fewer messages than asked emptied the socket: the forward
  // stops here, as the C reference does (bench/tunnel_reference.c), instead of calling
  // recvmmsg once more for its EAGAIN (0.3-0.4 recvmmsg per TUN superpacket in
  // bench/profile-tunnel.js). The poll is level-triggered: a datagram that came in since wakes
  // the forward again. Not while GRO waits to be turned off, which happens at an EAGAIN.
  if (r.status == IoStatus::kOk && recv_stats_.recvmmsg_calls == calls + 1 && recv_stats_.messages - read_before < messages &&
      !socket_->gro_off_pending()) {
    r.status = IoStatus::kWouldBlock;
  }
  return r;
}

void UdpWrap::WatchQueue(int, bool on) {
  if (watcher_ && !closed_) watcher_->want_readable(on);
}

void UdpWrap::EnqueueSend(int, std::vector<Packet>& pkts, const IpEndpoint& to) {
  if (to.empty() || !pending_.empty()) {
    if (!to.empty()) {
      for (Packet& p : pkts) p.remote = to;
    }
    FlushAdmitted(Admit(pending_.append(pkts)));
    return;
  }
  // The queue is empty (the common case): the batch goes out with `to` as send_batch's default
  // destination instead of a copy of it in every packet (a forward's packets come from a TUN
  // and have no remote of their own, so `to` is every packet's destination either way). Only
  // what the kernel did not take now gets `to` written in: later flushes may send JavaScript's
  // packets too, whose empty remote means the connected peer.
  const size_t accepted = Admit(pending_.append(pkts));
  if (pending_.flush_now(accepted)) Flush(&to);
  for (Packet& p : pending_.packets()) p.remote = to;
  ArmErrorTimer();
}

void UdpWrap::NotifyJs(int q) {
  if (!HasNotice(q)) return;
  Napi::HandleScope scope(env_);
  handle_.Call({Napi::Boolean::New(env_, socket_->has_errors()), Napi::Boolean::New(env_, false),
                Napi::Boolean::New(env_, HasSendEvents())});
}

// parseTo(to): send()'s `to` parsed by the core (ERR_TUNIO_INVALID_OPTION 'to' with its
// reason) and kept for the next send(items, true). A call of its own because lib/udp.ts must
// refuse a bad `to` before it surrenders any lease (toNativeItems), and send() comes after.
Napi::Value UdpWrap::ParseTo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  send_to_ = IpEndpoint();
  if (!CheckOpen(env)) return Napi::Value();
  if (!ParseEndpoint(env, info.Length() > 0 ? info[0] : env.Undefined(), "to", &send_to_)) send_to_ = IpEndpoint();
  return env.Undefined();
}

// send(items, withTo?) -> datagrams accepted (sent or queued). With `withTo`, the endpoint
// parseTo() kept goes to every datagram (the override of their own remote, as `to` documents);
// otherwise each packet's own remote is used.
Napi::Value UdpWrap::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  const IpEndpoint to = send_to_;
  send_to_ = IpEndpoint();
  const bool has_to = info.Length() > 1 && JsTruthy(info[1]) && !to.empty();
  const size_t before = pending_.packets().size();
  CollectResult c = CollectPackets(env, info[0], *pool_, pending_.packets(), "datagrams");
  drop_pool_exhausted_ += c.pool_drops;
  if (c.pool_drops > 0) RecordSendEvent("drop", "poolExhausted", c.pool_drops);
  if (has_to) {
    for (size_t i = before; i < pending_.packets().size(); i++) pending_.packets()[i].remote = to;
  }
  const size_t accepted = Admit(before);
  if (!c.ok) {
    UpdateState();
    return Napi::Value();
  }
  FlushAdmitted(accepted);
  UpdateState();
  return Napi::Number::New(env, static_cast<double>(accepted));
}

// takeEvents() -> undefined (nothing happened: the common case, no allocation) or
// [{ type, reason?, count, errno? }] in the order they happened.
Napi::Value UdpWrap::TakeEvents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!HasSendEvents()) return env.Undefined();
  std::vector<GsoPathEvent> gso = socket_ ? socket_->gso_backoff().take_events() : std::vector<GsoPathEvent>();
  std::vector<PathMtuEvent> mtus = socket_ ? socket_->path_mtu().take_events() : std::vector<PathMtuEvent>();
  JsArray out(env, send_events_.size() + gso.size() + mtus.size());
  for (size_t i = 0; i < send_events_.size() && out.ok(); i++) {
    const SendEvent& e = send_events_[i];
    JsObject o(env);
    o.String("type", e.type);
    if (e.reason) o.String("reason", e.reason);
    o.Count("count", e.count);
    if (e.err) o.String("errno", errno_name(e.err));
    out.Set(static_cast<uint32_t>(i), o.get());
  }
  // GSO suspended for a path after the kernel refused it, or back after a probe went out.
  for (size_t k = 0; k < gso.size() && out.ok(); k++) {
    const GsoPathEvent& g = gso[k];
    JsObject o(env);
    o.String("type", "offload")
        .String("offload", "gso")
        .Bool("enabled", g.enabled)
        .String("errno", errno_name(g.err))
        .String("cause", g.fault == GsoFault::kNoOffload ? "noOffload" : "pathMtu")
        .Value("remote", EndpointToJs(env, g.dest, false));
    if (!g.enabled) o.Number("retryMs", g.retry_ms);
    out.Set(static_cast<uint32_t>(send_events_.size() + k), o.get());
  }
  // The path MTU the kernel reported for a peer changed.
  for (size_t k = 0; k < mtus.size() && out.ok(); k++) {
    JsObject o(env);
    o.String("type", "pathMtu")
        .Value("remote", EndpointToJs(env, mtus[k].dest, false))
        .Number("mtu", mtus[k].mtu)
        .String("source", mtu_source_name(mtus[k].source));
    out.Set(static_cast<uint32_t>(send_events_.size() + gso.size() + k), o.get());
  }
  send_events_.clear();
  UpdateState();
  return out.result();
}

// takeErrors() -> TunioError[]: code ERR_TUNIO_UDP_PEER, errno, syscall, plus `remote` (where
// the failed datagram was going), `origin` ('icmp' | 'icmp6' | 'local' | 'socket'),
// `icmpType`/`icmpCode` and `offender` (who sent the ICMP) for ICMP errors, `mtu` when known.
Napi::Value UdpWrap::TakeErrors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return Napi::Array::New(env, 0);
  std::vector<SocketError> errs = socket_->take_errors();
  UpdateState();
  JsArray arr(env, errs.size());
  for (size_t i = 0; i < errs.size() && arr.ok(); i++) {
    const SocketError& se = errs[i];
    const bool icmp = se.origin == ErrorOrigin::kIcmp || se.origin == ErrorOrigin::kIcmp6;
    std::string message = icmp ? "ICMP error for a datagram" : "datagram error reported by the kernel";
    if (!se.remote.empty()) {
      const std::string addr = AddressToString(se.remote);
      message += " to " + (se.remote.family == 6 ? "[" + addr + "]" : addr) + ":" + std::to_string(se.remote.port);
    }
    JsObject e(env, MakeSysError(env, "ERR_TUNIO_UDP_PEER", message, se.err, se.call ? se.call : "sendmsg"));
    if (!se.remote.empty()) e.Value("remote", EndpointToJs(env, se.remote, true));
    e.String("origin", error_origin_name(se.origin));
    if (icmp) {
      e.Number("icmpType", se.icmp_type).Number("icmpCode", se.icmp_code);
      if (!se.offender.empty()) e.Value("offender", EndpointToJs(env, se.offender, false));
    }
    if (se.err == EMSGSIZE && se.info > 0) e.Number("mtu", se.info);
    e.Number("count", se.count);
    arr.Set(static_cast<uint32_t>(i), e.get());
  }
  return arr.result();
}

Napi::Value UdpWrap::Stats(const Napi::CallbackInfo& info) {
  UdpStatsSources s;
  s.recv = recv_stats_;
  s.send = send_stats_;
  s.socket = socket_ ? UdpSocketStats::of(*socket_, monotonic_ms()) : closed_socket_stats_;
  s.queue.drop_full = drop_queue_full_;
  s.queue.drop_pool_exhausted = drop_pool_exhausted_;
  s.queue.send_failed = send_errors_;
  s.queue.poll_errors = poll_errors_;
  s.queue.waiting = pending_.waiting();
  s.pool = pool_->stats();
  return UdpStatsToJs(info.Env(), s).result();
}

Napi::Value UdpWrap::Info(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  if (!CheckOpen(info.Env())) return Napi::Value();
  const UdpFeatures& f = socket_->features();
  JsObject features(env);
  features.Bool("gso", f.gso).Bool("gro", f.gro).Number("maxGsoSegments", f.max_gso_segments);
  JsObject o(env);
  o.Value("local", EndpointToJs(info.Env(), socket_->local_address(), true));
  if (!socket_->peer().empty()) o.Value("peer", EndpointToJs(info.Env(), socket_->peer(), true));
  o.Value("features", features)
      .Number("recvBufferSize", socket_->recv_buffer_size())
      .Number("sendBufferSize", socket_->send_buffer_size())
      .Number("fwmark", socket_->fwmark())
      .String("bindDevice", socket_->bound_device());
  return o.result();
}

// setOffload('gso' | 'gro', on) -> whether it is on now (arguments checked by lib/udp.ts).
Napi::Value UdpWrap::SetOffload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  const std::string which = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  const bool on = info.Length() > 1 && JsTruthy(info[1]);
  if (which == "gso") return Napi::Boolean::New(env, socket_->set_gso(on));
  if (which == "gro") return Napi::Boolean::New(env, socket_->set_gro(on));
  ThrowInvalidArg(env, "offload", "must be 'gso' or 'gro'");
  return Napi::Value();
}

}  // namespace tunio
