#include "packet_input.h"

#include <cstring>
#include <string>

#include "batch_wrap.h"
#include "byte_source.h"
#include "errors.h"
#include "js_checked.h"

namespace tunio {

namespace {
// Checks one item without taking or copying anything.
bool CheckOne(Napi::Env env, Napi::Value item, const std::string& argument) {
  // An open bytes() view must lie within each packet's room: applied now, or refused whole.
  if (BatchWrap* batch = BatchWrap::FromValue(item)) return batch->SyncBytes(env, argument.c_str());
  if (!IsByteSource(env, item)) {
    ThrowInvalidArg(env, argument, "expected a PacketBatch, a Lease, a Buffer, a typed array or a DataView");
    return false;
  }
  ByteSpan bytes;
  if (!ReadByteSource(env, item, argument, &bytes)) return false;
  if (bytes.length > BufferPool::kMaxLeaseSize) {
    ThrowInvalidArg(env, argument, "a packet larger than 65,536 bytes cannot be sent or written");
    return false;
  }
  return true;
}

// Takes one checked item: a batch's packets move, bytes are copied into a pool slot.
void TakeOne(Napi::Env env, Napi::Value item, BufferPool& pool, std::vector<Packet>& out, CollectResult& r) {
  if (BatchWrap* batch = BatchWrap::FromValue(item)) {
    batch->TakeAll(env, out);
    return;
  }
  ByteSpan bytes;
  if (!ReadByteSource(env, item, "", &bytes)) {  // cannot fail: CheckOne read the same view
    env.GetAndClearPendingException();
    return;
  }
  Slot* slot = pool.acquire(bytes.length);
  if (!slot) {
    r.pool_drops++;
    return;
  }
  if (bytes.length != 0) std::memcpy(slot->data, bytes.data, bytes.length);
  Packet p;
  p.slot = SlotRef(slot);
  p.length = static_cast<uint32_t>(bytes.length);
  out.push_back(std::move(p));
}
}  // namespace

CollectResult CollectPackets(Napi::Env env, Napi::Value items, BufferPool& pool, std::vector<Packet>& out,
                             const char* argument) {
  CollectResult r;
  // Two passes: a bad item anywhere refuses the whole argument before any batch gives up its
  // packets (lib/packets.ts checks the same first; this holds for any caller).
  if (items.IsArray()) {
    auto arr = items.As<Napi::Array>();
    const uint32_t n = arr.Length();
    for (uint32_t i = 0; i < n; i++) {
      if (!CheckOne(env, JsGet(arr, i), std::string(argument) + "[" + std::to_string(i) + "]")) {
        r.ok = false;
        return r;
      }
    }
    for (uint32_t i = 0; i < n; i++) TakeOne(env, JsGet(arr, i), pool, out, r);
    return r;
  }
  if (!CheckOne(env, items, argument)) {
    r.ok = false;
    return r;
  }
  TakeOne(env, items, pool, out, r);
  return r;
}

}  // namespace tunio
