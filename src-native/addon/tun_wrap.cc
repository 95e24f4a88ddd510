#include "tun_wrap.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <net/if.h>

#include "addon_data.h"
#include "batch_wrap.h"
#include "errors.h"
#include "js_checked.h"
#include "gso_backoff.h"  // monotonic_ms
#include "link_config.h"
#include "netlink.h"
#include "packet_input.h"
#include "pool_wrap.h"
#include "stats_js.h"
#include "sys_error.h"  // errno_name
#include "type_tags.h"

namespace tunio {

namespace {

std::string GetString(Napi::Object o, const char* key, const std::string& def = "") {
  Napi::Value v = JsGet(o, key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : def;
}
int64_t GetInt(Napi::Object o, const char* key, int64_t def) {
  Napi::Value v = JsGet(o, key);
  return v.IsNumber() ? v.As<Napi::Number>().Int64Value() : def;
}
bool GetBool(Napi::Object o, const char* key, bool def) {
  Napi::Value v = JsGet(o, key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : def;
}

// The `addresses` option (an array of CIDR strings) into `out`; false with
// ERR_TUNIO_INVALID_OPTION thrown for the first one parse_cidr refuses. Anything but an array
// is no addresses; an entry that is not a string is refused as an empty address would be.
bool ParseAddresses(Napi::Env env, Napi::Value value, std::vector<Cidr>* out) {
  if (!value.IsArray()) return true;
  Napi::Array items = value.As<Napi::Array>();
  const uint32_t n = items.Length();
  for (uint32_t i = 0; i < n; i++) {  // one by one: a sparse array's length allocates nothing
    Napi::Value item = JsGet(items, i);
    Cidr cidr;
    std::string why;
    if (!parse_cidr(item.IsString() ? item.As<Napi::String>().Utf8Value() : std::string(), &cidr, &why)) {
      ThrowInvalidOption(env, "addresses", why);
      return false;
    }
    out->push_back(cidr);
  }
  return true;
}

void ThrowDevError(Napi::Env env, const char* code, const std::string& what, const SysError& e) {
  std::string msg = what;
  if (e.err == EEXIST && !e.detail.empty()) {
    msg += ": " + e.detail;  // a sentence of its own, not a parenthesis
  } else if (!e.detail.empty()) {
    msg += " (" + e.detail + ")";
  }
  if (e.err == EPERM && std::strcmp(e.call, "ioctl(TUNSETIFF)") == 0) {
    msg += " (creating or attaching a TUN device needs CAP_NET_ADMIN: run as root, or give node the "
           "capability, e.g. setcap cap_net_admin+ep on the node binary)";
  }
  ThrowSysError(env, code, msg, e.err, e.call);
}

JsObject StatsToJs(napi_env env, const TunStats& s) {
  GroupedStats out(env);
  TUNIO_TUN_STATS(TUNIO_STATS_TO_JS, TUNIO_NAMED_STATS_TO_JS)
  return out.done();
}

// One queue's stats as JS sees them (also the sum over queues, before the device's own keys).
JsObject QueueStatsToJs(napi_env env, const TunStats& s, size_t write_queued) {
  return StatsToJs(env, s).Count("writeQueued", write_queued);
}

}  // namespace

Napi::Value TunDefaultsToJs(Napi::Env env) {
  const TunOptions dev;
  const TunIoOptions io;
  return JsObject(env).Number("queues", dev.queues).Bool("multiQueue", dev.multi_queue).Bool("attach", dev.attach)
      .Bool("persist", dev.persist).Bool("split", io.split).Bool("coalesceTcp", io.coalesce_tcp)
      .Bool("coalesceUdp", io.coalesce_udp).Number("batchSize", io.batch_size).Number("headroom", io.headroom)
      .Number("tailroom", io.tailroom).Count("writeQueueLength", SendQueue::kDefaultLimit).result();
}

Napi::Value TunQueueStatsShapeToJs(Napi::Env env) { return QueueStatsToJs(env, TunStats(), 0).result(); }

JsObject TunStatsToJs(napi_env env, const TunDeviceStats& d, const JsArray& queues) {
  return QueueStatsToJs(env, d.total, d.write_queued)
      .Value("queues", queues.get())
      .Bool("coalescingTcp", d.coalescing_tcp)
      .Bool("coalescingUdp", d.coalescing_udp)
      .Count("coalesceRetries", d.coalesce_retries)
      .Count("coalesceSuspensions", d.coalesce_suspensions)
      .Count("coalesceProbeFailures", d.coalesce_probe_failures)
      .Count("coalesceRestores", d.coalesce_restores)
      .Bool("readOffload", d.read_offload)
      .Value("pool", PoolStatsToJs(env, d.pool));
}

Napi::Value TunStatsShapeToJs(Napi::Env env) { return TunStatsToJs(env, TunDeviceStats(), JsArray(env, 0)).result(); }

Napi::Array CoalesceRefusalNamesToJs(Napi::Env env) {
  Napi::Array names = Napi::Array::New(env, kGroRefusalCount);
  for (size_t r = 0; r < kGroRefusalCount; r++) {
    names.Set(static_cast<uint32_t>(r), Napi::String::New(env, gro_refusal_name(static_cast<GroRefusal>(r))));
  }
  return names;
}

Napi::Function TunWrap::Define(Napi::Env env) {
  return DefineIo(env,
                  {
                      InstanceMethod<&TunWrap::Write>("write"),
                      InstanceMethod<&TunWrap::LinkStats>("linkStats"),
                      InstanceMethod<&TunWrap::SetQueueAttached>("setQueueAttached"),
                      InstanceMethod<&TunWrap::WatchLink>("watchLink"),
                      InstanceMethod<&TunWrap::QueueFd>("queueFd"),
                  });
}

// new NativeTun(options, pool, onReadable(queue)): options are validated by lib/tun.ts.
TunWrap::TunWrap(const Napi::CallbackInfo& info) : IoWrap(info) { OpenWith(info); }

bool TunWrap::Open(Napi::Env env, Napi::Object o, const Napi::CallbackInfo&) {

  // Options lib/tun.ts leaves out take the core's defaults (TunOptions, TunIoOptions, SendQueue;
  // binding.nativeDefaults, held to TUN_DEFAULTS by test/shared-facts.test.ts).
  TunOptions opts;
  opts.name = GetString(o, "name");
  opts.mode = GetString(o, "mode", "tun") == "tap" ? TunMode::kTap : TunMode::kTun;
  std::string offload = GetString(o, "offload", "auto");
  opts.offload = offload == "on" ? OffloadMode::kOn : offload == "off" ? OffloadMode::kOff : OffloadMode::kAuto;
  opts.queues = static_cast<int>(GetInt(o, "queues", opts.queues));
  opts.attach = GetBool(o, "attach", opts.attach);
  opts.multi_queue = GetBool(o, "multiQueue", opts.multi_queue);
  opts.persist = GetBool(o, "persist", opts.persist);
  opts.owner = GetInt(o, "owner", opts.owner);
  opts.group = GetInt(o, "group", opts.group);
  const size_t write_queue_limit = static_cast<size_t>(GetInt(o, "writeQueueLength", SendQueue::kDefaultLimit));

  // The link's addresses, parsed before anything is opened: the core's parse_cidr is the one
  // check of an address's text (lib/tun.ts checks only that each is a string), and its reason
  // is the message, as for a route's `to` (route_wrap.cc).
  std::vector<Cidr> addresses;
  if (!ParseAddresses(env, JsGet(o, "addresses"), &addresses)) return false;
  // The name, likewise: the kernel's rules (valid_ifname; a %d template only when creating),
  // checked here so that a bad name is ERR_TUNIO_INVALID_OPTION, not a failed open.
  std::string why;
  if (!opts.name.empty() && !valid_ifname(opts.name, !opts.attach, &why)) {
    ThrowInvalidOption(env, "name", why);
    return false;
  }

  // `fd`: a queue fd opened and bound by someone else (a privileged helper, lib/fd-passing.ts);
  // lib/tun.ts refuses the device and link options alongside it.
  Napi::Value fd_value = JsGet(o, "fd");
  const bool adopted = fd_value.IsNumber();
  SysError e = adopted ? TunDevice::adopt(fd_value.As<Napi::Number>().Int32Value(), opts.offload, &dev_)
                       : TunDevice::open(opts, &dev_);
  if (!e.ok() && adopted) {
    ThrowDevError(env, e.err == ENOTSUP && offload == "on" ? "ERR_TUNIO_OFFLOAD_REFUSED" : "ERR_TUNIO_TUN_OPEN",
                  "cannot open the TUN device of fd " + std::to_string(fd_value.As<Napi::Number>().Int32Value()), e);
    return false;
  }
  if (!e.ok()) {
    const char* code = e.err == EEXIST ? "ERR_TUNIO_TUN_EXISTS"
                       : e.err == ENOTSUP && offload == "on" ? "ERR_TUNIO_OFFLOAD_REFUSED" : "ERR_TUNIO_TUN_OPEN";
    ThrowDevError(env, code, "cannot open TUN device" + (opts.name.empty() ? std::string() : " \"" + opts.name + "\""), e);
    return false;
  }

  // Link configuration: the options converted here, the steps and their order in the core
  // (core/link_config.cc), the errors mapped here.
  const bool configure = !adopted && (!opts.attach || GetBool(o, "configureLink", false));
  if (configure) {
    LinkConfig link;
    link.mtu = static_cast<uint32_t>(std::max<int64_t>(GetInt(o, "mtu", 0), 0));
    link.txqueuelen = static_cast<uint32_t>(std::max<int64_t>(GetInt(o, "txqueuelen", 0), 0));
    link.gso_max_size = static_cast<uint32_t>(std::max<int64_t>(GetInt(o, "gsoMaxSize", 0), 0));
    link.up = GetBool(o, "up", link.up);
    link.addresses = std::move(addresses);
    const LinkConfigResult r = configure_link(dev_.ifindex(), dev_.offload().tso4, link);
    gso_max_size_ = r.gso_max_size;
    gso_max_size_error_ = r.gso_max_size_error;
    if (!r.error.ok()) {
      std::string name = dev_.name();
      dev_.close();
      ThrowDevError(env, "ERR_TUNIO_LINK_CONFIG", "cannot configure link " + name, r.error);
      return false;
    }
  }

  TunIoOptions io;
  io.split = GetBool(o, "split", io.split);
  io.coalesce_tcp = GetBool(o, "coalesceTcp", io.coalesce_tcp);
  io.coalesce_udp = GetBool(o, "coalesceUdp", io.coalesce_udp);
  io.batch_size = static_cast<uint32_t>(GetInt(o, "batchSize", io.batch_size));
  io.headroom = static_cast<uint32_t>(GetInt(o, "headroom", io.headroom));
  io.tailroom = static_cast<uint32_t>(GetInt(o, "tailroom", io.tailroom));

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  queues_.resize(static_cast<size_t>(dev_.queues()));
  for (int q = 0; q < dev_.queues(); q++) {
    Queue& queue = queues_[static_cast<size_t>(q)];
    queue.pending.set_limit(write_queue_limit);
    queue.io = std::make_unique<TunQueueIo>(&dev_, q, io);
    queue.watcher = std::make_unique<FdWatcher>(loop, dev_.queue_fd(q),
                                                [this, q](int events, int status) { OnReady(q, events, status); });
  }
  // The operator's switches (TUNIO_DISABLE_TUN_TSO / _GRO, read by lib/offload-env.ts).
  if (GetBool(o, "disableReadOffload", false) && dev_.read_offload()) {
    SysError oe = dev_.set_read_offload(false);
    if (!oe.ok()) {
      std::string name = dev_.name();
      CloseAll();
      ThrowDevError(env, "ERR_TUNIO_TUN_OPEN", "cannot switch off read offloads of " + name, oe);
      return false;
    }
  }
  if (GetBool(o, "disableCoalescing", false)) SetCoalescing(false);
  return true;
}

TunWrap::~TunWrap() { CloseAll(); }

void TunWrap::CloseOwn() {
  StopLinkMonitor();
  for (Queue& q : queues_) {
    if (q.watcher) q.watcher->close();  // before the fd goes: epoll must not see a stale fd
    q.pending.discard();
    if (q.io) q.io->abandon_plan();
  }
  dev_.close();
}

bool TunWrap::QueueArg(const Napi::CallbackInfo& info, size_t index, int* q) {
  if (closed_) {
    ThrowError(info.Env(), "ERR_TUNIO_CLOSED", "TUN device is closed");
    return false;
  }
  int64_t v = info.Length() > index && info[index].IsNumber() ? info[index].As<Napi::Number>().Int64Value() : 0;
  if (v < 0 || v >= QueueCount()) {
    ThrowRangeError(info.Env(), "ERR_TUNIO_INVALID_ARG", "queue index out of range");
    return false;
  }
  *q = static_cast<int>(v);
  return true;
}

// readBatch(queue) -> NativeBatch | 0 (nothing to read now) | 1 (pool full: backpressure)
Napi::Value TunWrap::ReadBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int q;
  if (!QueueArg(info, 0, &q)) return Napi::Value();
  Queue& queue = queues_[static_cast<size_t>(q)];
  if (queue.links.out) {
    ThrowError(env, "ERR_TUNIO_FORWARDING", "queue " + std::to_string(q) + " of " + dev_.name() + " is forwarded natively: stop() the forward to read it");
    return Napi::Value();
  }
  std::vector<Packet> out;
  // A batch of superpackets splits into hundreds of packets: growing the vector from empty
  // cost about 1.5% of the forwarder's CPU (perf) in reallocations.
  out.reserve(kReadBatchPacketsHint);
  const IoResult r = ReadQueue(q, out, 0);
  if (!out.empty()) return BatchWrap::Create(env, pool_, std::move(out));
  if (r.status == IoStatus::kError) {
    ThrowSysError(env, "ERR_TUNIO_TUN_READ", "reading from " + dev_.name() + " failed", r.error.err, r.error.call);
    return Napi::Value();
  }
  return Napi::Number::New(env, r.status == IoStatus::kPoolExhausted ? 1 : 0);
}

// watchReadable(queue, on): the JS reader asks to be called back when the queue has packets.
Napi::Value TunWrap::WatchReadable(const Napi::CallbackInfo& info) {
  int q;
  if (!QueueArg(info, 0, &q)) return Napi::Value();
  bool on = info.Length() > 1 && JsTruthy(info[1]);
  Queue& queue = queues_[static_cast<size_t>(q)];
  if (queue.links.out) return info.Env().Undefined();  // the forward decides while it runs
  WatchQueue(q, on);
  return info.Env().Undefined();
}

void TunWrap::OnReady(int q, int events, int status) {
  if (closed_) return;
  Queue& queue = queues_[static_cast<size_t>(q)];
  if (status < 0 || (events & UV_WRITABLE)) {
    Flush(q);
  }
  bool readable = status < 0 || (events & UV_READABLE);
  if (readable && queue.links.out) {
    // Natively forwarded: the batches go straight to the other end (forward_wrap.h), whose
    // notifications may run JS that closes this device.
    queue.links.out->OnReadable();
    if (closed_) return;
    readable = false;
  }
  // The poll stays armed: the reader reads until EAGAIN inside this callback (its microtasks
  // run before the callback returns), so the level-triggered poll does not fire again, and
  // disarming here cost two epoll_ctl calls per wake-up to re-arm. A wake-up that finds no
  // reader waiting disarms it from JS (lib/reader.ts). On POLLERR libuv stopped the handle.
  if (status < 0) queue.want_read = false;
  if (readable || !events_.empty()) {
    // onReady(queue, readable, hasEvents): JS emits the recorded events ('drain' after a
    // flush), then wakes the queue's reader if it was readable.
    Napi::HandleScope scope(env_);
    handle_.Call({Napi::Number::New(env_, q), Napi::Boolean::New(env_, readable),
                  Napi::Boolean::New(env_, !events_.empty())});
  }
}

void TunWrap::RecordEvent(const DeviceEvent& e) {
  // The same drop again before JS looked: one event with the sum.
  events_.record(e, [](DeviceEvent& last, const DeviceEvent& next, bool) {
    if (std::strcmp(next.type, "drop") != 0 || std::strcmp(last.type, "drop") != 0 || last.queue != next.queue ||
        std::strcmp(last.reason, next.reason) != 0) {
      return false;
    }
    last.count += next.count;
    return true;
  });
}

void TunWrap::RecordDrop(int q, const char* reason, uint64_t count, int err) {
  if (count == 0) return;
  DeviceEvent e{"drop"};
  e.queue = q;
  e.reason = reason;
  e.count = count;
  e.err = err;
  RecordEvent(e);
}

void TunWrap::RecordCoalescing(int q, bool enabled) {
  DeviceEvent e{"offload"};
  e.queue = q;
  e.err = coalesce_err_;
  e.enabled = enabled;
  if (!enabled) e.retry_ms = coalesce_backoff_ms_;
  RecordEvent(e);
}

void TunWrap::Flush(int q, ViewBatch* views) {
  Queue& queue = queues_[static_cast<size_t>(q)];
  if (coalesce_retry_at_ms_ != 0 && !coalesce_probing_ && !coalesce_switched_off_ &&
      monotonic_ms() >= coalesce_retry_at_ms_) {
    for (Queue& other : queues_) {
      if (other.io) other.io->enable_coalescing();
    }
    coalesce_probing_ = true;
    coalesce_retries_++;
  }
  const uint64_t fallbacks = queue.stats.coalesce_fallbacks;
  const uint64_t superpackets = queue.stats.superpackets_out;
  const IoResult r = views ? queue.io->write_views(*views, queue.pending.packets(), queue.stats)
                           : queue.io->write_batch(queue.pending.packets(), queue.stats);
  if (queue.stats.coalesce_fallbacks != fallbacks) {
    // The kernel refused a coalesced write (its segments went out one by one). That is a
    // property of the kernel more than of the queue, so the whole device stops coalescing,
    // but not for good: it tries again after a back-off (1 s, doubling up to 60 s while the
    // probes keep failing), so nothing is switched off for the device's life.
    const uint64_t now = monotonic_ms();
    const bool was_on = coalesce_backoff_ms_ == 0;
    coalesce_backoff_ms_ = was_on ? kCoalesceFirstBackoffMs : std::min(kCoalesceMaxBackoffMs, coalesce_backoff_ms_ * 2);
    coalesce_retry_at_ms_ = now + coalesce_backoff_ms_;
    coalesce_probing_ = false;
    for (Queue& other : queues_) {
      if (other.io) other.io->disable_coalescing();
    }
    // TunQueueIo falls back on EINVAL only (the one errno a kernel refusing coalesced writes answers).
    coalesce_err_ = EINVAL;
    if (was_on) {
      coalesce_suspensions_++;
      RecordCoalescing(q, false);
    } else {
      coalesce_probe_failures_++;  // still off: the 'offload' event of the suspension stands
    }
  } else if (coalesce_retry_at_ms_ != 0 && queue.stats.superpackets_out != superpackets) {
    coalesce_backoff_ms_ = 0;  // a probe's coalesced write went out: the next refusal starts over
    coalesce_retry_at_ms_ = 0;
    coalesce_probing_ = false;
    coalesce_restores_++;
    RecordCoalescing(q, true);
  }
  if (r.status == IoStatus::kError) {
    // The fd itself is broken (EBADF...): drop what waits, the reader will see the error.
    const size_t lost = queue.pending.discard(queue.io->done_in_plan());
    queue.stats.drop_write_rejected += lost;
    RecordDrop(q, "writeFailed", lost, r.error.err);
    queue.io->abandon_plan();
  }
  if (r.blocked() && queue.pending.congest()) {
    DeviceEvent e{"congestion"};
    e.queue = q;
    e.reason = r.status == IoStatus::kNoBuffers ? "ENOBUFS" : "EAGAIN";
    e.count = Waiting(queue);
    RecordEvent(e);
  } else if (queue.pending.drained()) {
    DeviceEvent e{"drain"};
    e.queue = q;
    RecordEvent(e);
    if (queue.links.in) queue.links.in->OnSinkDrained();
  }
  queue.watcher->want_writable(!queue.pending.empty());
}

// write(queue, items) -> packets accepted (queued or written). Ownership of batches moves here.
Napi::Value TunWrap::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int q;
  if (!QueueArg(info, 0, &q)) return Napi::Value();
  Queue& queue = queues_[static_cast<size_t>(q)];
  const size_t before = queue.pending.packets().size();
  CollectResult r = CollectPackets(env, info[1], *pool_, queue.pending.packets(), "packets");
  queue.stats.drop_pool_exhausted += r.pool_drops;
  RecordDrop(q, "poolExhausted", r.pool_drops);
  const size_t accepted = Admit(q, before);
  if (!r.ok) return Napi::Value();
  FlushAdmitted(q, accepted);
  return Napi::Number::New(env, static_cast<double>(accepted));
}

size_t TunWrap::Admit(int q, size_t before) {
  Queue& queue = queues_[static_cast<size_t>(q)];
  const SendQueue::Admitted a = queue.pending.admit(before, queue.io->done_in_plan());
  queue.stats.drop_queue_full += a.dropped;
  RecordDrop(q, "queueFull", a.dropped);
  return a.accepted;
}

void TunWrap::FlushAdmitted(int q, size_t accepted) {
  if (queues_[static_cast<size_t>(q)].pending.flush_now(accepted)) Flush(q);
}

IoResult TunWrap::ReadQueue(int q, std::vector<Packet>& out, uint32_t max_reads) {
  Queue& queue = queues_[static_cast<size_t>(q)];
  return queue.io->read_batch(*pool_, out, queue.stats, max_reads);
}

void TunWrap::WatchQueue(int q, bool on) {
  Queue& queue = queues_[static_cast<size_t>(q)];
  queue.want_read = on;
  if (queue.watcher) queue.watcher->want_readable(on);
}

void TunWrap::EnqueueSend(int q, std::vector<Packet>& pkts, const IpEndpoint&) {
  FlushAdmitted(q, Admit(q, SendQueueOf(q).append(pkts)));
}

void TunWrap::EnqueueViews(int q, ViewBatch& batch) {
  Queue& queue = queues_[static_cast<size_t>(q)];
  // An empty queue admits the whole batch (within its limit) and flushes at once: Admit and
  // FlushAdmitted would do nothing else, so the views are written as they are.
  if (queue.pending.empty() && !queue.pending.congested() && batch.size() <= queue.pending.limit() &&
      queue.io->can_write_views(batch.size())) {
    Flush(q, &batch);
    return;
  }
  std::vector<Packet>& pkts = queue.pending.packets();
  const size_t before = pkts.size();
  batch.to_packets(pkts);
  FlushAdmitted(q, Admit(q, before));
}

void TunWrap::NotifyJs(int q) {
  if (!HasNotice(q)) return;
  Napi::HandleScope scope(env_);
  handle_.Call({Napi::Number::New(env_, q), Napi::Boolean::New(env_, false), Napi::Boolean::New(env_, true)});
}

Napi::Value TunWrap::Stats(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  TunDeviceStats d;
  JsArray per(env, queues_.size());
  for (size_t i = 0; i < queues_.size() && per.ok(); i++) {
    const Queue& q = queues_[i];
    d.total.add(q.stats);
    per.Set(static_cast<uint32_t>(i), QueueStatsToJs(env, q.stats, Waiting(q)).Bool("attached", q.attached).get());
    d.write_queued += Waiting(q);
    if (q.io) {
      d.coalescing_tcp = d.coalescing_tcp || q.io->coalescing_tcp();
      d.coalescing_udp = d.coalescing_udp || q.io->coalescing_udp();
    }
  }
  d.coalesce_retries = coalesce_retries_;
  d.coalesce_suspensions = coalesce_suspensions_;
  d.coalesce_probe_failures = coalesce_probe_failures_;
  d.coalesce_restores = coalesce_restores_;
  d.read_offload = dev_.is_open() && dev_.read_offload();
  d.pool = pool_->stats();
  return TunStatsToJs(env, d, per).result();
}

Napi::Value TunWrap::Info(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  const TunOffload& off = dev_.offload();
  JsObject offload(env);
  offload.Bool("vnetHdr", off.vnet_hdr).Bool("csum", off.csum).Bool("tso4", off.tso4).Bool("tso6", off.tso6).Bool("uso", off.uso);
  JsObject o(env);
  o.String("name", dev_.name())
      .Number("ifindex", dev_.ifindex())
      .Number("queues", dev_.queues())
      .Bool("multiQueue", dev_.multi_queue())
      .Value("offload", offload);
  if (gso_max_size_ != 0) o.Number("gsoMaxSize", gso_max_size_);
  if (!gso_max_size_error_.empty()) o.String("gsoMaxSizeError", gso_max_size_error_);
  return o.result();
}

// linkStats(): the kernel's view (IFLA_STATS64, mtu, flags) through rtnetlink.
Napi::Value TunWrap::LinkStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) {
    ThrowError(env, "ERR_TUNIO_CLOSED", "TUN device is closed");
    return Napi::Value();
  }
  Rtnl nl;
  LinkInfo li;
  SysError e = nl.open();
  if (e.ok()) e = nl.get_link(dev_.ifindex(), &li);
  if (!e.ok()) {
    ThrowDevError(env, "ERR_TUNIO_LINK_CONFIG", "cannot read link " + dev_.name(), e);
    return Napi::Value();
  }
  JsObject o(env);
  o.Number("mtu", li.mtu)
      .Number("txqueuelen", li.txqlen)
      .Number("gsoMaxSize", li.gso_max_size)
      .Bool("up", (li.flags & 1) != 0)
      .Count("rxPackets", li.stats.rx_packets)
      .Count("txPackets", li.stats.tx_packets)
      .Count("rxBytes", li.stats.rx_bytes)
      .Count("txBytes", li.stats.tx_bytes)
      .Count("rxErrors", li.stats.rx_errors)
      .Count("txErrors", li.stats.tx_errors)
      .Count("rxDropped", li.stats.rx_dropped)
      .Count("txDropped", li.stats.tx_dropped);
  return o.result();
}

