// Errors thrown into JavaScript. Every error carries a stable `code` (ERR_TUNIO_...); errors
// from a system call also carry `errno` (the name, e.g. "EPERM"), `errnoNumber` and `syscall`.
// The addon is built without C++ exceptions: these helpers set a pending JS exception and the
// caller returns an empty value.
#pragma once

#include <napi.h>

#include <string>

namespace tunio {

void ThrowError(Napi::Env env, const char* code, const std::string& message);
void ThrowTypeError(Napi::Env env, const char* code, const std::string& message);
void ThrowRangeError(Napi::Env env, const char* code, const std::string& message);
// message + ": <call> failed: <strerror> (<ERRNO>)"
void ThrowSysError(Napi::Env env, const char* code, const std::string& message, int err, const char* call);
Napi::Error MakeSysError(Napi::Env env, const char* code, const std::string& message, int err, const char* call);

}  // namespace tunio
