#include "batch_wrap.h"

#include <cstring>

#include "addon_data.h"
#include "byte_source.h"
#include "endpoint_js.h"
#include "errors.h"
#include "js_checked.h"
#include "type_tags.h"

namespace tunio {

namespace {

void FinalizeView(uint8_t* /*data*/, ViewRecord* record) {
  record->finalized = true;
  record->ref.reset();
  if (!record->entry_alive) delete record;
}

// Called by the batch entry when it lets go of its view (release, move or batch GC).
void EntryDropsView(ViewRecord* record) {
  record->entry_alive = false;
  record->ref.reset();
  if (record->finalized) delete record;
}

}  // namespace

bool DetachView(Napi::Env env, Napi::Value value) {
  napi_value arraybuffer = nullptr;
  if (value.IsArrayBuffer()) {
    arraybuffer = value;
  } else if (value.IsTypedArray()) {
    if (napi_get_typedarray_info(env, value, nullptr, nullptr, nullptr, &arraybuffer, nullptr) != napi_ok) return false;
  } else {
    return false;
  }
  bool detached = false;
  if (napi_is_detached_arraybuffer(env, arraybuffer, &detached) == napi_ok && detached) return true;
  return napi_detach_arraybuffer(env, arraybuffer) == napi_ok;
}

Napi::Function BatchWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeBatch",
                     {
                         InstanceMethod<&BatchWrap::Size>("size"),
                         InstanceMethod<&BatchWrap::Live>("live"),
                         InstanceMethod<&BatchWrap::LengthOf>("lengthOf"),
                         InstanceMethod<&BatchWrap::Buffer>("buffer"),
                         InstanceMethod<&BatchWrap::Release>("release"),
                         InstanceMethod<&BatchWrap::ReleaseAll>("releaseAll"),
                         InstanceMethod<&BatchWrap::Detach>("detach"),
                         InstanceMethod<&BatchWrap::WriteBack>("writeBack"),
                         InstanceMethod<&BatchWrap::Truncate>("truncate"),
                         InstanceMethod<&BatchWrap::Meta>("meta"),
                         InstanceMethod<&BatchWrap::SetMeta>("setMeta"),
                         InstanceMethod<&BatchWrap::Extract>("extract"),
                         InstanceMethod<&BatchWrap::Headers>("headers"),
                         InstanceMethod<&BatchWrap::Split>("split"),
                         InstanceMethod<&BatchWrap::WithoutRemote>("withoutRemote"),
                         InstanceMethod<&BatchWrap::Bytes>("bytes"),
                         InstanceMethod<&BatchWrap::SyncBytesJs>("syncBytes"),
                     });
}

Napi::Object BatchWrap::Create(Napi::Env env, std::shared_ptr<BufferPool> pool, std::vector<Packet>&& packets) {
  // The constructor call fails while the environment is being torn down (worker.terminate()):
  // the result is then empty, and `packets` stay with the caller, who frees them.
  Napi::Object obj = GetAddonData(env)->batch_ctor.New({});
  if (obj.IsEmpty()) return Napi::Object(env, nullptr);
  BatchWrap* self = Napi::ObjectWrap<BatchWrap>::Unwrap(obj);
  if (!self) return Napi::Object(env, nullptr);
  self->pool_ = std::move(pool);
  self->packets_ = std::move(packets);
  self->views_.assign(self->packets_.size(), nullptr);
  self->size_ = self->packets_.size();
  self->live_ = self->packets_.size();
  return obj;
}

BatchWrap* BatchWrap::FromValue(Napi::Value value) { return UnwrapTagged<BatchWrap>(value, kBatchTypeTag); }

BatchWrap::BatchWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BatchWrap>(info) {
  SetTypeTag(info.Env(), Value(), kBatchTypeTag);
}

BatchWrap::~BatchWrap() {
  ForgetBytes();
  // Reached only by GC: whatever is still held was never released by its owner.
  for (size_t i = 0; i < packets_.size(); i++) {
    // A lease Buffer may outlive its batch (rule 7 of docs/ownership.md): nothing can detach it
    // here (no JavaScript runs in a GC finalizer), so its record keeps the slot reference until
    // the Buffer itself is collected. Dropping it here let the slot be reused under a live Buffer.
    if (ViewRecord* record = views_[i]) {
      views_[i] = nullptr;
      record->entry_alive = false;
      if (record->finalized) delete record;
    }
    if (packets_[i].valid()) {
      pool_->count_leak();
      DropEntry(static_cast<uint32_t>(i));
    }
  }
}

void BatchWrap::DropView(uint32_t index) {
  if (views_[index]) {
    EntryDropsView(views_[index]);
    views_[index] = nullptr;
  }
}

void BatchWrap::DropEntry(uint32_t index) {
  DropView(index);
  if (packets_[index].valid()) {
    packets_[index].slot.reset();
    live_--;
  }
}

void BatchWrap::MoveEntry(uint32_t index, std::vector<Packet>& to) {
  DropView(index);
  to.push_back(std::move(packets_[index]));
  live_--;
}

