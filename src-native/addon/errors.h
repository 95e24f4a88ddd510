// Errors thrown into JavaScript. Every error carries a stable `code` (ERR_TUNIO_...); errors
// from a system call also carry `errno` (the name, e.g. "EPERM"), `errnoNumber` and `syscall`.
// The addon is built without C++ exceptions: these helpers set a pending JS exception and the
// caller returns an empty value. They are built on checked Node-API calls (js_checked.h): when
// the environment can no longer run JavaScript (a worker being terminated) or an exception is
// already pending, nothing is thrown and the caller's empty return is all that happens.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace tunio {

void ThrowError(napi_env env, const char* code, const std::string& message);
void ThrowTypeError(napi_env env, const char* code, const std::string& message);
void ThrowRangeError(napi_env env, const char* code, const std::string& message);
// An ERR_TUNIO_INVALID_OPTION TypeError with `option` set: 'invalid option "<option>": <message>'.
void ThrowInvalidOption(napi_env env, const std::string& option, const std::string& message);
// An ERR_TUNIO_INVALID_ARG TypeError with `argument` set: 'invalid argument "<argument>": <message>'.
void ThrowInvalidArg(napi_env env, const std::string& argument, const std::string& message);
// ERR_TUNIO_POOL_EXHAUSTED: the pool's byte cap is reached (single leases and batches alike).
void ThrowPoolExhausted(napi_env env, uint64_t cap_bytes);
// message + ": <call> failed: <strerror> (<ERRNO>)"
void ThrowSysError(napi_env env, const char* code, const std::string& message, int err, const char* call);
// A failed core operation (a SysError from src-native/core): message + " (<detail>)" when it
// has a detail, then as above with its errno and call.
struct SysError;
void ThrowSysError(napi_env env, const char* code, const std::string& message, const SysError& e);
// The same errors, not thrown (e.g. a 'peerError' event, a forward's end); null when they
// could not be built.
napi_value MakeError(napi_env env, const char* code, const std::string& message);
napi_value MakeSysError(napi_env env, const char* code, const std::string& message, int err, const char* call);

}  // namespace tunio
