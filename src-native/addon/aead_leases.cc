// aead.seal(leases) / aead.open(leases): the batch transforms over an array of leases, each a
// packet of some batch or a single lease (pool.lease(), pool.leaseFrom()), in one call.
//
// lib/aead.ts checks the array first (only held leases, none twice) and passes, per lease, its
// target (the NativeBatch it is a packet of, or its pool's lease-table handle) and three int32
// in `extents`: [packet index or slot number, start, length]. Single leases are a slot number
// to the native side (lease_table.h) with their extent kept in JavaScript, so they are sealed
// through a Packet made here that shares their slot (the whole slot is the lease's: its
// headroom is `start`, its tailroom the rest). Afterwards `extents` holds every lease's new
// start and length, -1 for one that was dropped: JavaScript releases those single leases
// itself (their views are its own); packets of batches are dropped in their batch as by
// seal(batch). Everything is checked before the first packet is touched.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "aead_wrap.h"
#include "batch_wrap.h"
#include "byte_source.h"
#include "errors.h"
#include "js_checked.h"
#include "lease_js.h"

namespace tunio {

Napi::Value AeadWrap::SealLeases(const Napi::CallbackInfo& info) { return TransformLeases(info, true); }
Napi::Value AeadWrap::OpenLeases(const Napi::CallbackInfo& info) { return TransformLeases(info, false); }

Napi::Value AeadWrap::TransformLeases(const Napi::CallbackInfo& info, bool seal) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "sealLeases/openLeases(targets: Array, extents: Int32Array)");
    return Napi::Value();
  }
  if (!CheckIdle(env)) return Napi::Value();
  Napi::Array targets = info[0].As<Napi::Array>();
  const size_t n = targets.Length();
  ByteSpan extent_bytes;
  if (!ReadByteSource(env, info[1], "extents", &extent_bytes)) return Napi::Value();
  if (extent_bytes.length < sizeof(int32_t) * 3 * n) {
    ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG", "extents needs three entries per lease");
    return Napi::Value();
  }
  uint64_t* counters = nullptr;
  if (!seal) {
    ByteSpan counter_bytes;
    if (info.Length() < 3 || !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array ||
        !ReadByteSource(env, info[2], "counters", &counter_bytes) || counter_bytes.length / sizeof(uint64_t) < n) {
      if (!env.IsExceptionPending()) ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "counters must be a BigUint64Array with one entry per lease");
      return Napi::Value();
    }
    counters = reinterpret_cast<uint64_t*>(const_cast<uint8_t*>(counter_bytes.data));
  }
  // The caller's own writable Int32Array.
  int32_t* extents = reinterpret_cast<int32_t*>(const_cast<uint8_t*>(extent_bytes.data));

  // Gather and check everything first: a bad item throws with nothing touched.
  std::vector<Packet*> packets(n, nullptr);
  std::vector<Packet> singles;
  singles.reserve(n);  // never reallocated: packets[] points into it
  std::vector<BatchWrap*> batches;
  std::vector<uintptr_t> keys;  // one per packet, to refuse the same one twice
  keys.reserve(n);
  for (size_t k = 0; k < n; k++) {
    const std::string name = "leases[" + std::to_string(k) + "]";
    Napi::Value target = JsGet(targets, static_cast<uint32_t>(k));
    if (target.IsEmpty()) return Napi::Value();
    const int64_t index = extents[3 * k];
    if (BatchWrap* batch = BatchWrap::FromValue(target)) {
      if (index < 0 || static_cast<size_t>(index) >= batch->packet_count() || !batch->packets()[index].valid()) {
        ThrowError(env, "ERR_TUNIO_LEASE_RELEASED", name + " is a lease that was already released or sent");
        return Napi::Value();
      }
      if (!batch->SyncBytes(env, name.c_str())) return Napi::Value();
      packets[k] = &batch->packets()[index];
      keys.push_back(reinterpret_cast<uintptr_t>(packets[k]));
      if (std::find(batches.begin(), batches.end(), batch) == batches.end()) batches.push_back(batch);
      continue;
    }
    LeaseTable* table = LeaseTableFromValue(env, target);
    if (!table) {
      ThrowInvalidArg(env, name, "is neither a packet of a batch nor a single lease");
      return Napi::Value();
    }
    if (index < 0 || index > UINT32_MAX || !table->Held(static_cast<uint32_t>(index))) {
      ThrowError(env, "ERR_TUNIO_LEASE_RELEASED", name + " is a lease that was already released or sent");
      return Napi::Value();
    }
    Slot* slot = table->SlotAt(static_cast<uint32_t>(index));
    const int64_t start = extents[3 * k + 1];
    const int64_t length = extents[3 * k + 2];
    if (start < 0 || length < 0 || start + length > slot->capacity) {
      ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG", name + ": start and length beyond the lease's slot");
      return Napi::Value();
    }
    Packet p;
    p.slot = SlotRef::share(slot);
    p.offset = static_cast<uint32_t>(start);
    p.length = static_cast<uint32_t>(length);
    p.headroom = p.offset;  // the whole slot is the lease's
    p.tailroom = slot->capacity - p.offset - p.length;
    singles.push_back(std::move(p));
    packets[k] = &singles.back();
    keys.push_back(reinterpret_cast<uintptr_t>(slot) | 1);  // slots are aligned: never a Packet's address
  }
  std::vector<uintptr_t> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    ThrowInvalidArg(env, "leases", "holds the same lease twice");
    return Napi::Value();
  }
  if (seal && aead_counters_left(cipher_->spec(), next_counter_) < n) {
    ThrowRangeError(env, "ERR_TUNIO_AEAD_COUNTER_LIMIT",
                    "sealing these leases would use a counter at or past the limit (" +
                        std::to_string(cipher_->spec().counter_limit) + "): a new key is needed");
    return Napi::Value();
  }

  AeadBatchResult r = seal ? aead_seal_packets(*cipher_, packets.data(), n, &next_counter_, stats_)
                           : aead_open_packets(*cipher_, packets.data(), n, counters, stats_);
  for (size_t k = 0; k < n; k++) {
    const Packet& p = *packets[k];
    extents[3 * k + 1] = p.valid() ? static_cast<int32_t>(p.offset) : -1;
    extents[3 * k + 2] = p.valid() ? static_cast<int32_t>(p.length) : -1;
  }
  for (BatchWrap* batch : batches) {
    batch->CloseBytes(env);  // the packets moved: a view of their old extents is no use
    batch->SettleTransformed();
  }
  // `singles` only shared the slots: dropping them leaves each lease held by its table.
  return Napi::Number::New(env, static_cast<double>(r.done));
}

}  // namespace tunio
