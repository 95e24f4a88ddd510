#include "udp_wrap.h"

#include <cstring>

#include "addon_data.h"
#include "batch_wrap.h"
#include "endpoint_js.h"
#include "open_handle.h"
#include "errors.h"
#include "packet_input.h"
#include "pool_wrap.h"

namespace tunio {

namespace {

bool ParseEndpoint(Napi::Value v, IpEndpoint* ep) {
  if (!v.IsObject()) return false;
  Napi::Object o = v.As<Napi::Object>();
  if (!o.Get("address").IsString() || !o.Get("port").IsNumber()) return false;
  if (!ParseAddress(o.Get("address").As<Napi::String>().Utf8Value(), ep)) return false;
  int64_t port = o.Get("port").As<Napi::Number>().Int64Value();
  if (port < 0 || port > 65535) return false;
  ep->port = static_cast<uint16_t>(port);
  return true;
}

Offload ParseOffload(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "auto";
  return s == "on" ? Offload::kOn : s == "off" ? Offload::kOff : Offload::kAuto;
}

Napi::Object PeerErrorsToJs(Napi::Env env, const PeerErrorCounts& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("connRefused", Napi::Number::New(env, static_cast<double>(c.conn_refused)));
  o.Set("hostUnreachable", Napi::Number::New(env, static_cast<double>(c.host_unreach)));
  o.Set("netUnreachable", Napi::Number::New(env, static_cast<double>(c.net_unreach)));
  o.Set("messageSize", Napi::Number::New(env, static_cast<double>(c.msg_size)));
  o.Set("other", Napi::Number::New(env, static_cast<double>(c.other)));
  return o;
}

}  // namespace

Napi::Function UdpWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeUdp",
                     {
                         InstanceMethod<&UdpWrap::RecvBatch>("recvBatch"),
                         InstanceMethod<&UdpWrap::Send>("send"),
                         InstanceMethod<&UdpWrap::WatchReadable>("watchReadable"),
                         InstanceMethod<&UdpWrap::TakeErrors>("takeErrors"),
                         InstanceMethod<&UdpWrap::TakeSendEvents>("takeSendEvents"),
                         InstanceMethod<&UdpWrap::Stats>("stats"),
                         InstanceMethod<&UdpWrap::Info>("info"),
                         InstanceMethod<&UdpWrap::Close>("close"),
                         InstanceMethod<&UdpWrap::ForceGsoEio>("forceGsoEioOnce"),
                     });
}

// new NativeUdp(options, pool, onReadable): options validated by lib/udp.ts.
UdpWrap::UdpWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpWrap>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  PoolWrap* pool = OpenHandle::CheckCtorArgs(info, "NativeUdp(options, pool, onReadable)");
  if (!pool) return;
  pool_ = pool->pool();
  Napi::Object o = info[0].As<Napi::Object>();
  UdpOptions opts;
  if (!ParseEndpoint(o.Get("bind"), &opts.bind)) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_OPTION", "invalid option \"bind\": expected { address, port }");
    return;
  }
  if (!o.Get("connect").IsUndefined() && !ParseEndpoint(o.Get("connect"), &opts.connect)) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_OPTION", "invalid option \"connect\": expected { address, port }");
    return;
  }
  opts.ipv6_only = o.Get("ipv6Only").ToBoolean().Value();
  opts.reuse_port = o.Get("reusePort").ToBoolean().Value();
  if (o.Get("innerFlowSteering").IsNumber()) opts.inner_flow_steering = o.Get("innerFlowSteering").As<Napi::Number>().Uint32Value();
  if (o.Get("recvBufferSize").IsNumber()) opts.recv_buffer = o.Get("recvBufferSize").As<Napi::Number>().Int32Value();
  if (o.Get("sendBufferSize").IsNumber()) opts.send_buffer = o.Get("sendBufferSize").As<Napi::Number>().Int32Value();
  if (o.Get("batchSize").IsNumber()) opts.batch_size = o.Get("batchSize").As<Napi::Number>().Uint32Value();
  if (o.Get("sendQueueLength").IsNumber()) send_queue_limit_ = o.Get("sendQueueLength").As<Napi::Number>().Uint32Value();
  opts.gso = ParseOffload(o, "gso");
  opts.gro = ParseOffload(o, "gro");
  UdpOpenResult r = UdpSocket::open(opts);
  if (!r.socket) {
    const bool refused = r.error.err == ENOPROTOOPT || r.error.err == EOPNOTSUPP;
    ThrowSysError(env, refused ? "ERR_TUNIO_OFFLOAD_REFUSED" : "ERR_TUNIO_UDP_OPEN", "cannot open UDP socket",
                  r.error.err, r.error.call ? r.error.call : "socket");
    return;
  }
  socket_ = std::move(r.socket);
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  watcher_ = std::make_unique<FdWatcher>(loop, socket_->fd(), [this](int events, int status) { OnReady(events, status); });
  retry_timer_ = new uv_timer_t;
  uv_timer_init(loop, retry_timer_);
  retry_timer_->data = this;
  handle_.Open(env, Value(), info[2].As<Napi::Function>(), "tunio.Udp", CleanupHook, this);
}

