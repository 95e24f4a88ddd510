#include "packet_input.h"

#include <cstring>

#include "batch_wrap.h"
#include "errors.h"

namespace tunio {

namespace {
bool CollectOne(Napi::Env env, Napi::Value item, BufferPool& pool, std::vector<Packet>& out, CollectResult& r) {
  if (BatchWrap* batch = BatchWrap::FromValue(item)) {
    batch->TakeAll(out);
    return true;
  }
  if (item.IsTypedArray()) {
    auto view = item.As<Napi::TypedArray>();
    const size_t len = view.ByteLength();
    if (len > BufferPool::kMaxLeaseSize) {
      ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG", "a packet larger than 65,536 bytes cannot be sent or written");
      return false;
    }
    Slot* slot = pool.acquire(len);
    if (!slot) {
      r.pool_drops++;
      return true;
    }
    const uint8_t* src = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    if (len) std::memcpy(slot->data, src, len);
    Packet p;
    p.slot = SlotRef(slot);
    p.length = static_cast<uint32_t>(len);
    out.push_back(std::move(p));
    return true;
  }
  ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "expected a PacketBatch, a Lease or a Buffer");
  return false;
}
}  // namespace

CollectResult CollectPackets(Napi::Env env, Napi::Value items, BufferPool& pool, std::vector<Packet>& out) {
  CollectResult r;
  if (items.IsArray()) {
    auto arr = items.As<Napi::Array>();
    const uint32_t n = arr.Length();
    for (uint32_t i = 0; i < n; i++) {
      if (!CollectOne(env, arr.Get(i), pool, out, r)) {
        r.ok = false;
        return r;
      }
    }
    return r;
  }
  r.ok = CollectOne(env, items, pool, out, r);
  return r;
}

}  // namespace tunio
