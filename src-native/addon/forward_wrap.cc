#include "forward_wrap.h"

#include <algorithm>
#include <optional>
#include <string>

#include "aead_wrap.h"
#include "endpoint_js.h"
#include "errors.h"
#include "js_checked.h"
#include "stats_js.h"
#include "tun_wrap.h"
#include "type_tags.h"
#include "udp_wrap.h"

namespace tunio {

namespace {

// Rounds per readable callback before the loop gets a turn (the poll is level-triggered: a
// source still readable fires again at once). The JS reader reads until EAGAIN; this bounds
// one callback so that the other direction and timers are not starved by a flood.
constexpr int kMaxRoundsPerWakeup = 64;

// The end a JS value is (NativeTun or NativeUdp), or null. Type tags, not napi_instanceof,
// which runs JavaScript inside the call (type_tags.h).
ForwardEnd* EndOf(Napi::Value v, bool* is_tun) {
  TunWrap* tun = UnwrapTagged<TunWrap>(v, kTunTypeTag);
  *is_tun = tun != nullptr;
  if (tun) return tun;
  return UnwrapTagged<UdpWrap>(v, kUdpTypeTag);
}

}  // namespace

Napi::Function ForwardWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeForward",
                     {InstanceMethod<&ForwardWrap::Stop>("stop"), InstanceMethod<&ForwardWrap::Stats>("stats")});
}

Napi::Value ForwardStatsToJs(napi_env env, const ForwardStats& s) {
  GroupedStats out(env);
  TUNIO_FORWARD_STATS(TUNIO_STATS_TO_JS)
  return out.done().result();
}

ForwardWrap::ForwardWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ForwardWrap>(info) {
  Napi::Env env = info.Env();
  if (Value().IsEmpty()) return;  // napi_wrap failed: the environment is going away
  if (info.Length() < 4 || !info[2].IsObject() || !info[3].IsFunction()) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "NativeForward(source, sink, options, onEnd)");
    return;
  }
  bool source_is_tun = false, sink_is_tun = false;
  ForwardEnd* source = EndOf(info[0], &source_is_tun);
  ForwardEnd* sink = EndOf(info[1], &sink_is_tun);
  if (!source || !sink || source_is_tun == sink_is_tun) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "a forward goes from a Tun to a Udp socket or from a Udp socket to a Tun");
    return;
  }
  Napi::Object o = info[2].As<Napi::Object>();
  const int queue = JsGet(o, "queue").IsNumber() ? JsGet(o, "queue").As<Napi::Number>().Int32Value() : 0;
  source_queue_ = source_is_tun ? queue : 0;
  sink_queue_ = sink_is_tun ? queue : 0;
  if (JsGet(o, "batchSize").IsNumber()) batch_size_ = JsGet(o, "batchSize").As<Napi::Number>().Uint32Value();
  if (!source->ForwardHasQueue(source_queue_) || !sink->ForwardHasQueue(sink_queue_)) {
    ThrowInvalidOption(env, "queue", "is not a queue of the device");
    return;
  }
  if (source->ForwardClosed() || sink->ForwardClosed()) {
    ThrowError(env, "ERR_TUNIO_CLOSED", std::string(source->ForwardClosed() ? "the source" : "the destination") + " is closed");
    return;
  }
  if (source->ForwardLinked(source_queue_, true) || sink->ForwardLinked(sink_queue_, false)) {
    ThrowError(env, "ERR_TUNIO_FORWARDING",
               std::string(source->ForwardLinked(source_queue_, true) ? "the source already forwards"
                                                                      : "the destination already receives a forward") +
                   ": stop() that forward first");
    return;
  }
  Napi::Value to = JsGet(o, "to");
  if (!to.IsUndefined() && !ParseEndpoint(env, to, "to", &to_)) return;
  Napi::Value transform = JsGet(o, source_is_tun ? "seal" : "open");
  if (!transform.IsUndefined()) {
    aead_ = UnwrapTagged<AeadWrap>(transform, kAeadTypeTag);
    if (!aead_) {
      ThrowInvalidOption(env, source_is_tun ? "seal" : "open", "must be an Aead");
      return;
    }
    if (!aead_->Claim(env)) return;
    aead_ref_ = Napi::Persistent(transform.As<Napi::Object>());
    seal_ = source_is_tun;
  }
  source_ = source;
  sink_ = sink;
  if (!source_is_tun && !aead_) {
    view_source_ = UnwrapTagged<UdpWrap>(info[0], kUdpTypeTag);
    view_sink_ = UnwrapTagged<TunWrap>(info[1], kTunTypeTag);
    views_.reserve(512, 128);
  }
  source_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
  sink_ref_ = Napi::Persistent(info[1].As<Napi::Object>());
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  pool_timer_ = new uv_timer_t;
  uv_timer_init(loop, pool_timer_);
  pool_timer_->data = this;
  batch_.reserve(256);
  handle_.Open(env, Value(), info[3].As<Napi::Function>(), "tunio.Forward", CleanupHook, this);
  active_ = true;
  source_->ForwardLink(source_queue_, true, this);
  sink_->ForwardLink(sink_queue_, false, this);
  source_->ForwardWatch(source_queue_, true);
}

ForwardWrap::~ForwardWrap() { Detach(); }

void ForwardWrap::CleanupHook(void* arg) { static_cast<ForwardWrap*>(arg)->Detach(); }