UdpWrap::~UdpWrap() { CloseAll(); }

void UdpWrap::CleanupHook(void* arg) { static_cast<UdpWrap*>(arg)->CloseAll(); }

void UdpWrap::CloseAll() {
  if (closed_) return;
  closed_ = true;
  if (watcher_) watcher_->close();
  if (retry_timer_) {
    uv_timer_stop(retry_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(retry_timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    retry_timer_ = nullptr;
  }
  pending_.clear();
  socket_.reset();
  handle_.Shutdown();
}

bool UdpWrap::CheckOpen(Napi::Env env) {
  if (closed_) {
    ThrowError(env, "ERR_TUNIO_CLOSED", "UDP socket is closed");
    return false;
  }
  return true;
}

// recvBatch() -> NativeBatch | 0 (nothing now) | 1 (pool full: backpressure)
Napi::Value UdpWrap::RecvBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  std::vector<Packet> out;
  out.reserve(kReadBatchPacketsHint);  // GRO reads carry tens of datagrams each (see tun_wrap.cc)
  RecvResult r = socket_->recv_batch(*pool_, out, socket_->batch_size(), recv_stats_);
  if (!out.empty()) return BatchWrap::Create(env, pool_, std::move(out));
  if (r.status == RecvStatus::kError) {
    ThrowSysError(env, "ERR_TUNIO_UDP_RECV", "receiving failed", r.error.err, r.error.call ? r.error.call : "recvmmsg");
    return Napi::Value();
  }
  return Napi::Number::New(env, r.status == RecvStatus::kPoolExhausted ? 1 : 0);
}

Napi::Value UdpWrap::WatchReadable(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return Napi::Value();
  watcher_->want_readable(info.Length() > 0 && info[0].ToBoolean().Value());
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
  const bool readable = status < 0 || (events & UV_READABLE);
  if (readable) watcher_->want_readable(false);  // one-shot; the reader re-arms (pull-based)
  const bool errors = socket_->has_errors();
  const bool send_events = !send_events_.empty();
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
  if (!send_events_.empty() || socket_->has_errors()) {
    Napi::HandleScope scope(env_);
    handle_.Call({Napi::Boolean::New(env_, socket_->has_errors()), Napi::Boolean::New(env_, false),
                  Napi::Boolean::New(env_, !send_events_.empty())});
  }
}

void UdpWrap::RecordSendEvent(const char* type, const char* reason, uint64_t count, int err) {
  constexpr size_t kMaxSendEvents = 64;
  if (!send_events_.empty()) {
    SendEvent& last = send_events_.back();
    const bool same = std::strcmp(last.type, type) == 0 &&
                      (last.reason == reason || (last.reason && reason && std::strcmp(last.reason, reason) == 0));
    if (same && (send_events_.size() >= kMaxSendEvents || std::strcmp(type, "drop") == 0)) {
      last.count += count;  // the same drop again (or no room left): one event with the sum
      last.err = err ? err : last.err;
      return;
    }
  }
  if (send_events_.size() >= kMaxSendEvents) send_events_.erase(send_events_.begin());
  send_events_.push_back({type, reason, count, err});
}

void UdpWrap::EnterCongestion(const char* reason) {
  if (congested_) return;
  congested_ = true;
  RecordSendEvent("congestion", reason, pending_.size());
}

void UdpWrap::Flush() {
  if (closed_ || pending_.empty()) {
    if (watcher_) watcher_->want_writable(false);
    if (!closed_ && congested_) {
      congested_ = false;
      RecordSendEvent("drain", nullptr, 0);
    }
    return;
  }
  SendResult r = socket_->send_batch(pending_, nullptr, send_stats_);
  switch (r.status) {
    case SendStatus::kOk:
      break;
    case SendStatus::kWouldBlock:
      EnterCongestion("EAGAIN");
      break;  // POLLOUT below
    case SendStatus::kNoBuffers:
      EnterCongestion("ENOBUFS");
      uv_timer_start(retry_timer_, [](uv_timer_t* t) { static_cast<UdpWrap*>(t->data)->OnRetryTimer(); }, 1, 0);
      watcher_->want_writable(false);
      return;
    case SendStatus::kError:
      RecordSendEvent("drop", "sendFailed", pending_.size(), r.error.err);
      send_errors_ += pending_.size();
      pending_.clear();
      break;
  }
  if (pending_.empty() && congested_) {
    congested_ = false;
    RecordSendEvent("drain", nullptr, 0);
  }
  watcher_->want_writable(!pending_.empty());
}

// send(items, to?) -> datagrams accepted (sent or queued). `to` applies to every datagram
// that has no destination of its own; otherwise each packet's own remote is used.
Napi::Value UdpWrap::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  IpEndpoint to;
  const bool has_to = info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull();
  if (has_to && !ParseEndpoint(info[1], &to)) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "destination must be { address, port }");
    return Napi::Value();
  }
  const size_t before = pending_.size();
  CollectResult c = CollectPackets(env, info[0], *pool_, pending_);
  drop_pool_exhausted_ += c.pool_drops;
  if (c.pool_drops > 0) RecordSendEvent("drop", "poolExhausted", c.pool_drops);
  if (has_to) {
    for (size_t i = before; i < pending_.size(); i++) pending_[i].remote = to;
  }
  size_t added = pending_.size() - before;
  if (pending_.size() > send_queue_limit_) {
    size_t excess = pending_.size() - send_queue_limit_;
    if (excess > added) excess = added;
    pending_.resize(pending_.size() - excess);
    drop_queue_full_ += excess;
    if (excess > 0) RecordSendEvent("drop", "queueFull", excess);
    added -= excess;
  }
  if (!c.ok) return Napi::Value();
  // A send already waiting for POLLOUT keeps order: new datagrams queue behind it.
  if (pending_.size() == added) Flush();
  return Napi::Number::New(env, static_cast<double>(added));
}

