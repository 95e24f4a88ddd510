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
  ~PoolWrap() override;
  const std::shared_ptr<BufferPool>& pool() const { return pool_; }

 private:
  // The handle lib/pool-lease.ts passes to the lease functions (lease_js.h).
  Napi::Value LeaseHandle(const Napi::CallbackInfo& info);
  Napi::Value LeaseBatch(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);

  std::shared_ptr<BufferPool> pool_;
  std::shared_ptr<LeaseTable> leases_;
  // The scratch words shared with lib/pool-lease.ts (see LeaseTable::kScratch*), kept alive
  // for as long as the table may write them.
  Napi::Reference<Napi::Uint32Array> scratch_ref_;
};

// The pool's counters as a JS object; null when it could not be built (js_checked.h).
napi_value PoolStatsToJs(napi_env env, const PoolStats& s);

}  // namespace tunio
