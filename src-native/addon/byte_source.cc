#include "byte_source.h"

#include "errors.h"

namespace tunio {

namespace {

size_t ElementSize(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array:
      return 1;
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
      return 4;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array:
      return 8;
    default:
      return 0;  // a type this Node-API does not know (e.g. Float16Array): refused
  }
}

}  // namespace

bool IsByteSource(Napi::Env env, Napi::Value value) {
  bool is = false;
  if (napi_is_typedarray(env, value, &is) == napi_ok && is) return true;
  return napi_is_dataview(env, value, &is) == napi_ok && is;
}

bool ReadByteSource(Napi::Env env, Napi::Value value, const std::string& argument, ByteSpan* out) {
  void* data = nullptr;
  size_t length = 0;
  size_t offset = 0;
  napi_value buffer = nullptr;
  bool is_typed = false;
  bool is_dataview = false;
  napi_is_typedarray(env, value, &is_typed);
  if (!is_typed) napi_is_dataview(env, value, &is_dataview);
  if (is_typed) {
    napi_typedarray_type type;
    size_t elements = 0;
    if (napi_get_typedarray_info(env, value, &type, &elements, &data, &buffer, &offset) != napi_ok ||
        ElementSize(type) == 0) {
      ThrowInvalidArg(env, argument, "this typed array cannot be read");
      return false;
    }
    length = elements * ElementSize(type);
  } else if (is_dataview) {
    if (napi_get_dataview_info(env, value, &length, &data, &buffer, &offset) != napi_ok) {
      ThrowInvalidArg(env, argument, "this DataView cannot be read");
      return false;
    }
  } else {
    ThrowInvalidArg(env, argument, "must be a Buffer, a typed array or a DataView");
    return false;
  }
  // A plain or resizable ArrayBuffer: detached views are refused, and the view must lie inside
  // the buffer's current length (a resizable buffer may have shrunk beneath a fixed-length
  // view). A SharedArrayBuffer is not an ArrayBuffer to Node-API: it can be neither detached
  // nor shrunk, so its views always lie inside it.
  bool is_arraybuffer = false;
  if (buffer != nullptr && napi_is_arraybuffer(env, buffer, &is_arraybuffer) == napi_ok && is_arraybuffer) {
    bool detached = false;
    if (napi_is_detached_arraybuffer(env, buffer, &detached) == napi_ok && detached) {
      ThrowInvalidArg(env, argument,
                      "its ArrayBuffer is detached (the Buffer of a released or sent lease, or memory transferred away)");
      return false;
    }
    void* base = nullptr;
    size_t buffer_length = 0;
    if (napi_get_arraybuffer_info(env, buffer, &base, &buffer_length) != napi_ok || offset > buffer_length ||
        length > buffer_length - offset) {
      ThrowInvalidArg(env, argument, "the view lies outside its (resized) ArrayBuffer");
      return false;
    }
  }
  if (length != 0 && data == nullptr) {
    ThrowInvalidArg(env, argument, "its memory is not accessible to native code");
    return false;
  }
  out->data = length != 0 ? static_cast<const uint8_t*>(data) : nullptr;
  out->length = length;
  return true;
}

}  // namespace tunio