// takeSendEvents() -> undefined (nothing happened: the common case, no allocation) or
// [{ type, reason?, count, errno? }] in the order they happened.
Napi::Value UdpWrap::TakeSendEvents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (send_events_.empty()) return env.Undefined();
  Napi::Array out = Napi::Array::New(env, send_events_.size());
  for (size_t i = 0; i < send_events_.size(); i++) {
    const SendEvent& e = send_events_[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", e.type);
    if (e.reason) o.Set("reason", e.reason);
    o.Set("count", Napi::Number::New(env, static_cast<double>(e.count)));
    if (e.err) o.Set("errno", errno_name(e.err));
    out.Set(static_cast<uint32_t>(i), o);
  }
  send_events_.clear();
  return out;
}

// takeErrors() -> TunioError[]: code ERR_TUNIO_UDP_PEER, errno, syscall, plus `remote` (where
// the failed datagram was going), `origin` ('icmp' | 'icmp6' | 'local' | 'socket'),
// `icmpType`/`icmpCode` and `offender` (who sent the ICMP) for ICMP errors, `mtu` when known.
Napi::Value UdpWrap::TakeErrors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return Napi::Array::New(env, 0);
  std::vector<SocketError> errs = socket_->take_errors();
  Napi::Array arr = Napi::Array::New(env, errs.size());
  for (size_t i = 0; i < errs.size(); i++) {
    const SocketError& se = errs[i];
    const bool icmp = se.origin == ErrorOrigin::kIcmp || se.origin == ErrorOrigin::kIcmp6;
    std::string message = icmp ? "ICMP error for a datagram" : "datagram error reported by the kernel";
    if (!se.remote.empty()) {
      const std::string addr = AddressToString(se.remote);
      message += " to " + (se.remote.family == 6 ? "[" + addr + "]" : addr) + ":" + std::to_string(se.remote.port);
    }
    Napi::Object e = MakeSysError(env, "ERR_TUNIO_UDP_PEER", message, se.err, se.call ? se.call : "sendmsg").Value();
    if (!se.remote.empty()) e.Set("remote", EndpointToJs(env, se.remote, true));
    e.Set("origin", Napi::String::New(env, error_origin_name(se.origin)));
    if (icmp) {
      e.Set("icmpType", Napi::Number::New(env, se.icmp_type));
      e.Set("icmpCode", Napi::Number::New(env, se.icmp_code));
      if (!se.offender.empty()) e.Set("offender", EndpointToJs(env, se.offender, false));
    }
    if (se.err == EMSGSIZE && se.info > 0) e.Set("mtu", Napi::Number::New(env, se.info));
    arr.Set(static_cast<uint32_t>(i), e);
  }
  return arr;
}

