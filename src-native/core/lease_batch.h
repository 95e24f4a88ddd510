// pool.leaseBatch(count, size, { headroom, tailroom }): `count` fresh packets of `size` bytes,
// each with its room, for the caller to fill. The policy lives here (not in the N-API glue) so
// the native tests reach it: pack the packets back to back into 64 KiB slots where that is
// possible, else take a slot per packet; packing is never a reason to fail.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "buffer_pool.h"
#include "packet.h"

namespace tunio {

enum class LeaseBatchResult : uint8_t {
  kOk,
  kPoolExhausted,  // the pool refused a slot: `out` is left empty (taken slots are released)
};

// Leases one leaseBatch() call hands out at the most (binding.limits.leaseBatchCount).
constexpr size_t kMaxLeaseBatch = 4096;

// Appends `count` packets of `len` bytes to an empty `out`. Each packet's bytes start
// `headroom` bytes into its own memory and have at least `tailroom` bytes behind them.
// The caller has checked the count (at most kMaxLeaseBatch) and the sizes (headroom,
// tailroom <= kMaxPacketRoom; headroom + len + tailroom <= BufferPool::kMaxLeaseSize).
LeaseBatchResult lease_batch(BufferPool& pool, size_t count, uint32_t len, uint32_t headroom,
                             uint32_t tailroom, std::vector<Packet>& out);

}  // namespace tunio
