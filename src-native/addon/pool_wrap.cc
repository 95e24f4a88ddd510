#include "pool_wrap.h"

#include <cstring>
#include <vector>

#include "addon_data.h"
#include "batch_wrap.h"
#include "errors.h"

namespace tunio {

Napi::Function PoolWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativePool",
                     {InstanceMethod<&PoolWrap::Acquire>("acquire"),
                      InstanceMethod<&PoolWrap::AcquireView>("acquireView"),
                      InstanceMethod<&PoolWrap::LeaseFrom>("leaseFrom"),
                      InstanceMethod<&PoolWrap::Home>("home"),
                      InstanceMethod<&PoolWrap::View>("view"),
                      InstanceMethod<&PoolWrap::CopyOut>("copyOut"),
                      InstanceMethod<&PoolWrap::Set>("set"),
                      InstanceMethod<&PoolWrap::Release>("release"),
                      InstanceMethod<&PoolWrap::Abandon>("abandon"),
                      InstanceMethod<&PoolWrap::ReleaseLeaked>("releaseLeaked"),
                      InstanceMethod<&PoolWrap::Surrender>("surrender"),
                      InstanceMethod<&PoolWrap::LeaseBatch>("leaseBatch"),
                      InstanceMethod<&PoolWrap::Stats>("stats")});
}

PoolWrap* PoolWrap::FromValue(Napi::Value value) {
  if (!value.IsObject()) return nullptr;
  Napi::Env env = value.Env();
  bool is_pool = false;
  napi_instanceof(env, value, GetAddonData(env)->pool_ctor.Value(), &is_pool);
  return is_pool ? Napi::ObjectWrap<PoolWrap>::Unwrap(value.As<Napi::Object>()) : nullptr;
}

// new NativePool(capBytes, scratch): the JS layer validates options; this re-checks types only.
// `scratch` is a Uint32Array(2) over its own ArrayBuffer (off the V8 heap, so the pointer is
// stable) that single-lease calls write [lease number, generation] into.
PoolWrap::PoolWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PoolWrap>(info) {
  size_t cap = BufferPool::kDefaultCapBytes;
  if (info.Length() > 0 && info[0].IsNumber()) {
    double v = info[0].As<Napi::Number>().DoubleValue();
    if (v > 0) cap = static_cast<size_t>(v);
  }
  pool_ = std::make_shared<BufferPool>(cap);
  leases_ = std::make_shared<LeaseTable>(pool_);
  if (info.Length() > 1 && info[1].IsTypedArray() &&
      info[1].As<Napi::TypedArray>().TypedArrayType() == napi_uint32_array &&
      info[1].As<Napi::Uint32Array>().ElementLength() >= 2) {
    auto scratch = info[1].As<Napi::Uint32Array>();
    scratch_ = scratch.Data();
    scratch_ref_ = Napi::Persistent(scratch);
  } else {
    ThrowTypeError(info.Env(), "ERR_TUNIO_INVALID_ARG", "NativePool needs a Uint32Array(2) scratch array");
  }
}

bool PoolWrap::HeldIndex(const Napi::CallbackInfo& info, uint32_t* index) {
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowTypeError(info.Env(), "ERR_TUNIO_INVALID_ARG", "lease number must be a number");
    return false;
  }
  const int64_t i = info[0].As<Napi::Number>().Int64Value();
  if (i < 0 || i > UINT32_MAX || !leases_->Held(static_cast<uint32_t>(i))) {
    ThrowError(info.Env(), "ERR_TUNIO_LEASE_RELEASED", "lease was already released or handed to send()/write()");
    return false;
  }
  *index = static_cast<uint32_t>(i);
  return true;
}

int64_t PoolWrap::AcquireChecked(Napi::Env env, Napi::Value size_arg, bool via_home) {
  if (!size_arg.IsNumber()) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "size must be a number");
    return -1;
  }
  const double size = size_arg.As<Napi::Number>().DoubleValue();
  if (!(size >= 0 && size <= BufferPool::kMaxLeaseSize) || size != static_cast<double>(static_cast<int64_t>(size))) {
    ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG",
                    "size must be an integer between 0 and " + std::to_string(BufferPool::kMaxLeaseSize));
    return -1;
  }
  const int64_t index = leases_->Acquire(static_cast<size_t>(size), via_home);
  if (index < 0) {
    ThrowError(env, "ERR_TUNIO_POOL_EXHAUSTED",
               "buffer pool is full (cap " + std::to_string(pool_->cap_bytes()) +
                   " bytes): release leases or raise poolCapBytes");
    return -1;
  }
  scratch_[0] = static_cast<uint32_t>(index);
  scratch_[1] = leases_->Generation(static_cast<uint32_t>(index)) & 0xfffff;
  return index;
}

// acquire(size, viaHome): a lease number (transfer mode with viaHome, copy mode without).
Napi::Value PoolWrap::Acquire(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t index = AcquireChecked(env, info[0], info[1].ToBoolean().Value());
  if (index < 0) return Napi::Value();
  return Napi::Number::New(env, static_cast<double>(index));
}

