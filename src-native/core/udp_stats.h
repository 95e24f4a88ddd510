// udp.stats(), defined once. Its counters live in several places (what recv_batch and
// send_batch count, what the socket's error queue, GSO back-off and path-MTU table count, and
// what the addon's send queue counts), so the list names, for each key, the group it is in and
// the expression over a UdpStatsSources `s` it is read from:
//   X(source, group, "jsName")       a counter: s.source (group as in core/tun_stats.h: top is the
//                                    stats object itself, any other name a nested object)
//   OBJECT(source, group, "jsName")  a nested stats object of its own shape (PeerErrorCounts,
//                                    PoolStats), converted by the addon
// in the order JavaScript sees them. The addon builds udp.stats() and its shape
// (binding.statsShapes.udp) from it, and test/shared-facts.test.ts holds lib/udp.ts's UdpStats
// to that shape. No Node headers.
#pragma once

#include <cstdint>

#include "buffer_pool.h"  // PoolStats
#include "gso_backoff.h"  // GsoBackoffStats
#include "udp_socket.h"   // RecvStats, SendStats, ErrorQueueStats, PeerErrorCounts

// clang-format off
#define TUNIO_UDP_STATS(X, OBJECT)                                                                 \
  X(recv.datagrams, top, "datagramsIn")  /* receive side: RecvStats */                             \
  X(recv.bytes, top, "bytesIn")                                                                    \
  X(recv.gro_reads, top, "groReads")                                                               \
  X(recv.messages, top, "messagesIn")                                                              \
  X(send.datagrams, top, "datagramsOut")  /* send side: SendStats */                               \
  X(send.bytes, top, "bytesOut")                                                                   \
  X(send.gso_sends, top, "gsoSends")                                                               \
  X(send.gso_segments, top, "gsoSegments")                                                         \
  X(send.gso_fallbacks, top, "gsoFallbacks")  /* UDP_SEGMENT refused: re-sent without */           \
  X(send.segment_limit.lowered, top, "gsoSegmentLimitLowered")  /* GsoSegmentLimit's own stats */  \
  X(send.segment_limit.probes, top, "gsoSegmentLimitProbes")                                       \
  X(send.segment_limit.probe_failures, top, "gsoSegmentLimitProbeFailures")                        \
  X(send.segment_limit.restores, top, "gsoSegmentLimitRestores")                                   \
  X(recv.truncated(), drops, "truncated")  /* datagrams lost, by cause */                          \
  X(queue.drop_full, drops, "queueFull")                                                           \
  X(queue.drop_pool_exhausted, drops, "poolExhausted")                                             \
  X(send.dropped_invalid, drops, "invalid")                                                        \
  X(queue.send_failed, drops, "sendFailed")                                                        \
  OBJECT(send.dropped, drops, "peer")                                                              \
  X(send.would_block, waits, "sendWouldBlock")  /* sends, reads put off */                         \
  X(send.no_buffers, waits, "sendNoBuffers")                                                       \
  X(recv.pool_exhausted, waits, "recvPoolExhausted")                                               \
  OBJECT(recv.errors, top, "recvErrors")  /* peer errors recvmmsg returned */                      \
  X(send.pending_errors, top, "sendPendingErrors")                                                 \
  X(recv.kernel_drops, top, "receiveQueueDrops")                                                   \
  X(send.source_fallbacks, top, "sourceFallbacks")                                                 \
  X(socket.path_mtu_reports, pathMtu, "reports")  /* the socket's path-MTU table */                \
  X(socket.path_mtu_events_dropped, pathMtu, "eventsDropped")                                      \
  OBJECT(socket.reported_errors, top, "peerErrors")  /* each error, merged or not */               \
  X(socket.errors_merged, top, "peerErrorsMerged")                                                 \
  X(socket.gso_paths_suspended, gsoPaths, "suspended")  /* GsoBackoff: per destination */          \
  X(socket.gso_paths.suspensions, gsoPaths, "suspensions")                                         \
  X(socket.gso_paths.probe_failures, gsoPaths, "probeFailures")                                    \
  X(socket.gso_paths.restores, gsoPaths, "restores")                                               \
  X(socket.error_queue.icmp, errorQueue, "icmp")  /* by origin; losses; POLLERRs */                \
  X(socket.error_queue.icmp6, errorQueue, "icmp6")                                                 \
  X(socket.error_queue.local, errorQueue, "local")                                                 \
  X(socket.error_queue.read_failures, errorQueue, "readFailures")                                  \
  X(socket.errors_overwritten, errorQueue, "eventsOverwritten")                                    \
  X(queue.poll_errors, errorQueue, "pollErrors")                                                   \
  X(recv.recvmmsg_calls, syscalls, "recvmmsg")  /* failed calls included */                        \
  X(send.sendmsg_calls, syscalls, "sendmsg")                                                       \
  X(send.sendmmsg_calls, syscalls, "sendmmsg")                                                     \
  X(socket.error_queue.reads, syscalls, "recvmsgErrqueue")                                         \
  X(queue.waiting, top, "sendQueued")  /* in the addon's send queue */                             \
  OBJECT(pool, top, "pool")
// clang-format on

namespace tunio {

// What the socket itself counts (error queue, peer errors, GSO back-off, path MTU), copied out
// so that stats() can still report it after close() has destroyed the socket.
struct UdpSocketStats {
  ErrorQueueStats error_queue;
  PeerErrorCounts reported_errors;  // every error recorded for the caller, by kind
  uint64_t errors_merged = 0;       // merged into a later event instead of an event each
  uint64_t errors_overwritten = 0;  // events lost because nobody took them
  GsoBackoffStats gso_paths;
  uint64_t gso_paths_suspended = 0;  // paths suspended now (none once the socket is closed)
  uint64_t path_mtu_reports = 0;
  uint64_t path_mtu_events_dropped = 0;

  static UdpSocketStats of(const UdpSocket& socket, uint64_t now_ms) {
    UdpSocketStats s;
    s.error_queue = socket.error_queue_stats();
    s.reported_errors = socket.reported_errors();
    s.errors_merged = socket.errors_merged();
    s.errors_overwritten = socket.errors_overwritten();
    s.gso_paths = socket.gso_backoff().stats();
    s.gso_paths_suspended = socket.gso_backoff().suspended(now_ms);
    s.path_mtu_reports = socket.path_mtu().reports();
    s.path_mtu_events_dropped = socket.path_mtu().events_dropped();
    return s;
  }
};

// What the addon's send queue and fd watch count (addon/udp_wrap.cc).
struct UdpQueueStats {
  uint64_t drop_full = 0;            // datagrams send() refused: the bounded queue was full
  uint64_t drop_pool_exhausted = 0;  // datagrams send() could not copy into the pool
  uint64_t send_failed = 0;          // datagrams discarded when a send failed with a socket error
  uint64_t poll_errors = 0;          // POLLERR wake-ups (error queue drained)
  uint64_t waiting = 0;              // datagrams queued, not yet taken by the kernel
};

// Everything udp.stats() reads, by the names TUNIO_UDP_STATS uses.
struct UdpStatsSources {
  RecvStats recv;
  SendStats send;
  UdpSocketStats socket;
  UdpQueueStats queue;
  PoolStats pool;
};

}  // namespace tunio
