// What the two fd-owning wraps (TunWrap, UdpWrap) share, in one place: the JS methods every
// I/O handle has (DefineIo), the constructor's steps (the type tag, the arguments (options,
// pool, callback), the pool; T's own open; the JavaScript side while open: OpenHandle's
// callback, async context, self reference, env cleanup hook), `closed_`, the close sequence
// (CloseAll: from close(), the environment's cleanup or T's destructor), and the queue side of
// a native forward's end (links, congestion). T is the wrap (CRTP); it has
//   static constexpr IoClass kIoClass: its JS class's name, type tag and async resource;
// and implements
//   bool Open(Napi::Env, Napi::Object options, const Napi::CallbackInfo&): its own fds, false
//     with a JS error pending;
//   CloseOwn(): closes what it owns, its watchers and timers before its fds (called once, by
//     CloseAll, once the forwards have unlinked and before the JavaScript side shuts down);
//   SendQueue& SendQueueOf(int q), ForwardLinks& LinksOf(int q): queue q's (UDP: its one);
//   the queue operations a native forward's end is made of (ForwardEnd, implemented here once):
//     int QueueCount() const: queues 0 .. QueueCount() - 1 (UDP: 1),
//     IoResult ReadQueue(int q, std::vector<Packet>& out, uint32_t max_reads): one read into
//       out, counted in q's stats; kWouldBlock when q is empty,
//     uint64_t BytesRead(int q) const: q's stats count of the bytes its reads appended (the
//       summed length of the packets; a forward's byte count is its difference over a read),
//     void WatchQueue(int q, bool on): q's readable callbacks on or off,
//     void EnqueueSend(int q, std::vector<Packet>& pkts, const IpEndpoint& to): pkts (moved
//       out) into q's send queue as write()/send() would, to the UDP destination `to`,
//     bool HasNotice(int q) const: whether NotifyJs(q) would call JS now,
//     void NotifyJs(int q): calls JS with what q's I/O recorded (events, peer errors), if any;
//   and the JS methods DefineIo registers for it: ReadBatch, WatchReadable, TakeEvents, Stats,
//   Info, SetOffload.
#pragma once

#include <napi.h>

#include <initializer_list>
#include <memory>
#include <vector>

#include "buffer_pool.h"
#include "forward_wrap.h"
#include "open_handle.h"
#include "send_queue.h"
#include "type_tags.h"

namespace tunio {

// The native forwards (forward_wrap.h) using one queue of an I/O handle.
struct ForwardLinks {
  ForwardWrap* out = nullptr;  // a forward reads this queue (its source)
  ForwardWrap* in = nullptr;   // a forward writes to this queue (its sink)
  ForwardWrap*& of(bool as_source) { return as_source ? out : in; }
  // The handle closes: each forward unlinks itself from both its ends.
  void DetachAll() {
    if (out) out->Detach();
    if (in) in->Detach();
  }
};

// What names an I/O handle's JS class (T::kIoClass).
struct IoClass {
  const char* name;          // the constructor's, e.g. "NativeTun"
  const napi_type_tag& tag;  // type_tags.h: a forward checks its ends with it (forward_wrap.cc)
  const char* resource;      // the async resource of its callbacks, e.g. "tunio.Tun"
};

template <typename T>
class IoWrap : public Napi::ObjectWrap<T>, public ForwardEnd {
  using Wrap = Napi::ObjectWrap<T>;

 public:
  // T's queue q as one end of a native forward (forward_wrap.h). Each is one virtual call from
  // the forward, as it was when T implemented them; T's operation is a plain call the compiler
  // inlines here (IoWrap<T>'s overrides are instantiated with T's vtable, in T's own .cc file).
  bool ForwardHasQueue(int q) const override { return q >= 0 && q < Self().QueueCount(); }
  IoResult ForwardRead(int q, std::vector<Packet>& out, uint32_t max_reads, uint64_t& bytes) override {
    const uint64_t before = Self().BytesRead(q);
    const IoResult r = Self().ReadQueue(q, out, max_reads);
    bytes = Self().BytesRead(q) - before;
    return r;
  }
  void ForwardWatch(int q, bool on) override { Self().WatchQueue(q, on); }
  void ForwardWrite(int q, std::vector<Packet>& pkts, const IpEndpoint& to) override { Self().EnqueueSend(q, pkts, to); }
  bool ForwardHasNotice(int q) const override { return Self().HasNotice(q); }
  void ForwardNotify(int q) override { Self().NotifyJs(q); }
  bool ForwardClosed() const override { return closed_; }
  bool ForwardCongested(int q) const override { return Self().SendQueueOf(q).congested(); }
  bool ForwardLinked(int q, bool as_source) const override { return Self().LinksOf(q).of(as_source) != nullptr; }
  void ForwardLink(int q, bool as_source, ForwardWrap* f) override { Self().LinksOf(q).of(as_source) = f; }

