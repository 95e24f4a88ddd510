#include "errors.h"

#include <cstring>

#include "sys_error.h"

namespace tunio {

namespace {
template <typename E>
void ThrowWithCode(Napi::Env env, const char* code, const std::string& message) {
  E error = E::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.ThrowAsJavaScriptException();
}
}  // namespace

void ThrowError(Napi::Env env, const char* code, const std::string& message) {
  ThrowWithCode<Napi::Error>(env, code, message);
}
void ThrowTypeError(Napi::Env env, const char* code, const std::string& message) {
  ThrowWithCode<Napi::TypeError>(env, code, message);
}
void ThrowRangeError(Napi::Env env, const char* code, const std::string& message) {
  ThrowWithCode<Napi::RangeError>(env, code, message);
}

Napi::Error MakeSysError(Napi::Env env, const char* code, const std::string& message, int err,
                         const char* call) {
  const char* name = errno_name(err);
  std::string text = message + ": " + call + " failed: " + std::strerror(err) + " (" + name + ")";
  Napi::Error error = Napi::Error::New(env, text);
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::String::New(env, name));
  error.Set("errnoNumber", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, call));
  return error;
}

void ThrowSysError(Napi::Env env, const char* code, const std::string& message, int err, const char* call) {
  MakeSysError(env, code, message, err, call).ThrowAsJavaScriptException();
}

}  // namespace tunio