// setQueueAttached(queue, on): TUNSETQUEUE. Detached, the queue keeps the device alive (and
// can still write) but the kernel steers no packet to it; see tun_device.h.
Napi::Value TunWrap::SetQueueAttached(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int q;
  if (!QueueArg(info, 0, &q)) return Napi::Value();
  const bool on = info.Length() > 1 && JsTruthy(info[1]);
  Queue& queue = queues_[static_cast<size_t>(q)];
  if (queue.attached == on) return env.Undefined();
  if (!dev_.multi_queue()) {
    ThrowError(env, "ERR_TUNIO_NOT_MULTI_QUEUE",
               dev_.name() + " is a single-queue device: its queue cannot be " + (on ? "attached" : "detached"));
    return Napi::Value();
  }
  SysError e = on ? dev_.attach_queue(q) : dev_.detach_queue(q);
  if (!e.ok()) {
    ThrowDevError(env, "ERR_TUNIO_TUN_QUEUE", std::string(on ? "cannot attach" : "cannot detach") + " queue " +
                  std::to_string(q) + " of " + dev_.name(), e);
    return Napi::Value();
  }
  queue.attached = on;
  return env.Undefined();
}

// takeEvents() -> undefined (nothing happened: the common case, no allocation) or
// [{ type, queue, reason?, count?, errno?, enabled?, retryMs? }] in the order they happened.
Napi::Value TunWrap::TakeEvents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (events_.empty()) return env.Undefined();
  JsArray out(env, events_.size());
  for (size_t i = 0; i < events_.size() && out.ok(); i++) {
    const DeviceEvent& e = events_[i];
    JsObject o(env);
    o.String("type", e.type).Number("queue", e.queue);
    if (std::strcmp(e.type, "offload") == 0) {
      o.String("offload", "coalescing").Bool("enabled", e.enabled).String("errno", errno_name(e.err));
      if (!e.enabled) o.Number("retryMs", static_cast<double>(e.retry_ms));
    } else {
      if (e.reason) o.String("reason", e.reason);
      if (std::strcmp(e.type, "drain") != 0) o.Count("count", e.count);
      if (e.err) o.String("errno", errno_name(e.err));
    }
    out.Set(static_cast<uint32_t>(i), o.get());
  }
  events_.clear();
  return out.result();
}

