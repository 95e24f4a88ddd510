// PacketBatch.headers() and PacketBatch.split(): what a protocol needs to look at and regroup
// the packets of a batch from JavaScript without one object per packet. A VPN routes each
// packet by bytes near its start (an IP destination, a message type and receiver index), then
// hands each group to its own transform and destination: headers() copies those bytes of every
// packet into one caller-owned array, split() moves the packets into one batch per group.
#include <algorithm>
#include <cstring>
#include <string>

#include "batch_wrap.h"
#include "byte_source.h"
#include "errors.h"
#include "js_checked.h"

namespace tunio {

// headers(bytesPerPacket, out: Uint8Array, lengths: Int32Array) -> number of entries.
// Packet i's first min(length, bytesPerPacket) bytes go to out[i * bytesPerPacket ...] (the
// rest of its stride is zeroed); lengths[i] is its length, -1 when released or moved.
Napi::Value BatchWrap::Headers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsTypedArray()) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "headers(bytesPerPacket, out: Uint8Array, lengths: Int32Array)");
    return Napi::Value();
  }
  int64_t per = info[0].As<Napi::Number>().Int64Value();
  auto out = info[1].As<Napi::TypedArray>();
  auto lengths = info[2].As<Napi::TypedArray>();
  if (per < 1 || per > kMaxHeaderBytes) {
    ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG", "bytesPerPacket must be between 1 and " + std::to_string(kMaxHeaderBytes));
    return Napi::Value();
  }
  if (out.TypedArrayType() != napi_uint8_array || lengths.TypedArrayType() != napi_int32_array) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "out must be a Uint8Array and lengths an Int32Array");
    return Napi::Value();
  }
  // Through the one byte-source reader: a detached array, or one outside its resized buffer
  // (whose element count Node-API reports as before the resize), is refused, not written.
  ByteSpan out_bytes;
  ByteSpan length_bytes;
  if (!ReadByteSource(env, out, "out", &out_bytes) || !ReadByteSource(env, lengths, "lengths", &length_bytes)) {
    return Napi::Value();
  }
  if (out_bytes.length < size_ * static_cast<size_t>(per) || length_bytes.length / sizeof(int32_t) < size_) {
    ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG", "out must hold bytesPerPacket bytes and lengths one entry per packet of the batch");
    return Napi::Value();
  }
  if (!SyncBytes(env, "batch")) return Napi::Value();
  // The caller's own writable arrays (typed arrays are never read-only).
  auto* dst = const_cast<uint8_t*>(out_bytes.data);
  auto* len = reinterpret_cast<int32_t*>(const_cast<uint8_t*>(length_bytes.data));
  const size_t stride = static_cast<size_t>(per);
  for (size_t i = 0; i < size_; i++) {
    uint8_t* row = dst + i * stride;
    if (!Held(static_cast<uint32_t>(i))) {
      len[i] = -1;
      std::memset(row, 0, stride);
      continue;
    }
    const Packet& p = packets_[i];
    size_t n = std::min<size_t>(p.length, stride);
    if (n != 0) std::memcpy(row, p.data(), n);
    if (n < stride) std::memset(row + n, 0, stride - n);
    len[i] = static_cast<int32_t>(p.length);
  }
  return Napi::Number::New(env, static_cast<double>(size_));
}

// split(groups: Uint8Array, count) -> NativeBatch[count]. Every held packet i moves to batch
// groups[i], in order; group 255 releases it. Checked whole first: a group >= count (other
// than 255) throws and moves nothing. JavaScript detaches its views before calling.
Napi::Value BatchWrap::Split(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsNumber()) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "split(groups: Uint8Array, count)");
    return Napi::Value();
  }
  auto groups_arr = info[0].As<Napi::TypedArray>();
  int64_t count = info[1].As<Napi::Number>().Int64Value();
  ByteSpan group_bytes;
  if (groups_arr.TypedArrayType() != napi_uint8_array) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "groups must be a Uint8Array with one entry per packet of the batch");
    return Napi::Value();
  }
  if (!ReadByteSource(env, groups_arr, "groups", &group_bytes)) return Napi::Value();
  if (group_bytes.length < size_) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "groups must be a Uint8Array with one entry per packet of the batch");
    return Napi::Value();
  }
  if (count < 1 || count > kReleaseGroup) {
    ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG", "count must be between 1 and " + std::to_string(kReleaseGroup));
    return Napi::Value();
  }
  const uint8_t* groups = group_bytes.data;
  for (size_t i = 0; i < packets_.size(); i++) {
    if (packets_[i].valid() && groups[i] != kReleaseGroup && groups[i] >= count) {
      ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG", "a group is neither below count nor " + std::to_string(kReleaseGroup) + " (release)");
      return Napi::Value();
    }
  }
  if (!ApplyAndCloseBytes(env, "batch")) return Napi::Value();
  std::vector<std::vector<Packet>> out(static_cast<size_t>(count));
  for (size_t i = 0; i < packets_.size(); i++) {
    if (!packets_[i].valid()) continue;
    const auto index = static_cast<uint32_t>(i);
    if (groups[i] == kReleaseGroup) {
      DropEntry(index);
      continue;
    }
    MoveEntry(index, out[groups[i]]);
  }
  FreeStorageIfConsumed();
  // Checked (js_checked.h): while the environment is torn down Create() returns empty, the
  // packets of that group stay in `out` and are freed with it.
  JsArray result(env, out.size());
  for (size_t g = 0; g < out.size() && result.ok(); g++) result.Set(static_cast<uint32_t>(g), Create(env, pool_, std::move(out[g])));
  return result.result();
}

}  // namespace tunio