void BatchWrap::TakeAll(Napi::Env env, std::vector<Packet>& out) {
  ApplyAndCloseBytes(env, nullptr);
  out.reserve(out.size() + live_);
  for (size_t i = 0; i < packets_.size(); i++) {
    if (packets_[i].valid()) MoveEntry(static_cast<uint32_t>(i), out);
  }
  FreeStorageIfConsumed();
}

void BatchWrap::SettleTransformed() {
  size_t live = 0;
  for (size_t i = 0; i < packets_.size(); i++) {
    if (packets_[i].valid()) {
      live++;
    } else {
      DropView(static_cast<uint32_t>(i));
    }
  }
  live_ = live;
  FreeStorageIfConsumed();
}

void BatchWrap::FreeStorageIfConsumed() {
  if (live_ != 0 || packets_.empty()) return;
  // Every entry was dropped (DropEntry, TakeAll and Extract clear the entry's view first), so
  // no view record is referenced from here any more.
  std::vector<Packet>().swap(packets_);
  std::vector<ViewRecord*>().swap(views_);
}

bool BatchWrap::CheckIndex(const Napi::CallbackInfo& info, uint32_t* index) {
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowTypeError(info.Env(), "ERR_TUNIO_INVALID_ARG", "index must be a number");
    return false;
  }
  int64_t i = info[0].As<Napi::Number>().Int64Value();
  if (i < 0 || static_cast<uint64_t>(i) >= size_) {
    ThrowRangeError(info.Env(), "ERR_TUNIO_INVALID_ARG", "index out of range");
    return false;
  }
  *index = static_cast<uint32_t>(i);
  return true;
}

bool BatchWrap::CheckHeld(const Napi::CallbackInfo& info, uint32_t* index) {
  if (!CheckIndex(info, index)) return false;
  if (Held(*index)) return true;
  ThrowError(info.Env(), "ERR_TUNIO_LEASE_RELEASED", "lease was already released or handed to send()/write()");
  return false;
}

Napi::Value BatchWrap::Size(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(size_));
}

Napi::Value BatchWrap::Live(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(live_));
}

Napi::Value BatchWrap::LengthOf(const Napi::CallbackInfo& info) {
  uint32_t i;
  if (!CheckIndex(info, &i)) return Napi::Value();
  SyncBytes(info.Env(), nullptr);
  if (!Held(i)) return Napi::Number::New(info.Env(), -1);
  return Napi::Number::New(info.Env(), packets_[i].length);
}

Napi::Value BatchWrap::Buffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t i;
  if (!CheckHeld(info, &i)) return Napi::Value();
  // A lease Buffer and a bytes() view are never open at once (a copy of each would be written
  // back over the other): the view is applied and closed.
  if (!ApplyAndCloseBytes(env, "batch")) return Napi::Value();
  Packet& p = packets_[i];
  AddonData* data = GetAddonData(env);
  if (data->external_buffers && !views_[i]) {
    auto* record = new ViewRecord{pool_, SlotRef::share(p.slot.get())};
    napi_value result;
    napi_status status = napi_create_external_buffer(
        env, p.length, p.data(),
        // A basic (GC-time) finalizer: it touches no JS, so Node runs it during GC instead
        // of queueing it for a later turn of the loop.
        [](node_api_basic_env, void* d, void* hint) {
          FinalizeView(static_cast<uint8_t*>(d), static_cast<ViewRecord*>(hint));
        },
        record, &result);
    if (status == napi_ok) {
      views_[i] = record;
      return Napi::Value(env, result);
    }
    record->ref.reset();
    delete record;
    if (status != napi_no_external_buffers_allowed) {
      ThrowError(env, "ERR_TUNIO_NAPI", "napi_create_external_buffer failed");
      return Napi::Value();
    }
    // The runtime forbids external buffers (Electron's V8 sandbox): copy from now on.
    data->external_buffers = false;
  }
  // Copy mode (or a second Buffer for the same entry): a copy whose changes are written back
  // by writeBack() before ownership moves to a device (lib/lease.ts does that).
  return Napi::Buffer<uint8_t>::Copy(env, p.data(), p.length);
}

Napi::Value BatchWrap::Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t i;
  if (!CheckIndex(info, &i)) return Napi::Value();
  if (!Held(i)) return Napi::Boolean::New(env, false);
  // The other packets keep what an open bytes() view gave them; the view closes (its runs
  // cover this packet's bytes too).
  ApplyAndCloseBytes(env, nullptr);
  // Detach first: from here on no JS view can read the bytes, so the slot can be reused now.
  if (info.Length() > 1 && !info[1].IsUndefined()) DetachView(env, info[1]);
  DropEntry(i);
  FreeStorageIfConsumed();
  return Napi::Boolean::New(env, true);
}

Napi::Value BatchWrap::ReleaseAll(const Napi::CallbackInfo& info) {
  CloseBytes(info.Env());
  size_t released = 0;
  for (size_t i = 0; i < packets_.size(); i++) {
    if (packets_[i].valid()) {
      DropEntry(static_cast<uint32_t>(i));
      released++;
    }
  }
  FreeStorageIfConsumed();
  return Napi::Number::New(info.Env(), static_cast<double>(released));
}