Napi::Value UdpWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](Napi::Object t, const char* k, uint64_t v) { t.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
  set(o, "datagramsIn", recv_stats_.datagrams);
  set(o, "bytesIn", recv_stats_.bytes);
  set(o, "groReads", recv_stats_.gro_reads);
  set(o, "messagesIn", recv_stats_.messages);
  set(o, "datagramsOut", send_stats_.datagrams);
  set(o, "bytesOut", send_stats_.bytes);
  set(o, "gsoSends", send_stats_.gso_sends);
  set(o, "gsoSegments", send_stats_.gso_segments);
  set(o, "gsoFallbacks", send_stats_.gso_fallbacks);
  Napi::Object sys = Napi::Object::New(env);
  set(sys, "recvmmsg", recv_stats_.recvmmsg_calls);
  set(sys, "sendmsg", send_stats_.sendmsg_calls);
  set(sys, "sendmmsg", send_stats_.sendmmsg_calls);
  o.Set("syscalls", sys);
  Napi::Object drops = Napi::Object::New(env);
  set(drops, "truncated", recv_stats_.dropped_truncated + recv_stats_.dropped_ctrunc);
  set(drops, "queueFull", drop_queue_full_);
  set(drops, "poolExhausted", drop_pool_exhausted_);
  set(drops, "invalid", send_stats_.dropped_invalid);
  set(drops, "sendFailed", send_errors_);
  drops.Set("peer", PeerErrorsToJs(env, send_stats_.dropped));
  o.Set("drops", drops);
  Napi::Object waits = Napi::Object::New(env);
  set(waits, "sendWouldBlock", send_stats_.would_block);
  set(waits, "sendNoBuffers", send_stats_.no_buffers);
  set(waits, "recvPoolExhausted", recv_stats_.pool_exhausted);
  o.Set("waits", waits);
  o.Set("recvErrors", PeerErrorsToJs(env, recv_stats_.errors));
  set(o, "sendPendingErrors", send_stats_.pending_errors);
  if (socket_) {
    o.Set("peerErrors", PeerErrorsToJs(env, socket_->reported_errors()));
    const ErrorQueueStats& q = socket_->error_queue_stats();
    Napi::Object eq = Napi::Object::New(env);
    set(eq, "icmp", q.icmp);
    set(eq, "icmp6", q.icmp6);
    set(eq, "local", q.local);
    set(eq, "readFailures", q.read_failures);
    set(eq, "eventsOverwritten", socket_->errors_overwritten());
    set(eq, "pollErrors", poll_errors_);
    o.Set("errorQueue", eq);
    set(sys, "recvmsgErrqueue", q.reads);
  }
  set(o, "sendQueued", pending_.size());
  o.Set("pool", PoolStatsToJs(env, pool_->stats()));
  return o;
}

Napi::Value UdpWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return Napi::Value();
  Napi::Object o = Napi::Object::New(env);
  o.Set("local", EndpointToJs(env, socket_->local_address(), true));
  if (!socket_->peer().empty()) o.Set("peer", EndpointToJs(env, socket_->peer(), true));
  const UdpFeatures& f = socket_->features();
  Napi::Object fe = Napi::Object::New(env);
  fe.Set("gso", Napi::Boolean::New(env, f.gso));
  fe.Set("gro", Napi::Boolean::New(env, f.gro));
  fe.Set("maxGsoSegments", Napi::Number::New(env, f.max_gso_segments));
  o.Set("features", fe);
  o.Set("recvBufferSize", Napi::Number::New(env, socket_->recv_buffer_size()));
  o.Set("sendBufferSize", Napi::Number::New(env, socket_->send_buffer_size()));
  return o;
}

Napi::Value UdpWrap::ForceGsoEio(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info.Env())) return Napi::Value();
  socket_->set_force_gso_eio_once(true);
  return info.Env().Undefined();
}

Napi::Value UdpWrap::Close(const Napi::CallbackInfo& info) {
  if (!closed_) {
    CloseAll();
    handle_.Release();
  }
  return info.Env().Undefined();
}

}  // namespace tunio
