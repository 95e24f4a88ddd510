// Turns what JavaScript hands to write()/send() into Packets: a NativeBatch gives up its
// packets (ownership moves, no copy); a Buffer/Uint8Array is copied into a pool slot, because
// the write may wait for the fd and the caller is free to reuse its Buffer at once.
#pragma once

#include <napi.h>

#include <vector>

#include "buffer_pool.h"
#include "packet.h"

namespace tunio {

struct CollectResult {
  bool ok = true;            // false: a JS exception is pending (bad argument)
  size_t pool_drops = 0;     // Buffers that could not be copied because the pool was full
};

CollectResult CollectPackets(Napi::Env env, Napi::Value items, BufferPool& pool, std::vector<Packet>& out);

}  // namespace tunio