void ForwardWrap::Detach() {
  if (!active_) return;
  active_ = false;
  // Neither end has been freed: each unlinks itself (calls Detach) before it goes.
  source_->ForwardWatch(source_queue_, false);
  source_->ForwardLink(source_queue_, true, nullptr);
  sink_->ForwardLink(sink_queue_, false, nullptr);
  source_ = sink_ = nullptr;
  if (aead_) aead_->Release();
  aead_ = nullptr;
  if (pool_timer_) {
    uv_timer_stop(pool_timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(pool_timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    pool_timer_ = nullptr;
  }
  if (!in_round_) {  // inside OnReadable the round clears them on its way out
    batch_.clear();
    views_.clear();
  }
  view_source_ = nullptr;
  view_sink_ = nullptr;
  source_ref_.Reset();
  sink_ref_.Reset();
  aead_ref_.Reset();
  handle_.Shutdown();
  handle_.Release();
}

void ForwardWrap::Pause(bool for_pool) {
  source_->ForwardWatch(source_queue_, false);
  if (for_pool) {
    stats_.pool_waits++;
    uv_timer_start(pool_timer_, [](uv_timer_t* t) {
      auto* self = static_cast<ForwardWrap*>(t->data);
      if (self->active_) self->source_->ForwardWatch(self->source_queue_, true);
    }, 1, 0);
  } else {
    stats_.sink_waits++;
  }
}

void ForwardWrap::OnSinkDrained() {
  if (active_) source_->ForwardWatch(source_queue_, true);
}

void ForwardWrap::OnReadable() {
  if (!active_) return;
  in_round_ = true;
  // The ends must outlive this call even if JS closes them and stops this forward from End or
  // a notification below (Detach drops the references): local handles hold them until it
  // returns. Opened only before JS is called: most wake-ups call none, and the scope with its
  // three handles was about 600 instructions per wake-up (~10 per packet at 64 a wake-up).
  std::optional<Napi::HandleScope> scope;
  auto hold = [&] {
    if (scope) return;
    scope.emplace(Env());
    const Napi::Object keep[] = {source_ref_.Value(), sink_ref_.Value(), Value()};
    (void)keep;
  };
  ForwardEnd* source = source_;
  ForwardEnd* sink = sink_;
  const int sq = source_queue_, dq = sink_queue_;
  bool paused = false;
  for (int round = 0; round < kMaxRoundsPerWakeup && active_; round++) {
    if (sink->ForwardCongested(dq)) {
      Pause(false);  // OnSinkDrained resumes
      paused = true;
      break;
    }
    IoResult r;
    uint64_t bytes = 0;
    if (view_source_) {
      r = view_source_->ReadViews(views_, batch_size_);
      if (!views_.empty()) {
        stats_.rounds++;
        stats_.packets += views_.size();
        stats_.bytes += views_.bytes();
        view_sink_->EnqueueViews(dq, views_);  // leaves views_ empty
      }
    } else {
      batch_.clear();
      r = source->ForwardRead(sq, batch_, batch_size_, bytes);
    }
    if (!batch_.empty()) {
      const size_t n = batch_.size();
      if (aead_ && seal_ && !aead_->SealForward(batch_)) {
        batch_.clear();
        hold();
        End("ERR_TUNIO_AEAD_COUNTER_LIMIT", "sealing the next batch would use a counter at or past the limit: a new key is needed", 0, nullptr);
        break;
      }
      if (aead_ && !seal_) aead_->OpenForward(batch_, counters_);
      stats_.transform_drops += n - batch_.size();
      stats_.rounds++;
      stats_.packets += batch_.size();
      if (aead_) {
        bytes = 0;  // sealed or opened: other lengths, some packets dropped
        for (const Packet& p : batch_) bytes += p.length;
      }
      stats_.bytes += bytes;
      sink->ForwardWrite(dq, batch_, to_);
    }
    if (r.status == IoStatus::kWouldBlock) break;  // empty: the poll stays armed
    if (r.status == IoStatus::kPoolExhausted) {
      Pause(true);
      paused = true;
      break;
    }
    if (r.status == IoStatus::kError) {
      hold();
      End("ERR_TUNIO_FORWARD_READ", "the forward's source failed", r.error.err, r.error.call ? r.error.call : "read");
      break;
    }
  }
  batch_.clear();
  views_.clear();
  in_round_ = false;
  // After POLLERR libuv stopped the poll (FdWatcher mirrors it): arm it again (a no-op when it
  // still is), unless this round paused it or the forward ended.
  if (active_ && !paused) source->ForwardWatch(sq, true);
  // What the ends recorded (drops, congestion, peer errors) goes to their JS listeners, which
  // may close an end or stop this forward: nothing of this object is used after these calls.
  if (!source->ForwardHasNotice(sq) && !sink->ForwardHasNotice(dq)) return;
  hold();
  source->ForwardNotify(sq);
  sink->ForwardNotify(dq);
}

void ForwardWrap::End(const char* code, const std::string& message, int err, const char* call) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  napi_value error = call ? MakeSysError(env, code, message, err, call) : MakeError(env, code, message);
  // Call before Detach (which ends the async context); the callback only records the end.
  handle_.Call({error ? error : env.Null()});
  Detach();
}

Napi::Value ForwardWrap::Stop(const Napi::CallbackInfo& info) {
  Detach();
  return info.Env().Undefined();
}

Napi::Value ForwardWrap::Stats(const Napi::CallbackInfo& info) { return ForwardStatsToJs(info.Env(), stats_); }

}  // namespace tunio
