// The one place that turns a byte source from JavaScript into (pointer, length): any
// ArrayBufferView (a Buffer, a typed array of any element type, a DataView), over an
// ArrayBuffer, a SharedArrayBuffer, or a resizable or growable one. Every caller copies the
// bytes out at once (into a pool slot), so shared memory is read in place: that read is the
// copy. Refused with ERR_TUNIO_INVALID_ARG naming the argument: anything that is not a view,
// a view whose ArrayBuffer is detached (e.g. the Buffer of a released lease), a view that lies
// outside its resized buffer, and memory Node-API cannot give a pointer to.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace tunio {

struct ByteSpan {
  const uint8_t* data = nullptr;  // nullptr only when length == 0
  size_t length = 0;
};

// false: an ERR_TUNIO_INVALID_ARG TypeError naming `argument` is pending.
bool ReadByteSource(Napi::Env env, Napi::Value value, const std::string& argument, ByteSpan* out);

// Whether `value` is something ReadByteSource reads (a typed array or DataView), without
// looking at its memory.
bool IsByteSource(Napi::Env env, Napi::Value value);

}  // namespace tunio
