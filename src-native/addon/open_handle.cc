#include "open_handle.h"

#include "errors.h"
#include "pool_wrap.h"
#include "type_tags.h"

namespace tunio {

std::shared_ptr<BufferPool> OpenHandle::Begin(const Napi::CallbackInfo& info, Napi::Object self,
                                               const napi_type_tag& tag, const char* class_name) {
  Napi::Env env = info.Env();
  if (self.IsEmpty()) return nullptr;
  SetTypeTag(env, self, tag);
  if (info.Length() < 3 || !info[0].IsObject() || !info[2].IsFunction()) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", std::string(class_name) + "(options, pool, onReadable)");
    return nullptr;
  }
  PoolWrap* pool = PoolWrap::FromValue(info[1]);
  if (!pool) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "pool must be a tunio Pool");
    return nullptr;
  }
  return pool->pool();
}

void OpenHandle::Open(Napi::Env env, Napi::Object self, Napi::Function callback, const char* resource_name,
                      void (*close_all)(void*), void* arg) {
  env_ = env;
  callback_ = Napi::Persistent(callback);
  napi_async_init(env, self, Napi::String::New(env, resource_name), &async_);
  close_all_ = close_all;
  arg_ = arg;
  napi_add_env_cleanup_hook(env, close_all_, arg_);
  self_ = Napi::Persistent(self);
}

void OpenHandle::Call(std::initializer_list<napi_value> args) {
  if (!async_) return;
  Napi::HandleScope scope(env_);
  napi_value result;
  napi_make_callback(env_, async_, self_.Value(), callback_.Value(), args.size(), args.begin(), &result);
}

void OpenHandle::CallFunction(napi_value fn, std::initializer_list<napi_value> args) {
  if (!async_ || !fn) return;
  Napi::HandleScope scope(env_);
  napi_value result;
  napi_make_callback(env_, async_, self_.Value(), fn, args.size(), args.begin(), &result);
}

void OpenHandle::Shutdown() {
  if (async_) {
    napi_async_destroy(env_, async_);
    async_ = nullptr;
  }
}

void OpenHandle::Release() {
  if (close_all_) {
    napi_remove_env_cleanup_hook(env_, close_all_, arg_);
    close_all_ = nullptr;
  }
  self_.Reset();
}

}  // namespace tunio
