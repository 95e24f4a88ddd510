// The counters of one TUN queue (tun.stats(), and each of stats().queues), defined once.
// TUNIO_TUN_STATS lists them in the order JavaScript sees them, each as
//   X(member, group, "jsName")  a counter: `group` is the nested object it lives in (top: the
//                               stats object itself; syscalls, drops: objects of that name)
//   NAMED(member, group, "jsName", count, name_of, Enum)  counters per reason, an object keyed by
//                               name_of(Enum) (coalesceRefusals, keyed by GroRefusal)
// From it come the TunStats members, their sum over queues (TunStats::add) and the conversion
// to JS (addon/stats_js.h); the addon exports the shape it builds (binding.statsShapes) and
// test/shared-facts.test.ts holds lib/tun.ts's TunQueueStats to it. No Node headers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gro_coalesce.h"  // GroRefusal, kGroRefusalCount, gro_refusal_name

// clang-format off
#define TUNIO_TUN_STATS(X, NAMED)                                                                \
  X(packets_in, top, "packetsIn")             /* IP packets delivered to the reader (after splitting) */ \
  X(bytes_in, top, "bytesIn")                                                                    \
  X(superpackets_in, top, "superpacketsIn")   /* reads that carried a GSO superpacket */         \
  X(segments_in, top, "segmentsIn")           /* packets those superpackets were split into */   \
  X(packets_out, top, "packetsOut")           /* IP packets the kernel accepted (members of superpackets counted each) */ \
  X(bytes_out, top, "bytesOut")                                                                  \
  X(superpackets_out, top, "superpacketsOut") /* coalesced writes */                             \
  X(segments_out, top, "segmentsOut")         /* packets carried by coalesced writes */          \
  X(checksums_completed, top, "checksumsCompleted") /* non-GSO packets whose NEEDS_CSUM checksum we filled in */ \
  X(read_calls, syscalls, "read")             /* readv/read syscalls (including the one that got EAGAIN) */ \
  X(write_calls, syscalls, "writev")          /* writev syscalls */                              \
  X(drop_malformed, drops, "malformed")       /* superpacket or checksum request the packet code refused */ \
  X(drop_pool_exhausted, drops, "poolExhausted") /* split ran out of pool memory half-way, or write() could not copy */ \
  X(drop_write_rejected, drops, "writeRejected") /* EINVAL/EMSGSIZE/... on writing one packet, or the fd failed */ \
  X(drop_queue_full, drops, "queueFull")      /* the bounded write queue was full */             \
  X(drop_oversize, drops, "oversize")         /* a packet larger than 64 KiB handed to write() */ \
  X(read_errors, top, "readErrors")           /* read failures other than EAGAIN */              \
  X(coalesce_fallbacks, top, "coalesceFallbacks") /* a coalesced write got EINVAL: re-sent one by one, coalescing off until the next probe (TunWrap's back-off) */ \
  NAMED(coalesce_refusals, top, "coalesceRefusals", kGroRefusalCount, gro_refusal_name, GroRefusal) /* packets written that the coalescer kept out of superpackets, per first rule failed (gro_coalesce.h); counted while coalescing is on */ \
  X(pool_waits, top, "poolWaits")             /* read_batch stopped because the pool could not guarantee room */
// clang-format on

namespace tunio {

struct TunStats {
#define TUNIO_TUN_STATS_MEMBER(member, group, js) uint64_t member = 0;
#define TUNIO_TUN_STATS_NAMED_MEMBER(member, group, js, count, name_of, Enum) uint64_t member[count] = {};
  TUNIO_TUN_STATS(TUNIO_TUN_STATS_MEMBER, TUNIO_TUN_STATS_NAMED_MEMBER)
#undef TUNIO_TUN_STATS_MEMBER
#undef TUNIO_TUN_STATS_NAMED_MEMBER

  // Every counter of `o` added to this one (stats() sums its queues).
  void add(const TunStats& o) {
#define TUNIO_TUN_STATS_ADD(member, group, js) member += o.member;
#define TUNIO_TUN_STATS_NAMED_ADD(member, group, js, count, name_of, Enum) \
  for (size_t i = 0; i < count; i++) member[i] += o.member[i];
    TUNIO_TUN_STATS(TUNIO_TUN_STATS_ADD, TUNIO_TUN_STATS_NAMED_ADD)
#undef TUNIO_TUN_STATS_ADD
#undef TUNIO_TUN_STATS_NAMED_ADD
  }
};

}  // namespace tunio
