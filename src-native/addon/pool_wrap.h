// Pool on the JS side: owns a BufferPool (shared with every batch and Buffer cut from it, so
// the memory outlives the Pool object for as long as any of them exists).
#pragma once

#include <napi.h>

#include <memory>

#include "buffer_pool.h"

namespace tunio {

class PoolWrap : public Napi::ObjectWrap<PoolWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  static PoolWrap* Unwrap(Napi::Value value);  // nullptr if not a pool
  explicit PoolWrap(const Napi::CallbackInfo& info);
  const std::shared_ptr<BufferPool>& pool() const { return pool_; }

 private:
  Napi::Value Lease(const Napi::CallbackInfo& info);
  Napi::Value LeaseBatch(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  std::shared_ptr<BufferPool> pool_;
};

Napi::Object PoolStatsToJs(Napi::Env env, const PoolStats& s);

}  // namespace tunio