// acquireView(size): external mode, one call per lease: an external Buffer over exactly
// `size` bytes whose finalizer tracks the lease; its number is in scratch[0]. null when the
// runtime forbids external buffers (the lease is then held in copy mode).
Napi::Value PoolWrap::AcquireView(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t index = AcquireChecked(env, info[0], false);
  if (index < 0) return Napi::Value();
  return View(env, static_cast<uint32_t>(index), info[0].As<Napi::Number>().Uint32Value());
}

Napi::Value PoolWrap::View(Napi::Env env, uint32_t index, size_t length) {
  bool refused = false;
  Napi::Value view = leases_->CreateView(env, index, length, &refused);
  if (!view.IsEmpty()) return view;
  if (refused) {
    GetAddonData(env)->external_buffers = false;
    return env.Null();
  }
  leases_->Release(index);
  ThrowError(env, "ERR_TUNIO_NAPI", "napi_create_external_buffer failed");
  return Napi::Value();
}

// leaseFrom(src, viaHome): a lease of src.length bytes holding a copy of src, made in one
// call (no Buffer over the slot is needed to fill it).
Napi::Value PoolWrap::LeaseFrom(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "source must be a Buffer or Uint8Array");
    return Napi::Value();
  }
  auto src = info[0].As<Napi::TypedArray>();
  const size_t length = src.ByteLength();
  const int64_t index = AcquireChecked(env, Napi::Number::New(env, static_cast<double>(length)), info[1].ToBoolean().Value());
  if (index < 0) return Napi::Value();
  if (length != 0) {
    const auto* from = static_cast<const uint8_t*>(src.ArrayBuffer().Data()) + src.ByteOffset();
    std::memcpy(leases_->SlotAt(static_cast<uint32_t>(index))->data, from, length);
  }
  return Napi::Number::New(env, static_cast<double>(index));
}

// home(i): transfer mode: the long-lived ArrayBuffer over slot i (null if refused).
Napi::Value PoolWrap::Home(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t index;
  if (!HeldIndex(info, &index)) return Napi::Value();
  bool refused = false;
  Napi::Value home = leases_->CreateHome(env, index, &refused);
  if (!home.IsEmpty()) return home;
  if (refused) {
    GetAddonData(env)->external_buffers = false;
    return env.Null();
  }
  ThrowError(env, "ERR_TUNIO_NAPI", "napi_create_external_arraybuffer failed");
  return Napi::Value();
}

// view(i, length): external mode, for a lease made without one (leaseFrom).
Napi::Value PoolWrap::View(const Napi::CallbackInfo& info) {
  uint32_t index;
  if (!HeldIndex(info, &index)) return Napi::Value();
  const uint32_t length = info[1].As<Napi::Number>().Uint32Value();
  if (length > leases_->SlotAt(index)->capacity) {
    ThrowRangeError(info.Env(), "ERR_TUNIO_INVALID_ARG", "length beyond the lease");
    return Napi::Value();
  }
  return View(info.Env(), index, length);
}

// copyOut(i, length): copy mode: a Buffer holding a copy of the lease's bytes.
Napi::Value PoolWrap::CopyOut(const Napi::CallbackInfo& info) {
  uint32_t index;
  if (!HeldIndex(info, &index)) return Napi::Value();
  Slot* slot = leases_->SlotAt(index);
  const uint32_t length = info[1].As<Napi::Number>().Uint32Value();
  return Napi::Buffer<uint8_t>::Copy(info.Env(), slot->data, length < slot->capacity ? length : slot->capacity);
}

// set(i, offset, src): copies src into the lease at offset (lib/lease.ts checks the bounds
// against the lease's length; this checks them against the slot).
Napi::Value PoolWrap::Set(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t index;
  if (!HeldIndex(info, &index)) return Napi::Value();
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsTypedArray()) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "set(offset, source) needs a number and a Buffer or Uint8Array");
    return Napi::Value();
  }
  const int64_t offset = info[1].As<Napi::Number>().Int64Value();
  auto src = info[2].As<Napi::TypedArray>();
  Slot* slot = leases_->SlotAt(index);
  if (offset < 0 || static_cast<uint64_t>(offset) + src.ByteLength() > slot->capacity) {
    ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG", "source does not fit in the lease at that offset");
    return Napi::Value();
  }
  if (src.ByteLength() != 0) {
    const auto* from = static_cast<const uint8_t*>(src.ArrayBuffer().Data()) + src.ByteOffset();
    std::memmove(slot->data + offset, from, src.ByteLength());  // src may be a view of this lease
  }
  return env.Undefined();
}

// release(i, view?): detaches `view` (external and copy modes; transfer mode moved it home
// already) and reuses the slot at once. If `view` had been detached by someone else, its
// memory may live on in an ArrayBuffer tunio does not know: the slot then stays out until
// that one is collected. Returns false in that case.
Napi::Value PoolWrap::Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t index;
  if (!HeldIndex(info, &index)) return Napi::Value();
  if (info.Length() > 1 && info[1].IsTypedArray()) {
    napi_value arraybuffer = nullptr;
    bool detached = false;
    napi_get_typedarray_info(env, info[1], nullptr, nullptr, nullptr, &arraybuffer, nullptr);
    napi_is_detached_arraybuffer(env, arraybuffer, &detached);
    if (detached) {
      leases_->Abandon(index);
      return Napi::Boolean::New(env, false);
    }
    napi_detach_arraybuffer(env, arraybuffer);
  }
  leases_->Release(index);
  return Napi::Boolean::New(env, true);
}