void TunWrap::SetCoalescing(bool on) {
  coalesce_switched_off_ = !on;
  // A switch either way ends a back-off in progress: off wins over its probe, on starts over.
  coalesce_retry_at_ms_ = 0;
  coalesce_backoff_ms_ = 0;
  coalesce_probing_ = false;
  for (Queue& q : queues_) {
    if (!q.io) continue;
    if (on) q.io->enable_coalescing();
    else q.io->disable_coalescing();
  }
}

// setOffload('tso' | 'coalescing', on) -> whether it is on now (arguments checked by lib/tun.ts).
// 'tso': superpackets on read (TUNSETOFFLOAD); 'coalescing': coalesced writes (GRO on write).
Napi::Value TunWrap::SetOffload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) {
    ThrowError(env, "ERR_TUNIO_CLOSED", "TUN device is closed");
    return Napi::Value();
  }
  const std::string which = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  const bool on = info.Length() > 1 && JsTruthy(info[1]);
  if (which == "tso") {
    if (!dev_.offload().vnet_hdr) return Napi::Boolean::New(env, false);  // nothing negotiated to switch
    SysError e = dev_.set_read_offload(on);
    if (!e.ok()) {
      ThrowDevError(env, "ERR_TUNIO_TUN_OPEN", "cannot switch read offloads of " + dev_.name(), e);
      return Napi::Value();
    }
    return Napi::Boolean::New(env, dev_.read_offload());
  }
  if (which == "coalescing") {
    SetCoalescing(on);
    bool any = false;
    for (const Queue& q : queues_) any = any || (q.io && (q.io->coalescing_tcp() || q.io->coalescing_udp()));
    return Napi::Boolean::New(env, any);
  }
  ThrowInvalidArg(env, "offload", "must be 'tso' or 'coalescing'");
  return Napi::Value();
}