 protected:
  // The JS class: T's own methods, then those every I/O handle has (lib/tun.ts's
  // NativeTun and lib/udp.ts's NativeUdp both declare them): T's readBatch (a batch read:
  // NativeBatch | 0 | 1; a TUN device's of a queue), watchReadable, takeEvents (what happened
  // since JS last asked), stats, info and setOffload, each doing its own handle's work, and
  // this base's close.
  static Napi::Function DefineIo(Napi::Env env, std::initializer_list<Napi::ClassPropertyDescriptor<T>> own) {
    std::vector<Napi::ClassPropertyDescriptor<T>> methods(own);
    methods.insert(methods.end(), {
                                      Wrap::template InstanceMethod<&T::ReadBatch>("readBatch"),
                                      Wrap::template InstanceMethod<&T::WatchReadable>("watchReadable"),
                                      Wrap::template InstanceMethod<&T::TakeEvents>("takeEvents"),
                                      Wrap::template InstanceMethod<&T::Stats>("stats"),
                                      Wrap::template InstanceMethod<&T::Info>("info"),
                                      Wrap::template InstanceMethod<&T::SetOffload>("setOffload"),
                                      // The member-pointer form: a member of this base cannot
                                      // be the templated form's argument (not a per-packet call).
                                      Wrap::InstanceMethod("close", &IoWrap::Close),
                                  });
    return Wrap::DefineClass(env, T::kIoClass.name, methods);
  }

  // The constructor's first step (OpenHandle::Begin): pool_ is null when the wrap must open
  // nothing (the environment is going away, or a TypeError is pending). T's constructor then
  // calls OpenWith (its members exist by then).
  explicit IoWrap(const Napi::CallbackInfo& info)
      : Wrap(info), env_(info.Env()), pool_(OpenHandle::Begin(info, this->Value(), T::kIoClass.tag, T::kIoClass.name)) {}

  // The other steps: T's own Open with the options object (info[0]; checked by Begin), and
  // once it holds its fds, the handle: calls back info[2] from poll events, stays alive while
  // open and is closed by the environment's cleanup if JavaScript never does.
  void OpenWith(const Napi::CallbackInfo& info) {
    if (!pool_ || !static_cast<T*>(this)->Open(info.Env(), info[0].As<Napi::Object>(), info)) return;
    handle_.Open(env_, this->Value(), info[2].As<Napi::Function>(), T::kIoClass.resource, CleanupHook, this);
  }

  // Closes the handle, once: the native forwards using its queues unlink themselves first (they
  // hold this wrap), then T closes what it owns (CloseOwn), then the JavaScript side stops
  // calling back (handle_.Shutdown). From close(), the environment's cleanup hook, T's
  // destructor (while T's members still exist) and an Open that fails after opening something.
  void CloseAll() {
    if (closed_) return;
    closed_ = true;
    for (int q = 0; q < Self().QueueCount(); q++) Self().LinksOf(q).DetachAll();
    Self().CloseOwn();
    handle_.Shutdown();
  }

  // close() (DefineIo).
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!closed_) {
      CloseAll();
      handle_.Release();
    }
    return info.Env().Undefined();
  }

  Napi::Env env_;
  std::shared_ptr<BufferPool> pool_;
  OpenHandle handle_;
  bool closed_ = false;

 private:
  // T, for the ForwardEnd overrides (the const queries too: T's queue accessors serve them and
  // ForwardLink alike) and for CloseAll.
  T& Self() const { return *static_cast<T*>(const_cast<IoWrap*>(this)); }
  static void CleanupHook(void* arg) { static_cast<IoWrap*>(arg)->CloseAll(); }
};

}  // namespace tunio
