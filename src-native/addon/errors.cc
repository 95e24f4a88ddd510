#include "errors.h"

#include <cstring>

#include "js_checked.h"
#include "sys_error.h"

namespace tunio {

namespace {

using CreateError = napi_status (*)(napi_env, napi_value, napi_value, napi_value*);

// An error object with `code` set (napi_create_error sets it), or null.
napi_value NewCodedError(napi_env env, CreateError create, const char* code, const std::string& message) {
  napi_value code_value = JsString(env, code);
  napi_value message_value = JsString(env, message);
  napi_value error = nullptr;
  if (!code_value || !message_value || create(env, code_value, message_value, &error) != napi_ok) return nullptr;
  return error;
}

void Throw(napi_env env, napi_value error) {
  // napi_throw fails only when JavaScript cannot run (the environment is going away) or an
  // exception is already pending: in both cases there is nothing better to do than return.
  if (error) napi_throw(env, error);
}

}  // namespace

void ThrowError(napi_env env, const char* code, const std::string& message) {
  Throw(env, NewCodedError(env, napi_create_error, code, message));
}
void ThrowTypeError(napi_env env, const char* code, const std::string& message) {
  Throw(env, NewCodedError(env, napi_create_type_error, code, message));
}
void ThrowRangeError(napi_env env, const char* code, const std::string& message) {
  Throw(env, NewCodedError(env, napi_create_range_error, code, message));
}

void ThrowInvalidOption(napi_env env, const std::string& option, const std::string& message) {
  Throw(env, JsObject(env, NewCodedError(env, napi_create_type_error, "ERR_TUNIO_INVALID_OPTION",
                                         "invalid option \"" + option + "\": " + message))
                 .String("option", option)
                 .get());
}

void ThrowInvalidArg(napi_env env, const std::string& argument, const std::string& message) {
  Throw(env, JsObject(env, NewCodedError(env, napi_create_type_error, "ERR_TUNIO_INVALID_ARG",
                                         "invalid argument \"" + argument + "\": " + message))
                 .String("argument", argument)
                 .get());
}

void ThrowPoolExhausted(napi_env env, uint64_t cap_bytes) {
  ThrowError(env, "ERR_TUNIO_POOL_EXHAUSTED",
             "buffer pool is full (capBytes " + std::to_string(cap_bytes) +
                 "): release leases and batches, or create the Pool with a larger capBytes");
}

napi_value MakeError(napi_env env, const char* code, const std::string& message) {
  return NewCodedError(env, napi_create_error, code, message);
}

napi_value MakeSysError(napi_env env, const char* code, const std::string& message, int err, const char* call) {
  const char* name = errno_name(err);
  std::string text = message + ": " + call + " failed: " + std::strerror(err) + " (" + name + ")";
  return JsObject(env, NewCodedError(env, napi_create_error, code, text))
      .String("errno", name)
      .Number("errnoNumber", err)
      .String("syscall", call)
      .get();
}

void ThrowSysError(napi_env env, const char* code, const std::string& message, int err, const char* call) {
  Throw(env, MakeSysError(env, code, message, err, call));
}

void ThrowSysError(napi_env env, const char* code, const std::string& message, const SysError& e) {
  ThrowSysError(env, code, e.detail.empty() ? message : message + " (" + e.detail + ")", e.err, e.call);
}

}  // namespace tunio