// watchLink(callback | null): with a function, link events of the device are delivered to it
// as objects (lib/tun.ts turns them into 'link' events); null stops watching.
Napi::Value TunWrap::WatchLink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) {
    ThrowError(env, "ERR_TUNIO_CLOSED", "TUN device is closed");
    return Napi::Value();
  }
  if (info.Length() < 1 || !info[0].IsFunction()) {
    StopLinkMonitor();
    return env.Undefined();
  }
  link_callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  if (link_monitor_.is_open()) return env.Undefined();
  SysError e = link_monitor_.open(dev_.ifindex());
  if (!e.ok()) {
    link_callback_.Reset();
    ThrowDevError(env, "ERR_TUNIO_LINK_CONFIG", "cannot watch link " + dev_.name(), e);
    return Napi::Value();
  }
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  link_watcher_ = std::make_unique<FdWatcher>(loop, link_monitor_.fd(), [this](int, int status) { OnLinkReady(status); });
  link_watcher_->want_readable(true);
  link_watcher_->unref();
  return env.Undefined();
}

void TunWrap::StopLinkMonitor() {
  if (link_watcher_) link_watcher_->close();  // before the fd goes
  link_watcher_.reset();
  link_monitor_.close();
  link_callback_.Reset();
}

void TunWrap::OnLinkReady(int status) {
  if (closed_ || !link_monitor_.is_open()) return;
  std::vector<LinkEvent> events;
  SysError e = status < 0 ? SysError::make(-status, "poll(RTMGRP_LINK)") : link_monitor_.drain(&events);
  Napi::HandleScope scope(env_);
  // The callback may stop the monitor (last listener removed): keep the function alive here.
  Napi::Function cb = link_callback_.Value();
  for (const LinkEvent& ev : events) {
    JsObject o(env_);
    o.String("type", link_change_name(ev.change))
        .Bool("up", (ev.state.flags & IFF_UP) != 0)
        .Bool("running", (ev.state.flags & IFF_RUNNING) != 0)
        .String("operstate", operstate_name(ev.state.operstate))
        .Number("mtu", ev.state.mtu);
    if (ev.change == LinkChange::kMtu) o.Number("previousMtu", ev.previous_mtu);
    if (!o.ok()) return;
    handle_.CallFunction(cb, {o.get()});
    if (closed_) return;
  }
  if (!e.ok()) {
    // The socket is unusable: stop, and tell JS (lib/tun.ts turns it into a process warning).
    StopLinkMonitor();
    handle_.CallFunction(cb, {MakeSysError(env_, "ERR_TUNIO_LINK_CONFIG", "watching link " + dev_.name() + " failed",
                                           e.err, e.call)});
    return;
  }
  if (link_monitor_.is_open() && link_monitor_.tracker().removed()) StopLinkMonitor();  // nothing more will come
}

// queueFd(queue): the queue's fd, for sendFd() (lib/fd-passing.ts) only.
Napi::Value TunWrap::QueueFd(const Napi::CallbackInfo& info) {
  int q;
  if (!QueueArg(info, 0, &q)) return Napi::Value();
  return Napi::Number::New(info.Env(), dev_.queue_fd(q));
}

}  // namespace tunio
