// Pool on the JS side: owns a BufferPool (shared with every batch and Buffer cut from it, so
// the memory outlives the Pool object for as long as any of them exists).
#pragma once

#include <napi.h>

#include <memory>

#include "buffer_pool.h"
#include "lease_table.h"

namespace tunio {

class PoolWrap : public Napi::ObjectWrap<PoolWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  // A pool passed as an argument, type-checked (nullptr if not a pool). Not named Unwrap:
  // node-addon-api calls T::Unwrap on every method call, where V8 has already checked `this`.
  static PoolWrap* FromValue(Napi::Value value);
  explicit PoolWrap(const Napi::CallbackInfo& info);
  const std::shared_ptr<BufferPool>& pool() const { return pool_; }

 private:
  // Single leases: numbers into leases_ (see lease_table.h); lib/lease.ts is the only caller.
  Napi::Value Acquire(const Napi::CallbackInfo& info);
  Napi::Value AcquireView(const Napi::CallbackInfo& info);
  Napi::Value LeaseFrom(const Napi::CallbackInfo& info);
  Napi::Value Home(const Napi::CallbackInfo& info);
  Napi::Value View(const Napi::CallbackInfo& info);
  Napi::Value View(Napi::Env env, uint32_t index, size_t length);
  Napi::Value CopyOut(const Napi::CallbackInfo& info);
  Napi::Value Set(const Napi::CallbackInfo& info);
  Napi::Value Release(const Napi::CallbackInfo& info);
  Napi::Value Abandon(const Napi::CallbackInfo& info);
  Napi::Value ReleaseLeaked(const Napi::CallbackInfo& info);
  Napi::Value Surrender(const Napi::CallbackInfo& info);

  Napi::Value LeaseBatch(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);

  // Validates a lease number from JavaScript (throws ERR_TUNIO_LEASE_RELEASED if not held).
  bool HeldIndex(const Napi::CallbackInfo& info, uint32_t* index);
  // Acquires a slot for a single lease, writing its number and generation to scratch_;
  // throws (and returns -1) when the size is invalid or the pool is full.
  int64_t AcquireChecked(Napi::Env env, Napi::Value size_arg, bool via_home);

  std::shared_ptr<BufferPool> pool_;
  std::shared_ptr<LeaseTable> leases_;
  // Two numbers shared with lib/pool.ts: [lease number, generation] of the last acquire, so
  // a call can return a Buffer and the number without allocating an object for both.
  Napi::Reference<Napi::Uint32Array> scratch_ref_;
  uint32_t* scratch_ = nullptr;
};

Napi::Object PoolStatsToJs(Napi::Env env, const PoolStats& s);

}  // namespace tunio
