// Turns what JavaScript hands to write()/send() into Packets: a NativeBatch gives up its
// packets (ownership moves, no copy); a Buffer, typed array or DataView is copied into a pool
// slot (byte_source.h reads it), because the write may wait for the fd and the caller is free
// to reuse its Buffer at once. The whole argument is checked before anything moves.
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

// `argument` names the argument in errors ("datagrams", "packets"; items of an array get
// "[i]" appended).
CollectResult CollectPackets(Napi::Env env, Napi::Value items, BufferPool& pool, std::vector<Packet>& out,
                             const char* argument);

}  // namespace tunio