// abandon(i): transfer mode's counterpart of release() finding the view detached.
Napi::Value PoolWrap::Abandon(const Napi::CallbackInfo& info) {
  uint32_t index;
  if (!HeldIndex(info, &index)) return Napi::Value();
  leases_->Abandon(index);
  return info.Env().Undefined();
}

// releaseLeaked(i, generation): the Lease object was collected while held (no view exists).
Napi::Value PoolWrap::ReleaseLeaked(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) return Napi::Boolean::New(env, false);
  return Napi::Boolean::New(env, leases_->ReleaseLeaked(info[0].As<Napi::Number>().Uint32Value(),
                                                       info[1].As<Napi::Number>().Uint32Value()));
}

// surrender(i, length, view?, isCopy): ownership moves to a device. A copy-mode Buffer is
// written back first; the view is detached. Returns a NativeBatch of one packet for
// send()/write(). A zero-copy view detached by someone else means its memory may live on in
// an ArrayBuffer tunio does not know: the slot stays out (abandoned) and this throws.
Napi::Value PoolWrap::Surrender(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t index;
  if (!HeldIndex(info, &index)) return Napi::Value();
  Slot* slot = leases_->SlotAt(index);
  uint32_t length = info[1].As<Napi::Number>().Uint32Value();
  if (length > slot->capacity) length = slot->capacity;
  if (info.Length() > 2 && info[2].IsTypedArray()) {
    auto view = info[2].As<Napi::TypedArray>();
    const bool is_copy = info[3].ToBoolean().Value();
    napi_value arraybuffer = view.ArrayBuffer();
    bool detached = false;
    napi_is_detached_arraybuffer(env, arraybuffer, &detached);
    if (detached && !is_copy) {
      leases_->Abandon(index);
      ThrowError(env, "ERR_TUNIO_LEASE_RELEASED", "the lease's ArrayBuffer was detached (transferred away) by someone else");
      return Napi::Value();
    }
    if (!detached) {
      const size_t n = view.ByteLength() < length ? view.ByteLength() : length;
      if (is_copy && n != 0) {
        std::memcpy(slot->data, static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset(), n);
      }
      napi_detach_arraybuffer(env, arraybuffer);
    }
  }
  std::vector<Packet> packets(1);
  packets[0].slot = leases_->Take(index);
  packets[0].length = length;
  return BatchWrap::Create(env, pool_, std::move(packets));
}

// leaseBatch(count, size): `count` fresh leases in one batch, all or nothing.
Napi::Value PoolWrap::LeaseBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "count and size must be numbers");
    return Napi::Value();
  }
  int64_t count = info[0].As<Napi::Number>().Int64Value();
  int64_t size = info[1].As<Napi::Number>().Int64Value();
  if (count < 0 || count > 4096 || size < 0 || size > BufferPool::kMaxLeaseSize) {
    ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG", "count must be 0..4096 and size 0..65536");
    return Napi::Value();
  }
  std::vector<Packet> packets(static_cast<size_t>(count));
  for (auto& p : packets) {
    Slot* slot = pool_->acquire(static_cast<size_t>(size));
    if (!slot) {
      // packets already filled release their slots as the vector goes out of scope
      ThrowError(env, "ERR_TUNIO_POOL_EXHAUSTED",
                 "buffer pool is full (cap " + std::to_string(pool_->cap_bytes()) + " bytes): release leases or raise poolCapBytes");
      return Napi::Value();
    }
    p.slot = SlotRef(slot);
    p.length = static_cast<uint32_t>(size);
  }
  return BatchWrap::Create(env, pool_, std::move(packets));
}

Napi::Object PoolStatsToJs(Napi::Env env, const PoolStats& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("capBytes", Napi::Number::New(env, static_cast<double>(s.cap_bytes)));
  o.Set("reservedBytes", Napi::Number::New(env, static_cast<double>(s.reserved_bytes)));
  o.Set("inUseBytes", Napi::Number::New(env, static_cast<double>(s.in_use_bytes)));
  o.Set("highWaterBytes", Napi::Number::New(env, static_cast<double>(s.high_water_bytes)));
  o.Set("slotsInUse", Napi::Number::New(env, static_cast<double>(s.slots_in_use)));
  o.Set("leaseFailures", Napi::Number::New(env, static_cast<double>(s.lease_failures)));
  o.Set("leaked", Napi::Number::New(env, static_cast<double>(s.leaked)));
  o.Set("acquired", Napi::Number::New(env, static_cast<double>(s.acquired)));
  return o;
}

Napi::Value PoolWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Object o = PoolStatsToJs(info.Env(), pool_->stats());
  o.Set("externalBuffers", Napi::Boolean::New(info.Env(), GetAddonData(info.Env())->external_buffers));
  return o;
}

}  // namespace tunio
