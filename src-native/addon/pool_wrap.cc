#include "pool_wrap.h"

#include <string>
#include <vector>

#include "addon_data.h"
#include "batch_wrap.h"
#include "errors.h"
#include "js_checked.h"
#include "type_tags.h"
#include "stats_js.h"
#include "lease_js.h"
#include "lease_batch.h"
#include "slot_packer.h"  // kMaxPacketRoom

namespace tunio {

Napi::Function PoolWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativePool",
                     {InstanceMethod<&PoolWrap::LeaseHandle>("leaseHandle"),
                      InstanceMethod<&PoolWrap::LeaseBatch>("leaseBatch"),
                      InstanceMethod<&PoolWrap::Stats>("stats")});
}

PoolWrap* PoolWrap::FromValue(Napi::Value value) { return UnwrapTagged<PoolWrap>(value, kPoolTypeTag); }

// new NativePool(capBytes, scratch): the JS layer validates options; this re-checks types only.
// `scratch` is a Uint32Array over its own ArrayBuffer (off the V8 heap, so the pointer is
// stable) shared with lib/pool-lease.ts (LeaseTable::kScratch*).
PoolWrap::PoolWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PoolWrap>(info) {
  SetTypeTag(info.Env(), Value(), kPoolTypeTag);
  size_t cap = BufferPool::kDefaultCapBytes;
  if (info.Length() > 0 && info[0].IsNumber()) {
    double v = info[0].As<Napi::Number>().DoubleValue();
    if (v > 0) cap = static_cast<size_t>(v);
  }
  pool_ = std::make_shared<BufferPool>(cap);
  leases_ = std::make_shared<LeaseTable>(pool_);
  if (info.Length() > 1 && info[1].IsTypedArray() &&
      info[1].As<Napi::TypedArray>().TypedArrayType() == napi_uint32_array &&
      info[1].As<Napi::Uint32Array>().ElementLength() >= LeaseTable::kScratchWords) {
    auto scratch = info[1].As<Napi::Uint32Array>();
    leases_->set_scratch(scratch.Data());
    scratch_ref_ = Napi::Persistent(scratch);
  } else {
    ThrowTypeError(info.Env(), "ERR_TUNIO_INVALID_ARG", "NativePool needs its Uint32Array of scratch words (lib/pool-lease.ts)");
  }
}

// The table outlives this object while Buffers over its slots exist; from then on nothing
// reads the scratch array this object keeps alive.
PoolWrap::~PoolWrap() { leases_->set_scratch(nullptr); }

Napi::Value PoolWrap::LeaseHandle(const Napi::CallbackInfo& info) { return NewLeaseHandle(info.Env(), leases_); }

// leaseBatch(count, size, headroom, tailroom): `count` fresh leases in one batch, all or
// nothing, each with `headroom`/`tailroom` bytes of its own before and after it (aead.h).
Napi::Value PoolWrap::LeaseBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "count and size must be numbers");
    return Napi::Value();
  }
  int64_t count = info[0].As<Napi::Number>().Int64Value();
  int64_t size = info[1].As<Napi::Number>().Int64Value();
  int64_t head = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : 0;
  int64_t tail = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Int64Value() : 0;
  // Preconditions of lease_batch(), not the user's check (lib/pool.ts makes that, with the
  // limits read from binding.limits): only a call past lib/ gets here with other numbers.
  if (count < 0 || count > static_cast<int64_t>(kMaxLeaseBatch) || size < 0 || head < 0 || tail < 0 ||
      head > kMaxPacketRoom || tail > kMaxPacketRoom || size + head + tail > BufferPool::kMaxLeaseSize) {
    ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG",
                    "count must be 0.." + std::to_string(kMaxLeaseBatch) + ", headroom and tailroom 0.." +
                        std::to_string(kMaxPacketRoom) + ", size + both at most " + std::to_string(BufferPool::kMaxLeaseSize));
    return Napi::Value();
  }
  std::vector<Packet> packets;
  if (lease_batch(*pool_, static_cast<size_t>(count), static_cast<uint32_t>(size), static_cast<uint32_t>(head),
                  static_cast<uint32_t>(tail), packets) != LeaseBatchResult::kOk) {
    ThrowPoolExhausted(env, pool_->cap_bytes());
    return Napi::Value();
  }
  return BatchWrap::Create(env, pool_, std::move(packets));
}

napi_value PoolStatsToJs(napi_env env, const PoolStats& s) {
  GroupedStats out(env);
  TUNIO_POOL_STATS(TUNIO_STATS_TO_JS)
  return out.done().get();
}

Napi::Value PoolWrap::Stats(const Napi::CallbackInfo& info) {
  leases_->DrainReleased();  // queued releases count as released
  napi_env env = info.Env();
  return JsObject(env, PoolStatsToJs(env, pool_->stats()))
      .Bool("externalBuffers", GetAddonData(info.Env())->external_buffers)
      .result();
}

}  // namespace tunio