Napi::Value BatchWrap::Detach(const Napi::CallbackInfo& info) {
  if (info.Length() < 1) return Napi::Boolean::New(info.Env(), false);
  return Napi::Boolean::New(info.Env(), DetachView(info.Env(), info[0]));
}

Napi::Value BatchWrap::WriteBack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t i;
  if (!CheckIndex(info, &i)) return Napi::Value();
  if (!Held(i) || info.Length() < 2) return Napi::Boolean::New(env, false);
  // The lease's own Buffer, though the user may have detached or transferred it since.
  ByteSpan buf;
  if (!ReadByteSource(env, info[1], "view", &buf)) {
    env.GetAndClearPendingException();
    return Napi::Boolean::New(env, false);
  }
  if (buf.data == packets_[i].data()) return Napi::Boolean::New(env, true);  // zero-copy view
  size_t n = buf.length < packets_[i].length ? buf.length : packets_[i].length;
  if (n != 0) std::memmove(packets_[i].data(), buf.data, n);
  return Napi::Boolean::New(env, true);
}

// Shortens a lease (e.g. ciphertext shorter than the slot asked for). Growing is refused: the
// slot capacity beyond the original length may belong to a neighbouring view.
Napi::Value BatchWrap::Truncate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t i;
  if (!CheckHeld(info, &i)) return Napi::Value();
  if (info.Length() < 2 || !info[1].IsNumber()) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "length must be a number");
    return Napi::Value();
  }
  if (!SyncBytes(env, "batch")) return Napi::Value();
  int64_t n = info[1].As<Napi::Number>().Int64Value();
  if (n < 0 || n > packets_[i].length) {
    ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG", "length must be between 0 and the lease's length");
    return Napi::Value();
  }
  packets_[i].tailroom += packets_[i].length - static_cast<uint32_t>(n);  // the cut bytes stay this packet's
  packets_[i].length = static_cast<uint32_t>(n);
  PublishBytes(env);
  return Napi::Number::New(env, static_cast<double>(n));
}

// Moves packet i into a new batch of its own (one lease handed to a device on its own).
Napi::Value BatchWrap::Extract(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t i;
  if (!CheckHeld(info, &i)) return Napi::Value();
  if (!ApplyAndCloseBytes(env, "lease")) return Napi::Value();
  std::vector<Packet> one;
  MoveEntry(i, one);
  FreeStorageIfConsumed();
  return Create(env, pool_, std::move(one));
}

// withoutRemote() -> held packets with no remote endpoint: an unconnected UDP socket cannot
// send them without a destination (lib/packets.ts refuses that before anything moves).
Napi::Value BatchWrap::WithoutRemote(const Napi::CallbackInfo& info) {
  size_t n = 0;
  for (const Packet& p : packets_) {
    if (p.valid() && p.remote.empty()) n++;
  }
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// setMeta(i, remote, local, ecn): send metadata of held packet i, set from JavaScript (the
// lease's remote/local/ecn setters, lib/lease.ts). Each argument: undefined leaves that field;
// otherwise as SendMetaFieldFromJs (endpoint_js.h) takes it, which throws nothing: on a refusal
// nothing is changed and ERR_TUNIO_INVALID_ARG names the field.
Napi::Value BatchWrap::SetMeta(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t i;
  if (!CheckHeld(info, &i)) return Napi::Value();
  Packet& p = packets_[i];
  SendMeta meta{p.remote, p.local, p.ecn};
  static const char* const kFields[] = {"remote", "local", "ecn"};
  for (size_t f = 0; f < 3; f++) {
    Napi::Value value = info.Length() > f + 1 ? info[f + 1] : env.Undefined();
    std::string why;
    if (!value.IsUndefined() && !SendMetaFieldFromJs(kFields[f], value, &meta, &why)) {
      ThrowInvalidArg(env, kFields[f], why);
      return Napi::Value();
    }
  }
  p.remote = meta.remote;
  p.local = meta.local;
  p.ecn = meta.ecn;
  return env.Undefined();
}

Napi::Value BatchWrap::Meta(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t i;
  if (!CheckIndex(info, &i)) return Napi::Value();
  JsObject meta(env);
  if (i >= packets_.size()) return meta.Number("ecn", 0).result();  // storage freed: every lease was released or moved
  const Packet& p = packets_[i];
  if (!p.remote.empty()) meta.Value("remote", EndpointToJs(env, p.remote, true));
  if (!p.local.empty()) meta.Value("local", EndpointToJs(env, p.local, false));
  meta.Number("ecn", p.ecn);
  if (p.gso.gso_type != 0 || p.gso.flags != 0) {
    JsObject g(env);
    g.Number("type", p.gso.gso_type)
        .Bool("ecn", p.gso.ecn)
        .Bool("needsCsum", (p.gso.flags & 1) != 0)
        .Number("hdrLen", p.gso.hdr_len)
        .Number("size", p.gso.gso_size)
        .Number("csumStart", p.gso.csum_start)
        .Number("csumOffset", p.gso.csum_offset);
    meta.Value("gso", g);
  }
  return meta.result();
}

}  // namespace tunio
