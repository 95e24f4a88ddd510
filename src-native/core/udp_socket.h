// The UDP socket core: batched, zero-copy datagram I/O for a VPN transport.
//
//   receive: recvmmsg into 64 KiB pool slots, UDP_GRO reads split into one Packet per
//            datagram (views of the same slot), destination address/ifindex and ECN per packet
//   send:    runs of equal-size datagrams to one peer go out as one UDP_SEGMENT (GSO) message,
//            everything of one call in one sendmsg/sendmmsg, scatter-gather from the packets
//
// No Node headers, no exceptions: every failure is a SysError {errno, call}. One socket
// belongs to one thread; nothing is locked. The hot path (recv_batch/send_batch) does not
// allocate: the mmsghdr/iovec/cmsg/sockaddr arrays live in the socket and are reused.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "buffer_pool.h"
#include "gso_backoff.h"
#include "io_result.h"
#include "packet.h"
#include "path_mtu.h"
#include "socket_address.h"
#include "sys_error.h"
#include "udp_error_queue.h"
#include "udp_features.h"
#include "udp_send_plan.h"
#include "udp_socket_calls.h"
#include "unique_fd.h"
#include "view_batch.h"

namespace tunio {

// auto: use when the kernel supports it; on: fail open() when it does not; off: never.
enum class Offload : uint8_t { kAuto, kOn, kOff };

// What IP_MTU_DISCOVER / IPV6_MTU_DISCOVER to set (see kDont for the default's reasoning).
enum class PmtuMode : uint8_t {
  // IP_PMTUDISC_DONT (default). The outer packets of a VPN have a size fixed by the tunnel
  // MTU the user configured; with DF set a path with a smaller MTU either answers EMSGSIZE
  // (DO: we could only drop) or silently blackholes (PROBE). Clearing DF lets the path
  // fragment instead, so the tunnel keeps working, slower, and the inner protocols' own PMTU
  // discovery (or a lower tunnel MTU) fixes the rest. This is what kernel WireGuard does (its
  // sends pass df=0); wireguard-go sets nothing, i.e. the system default WANT. IPv6 routers
  // never fragment, so for IPv6 this only means the host fragments to the learned path MTU.
  kDont,
  kSystem,  // leave the system default (net.ipv4.ip_no_pmtu_disc; normally WANT)
  kDo,      // IP_PMTUDISC_DO: DF set, EMSGSIZE above the known path MTU (counted drops)
  kProbe,   // IP_PMTUDISC_PROBE: DF set, ignore the path MTU (for callers that probe themselves)
  kWant,    // IP_PMTUDISC_WANT: DF set while the path MTU allows, fragment above it
};

struct UdpOptions {
  IpEndpoint bind;          // required; family 4 -> AF_INET socket, 6 -> AF_INET6; port 0 = any
  bool ipv6_only = false;   // IPv6 binds: false = dual-stack (IPV6_V6ONLY=0), IPv4 peers
                            // appear as plain IPv4 endpoints everywhere
  IpEndpoint connect;       // optional peer (family 0 = unconnected)
  bool reuse_port = false;  // SO_REUSEPORT (one socket per worker/queue on one port)
  // > 0 (with reuse_port): the reuseport group has this many sockets and picks one by the
  // flow of the IP packet each datagram carries (reuseport_steering.h). 0: the kernel's hash.
  uint32_t inner_flow_steering = 0;
  int recv_buffer = 0;      // SO_RCVBUF(FORCE) in bytes; 0 = system default
  int send_buffer = 0;      // SO_SNDBUF(FORCE) in bytes; 0 = system default
  Offload gso = Offload::kAuto;
  Offload gro = Offload::kAuto;
  uint32_t batch_size = 64;  // messages per recvmmsg / packets per send round, 1..128
  PmtuMode pmtu = PmtuMode::kDont;
  // SO_MARK (needs CAP_NET_ADMIN): policy routing (`ip rule fwmark`) can route the tunnel's
  // own datagrams differently from what goes into the tunnel (a full-tunnel default route).
  bool set_fwmark = false;
  uint32_t fwmark = 0;
  // SO_BINDTODEVICE (empty: none): every datagram leaves and is received through this device.
  std::string bind_device;
};

constexpr uint32_t kMaxUdpBatch = 128;

// Errors the kernel reports for a peer (mostly ICMP-originated): counted per kind.
// The one definition of PeerErrorCounts (lib/udp.ts's PeerErrorCounts is held to it by
// test/shared-facts.test.ts): X(member, group, "jsName") as in core/tun_stats.h.
#define TUNIO_PEER_ERROR_COUNTS(X)                                                            \
  X(conn_refused, top, "connRefused")     /* ECONNREFUSED: ICMP port unreachable */          \
  X(host_unreach, top, "hostUnreachable") /* EHOSTUNREACH, EHOSTDOWN, ENONET, EACCES (admin prohibited) */ \
  X(net_unreach, top, "netUnreachable")   /* ENETUNREACH, ENETDOWN */                        \
  X(msg_size, top, "messageSize")         /* EMSGSIZE: larger than the path MTU with DF, or than 64 KiB */ \
  X(other, top, "other")                  /* anything else that concerns one datagram (EPROTO, EINVAL, ...) */

struct PeerErrorCounts {
#define TUNIO_PEER_ERROR_MEMBER(member, group, js) uint64_t member = 0;
  TUNIO_PEER_ERROR_COUNTS(TUNIO_PEER_ERROR_MEMBER)
#undef TUNIO_PEER_ERROR_MEMBER
  void add(int err, uint64_t n = 1);
  uint64_t total() const {
#define TUNIO_PEER_ERROR_SUM(member, group, js) +member
    return 0 TUNIO_PEER_ERROR_COUNTS(TUNIO_PEER_ERROR_SUM);
#undef TUNIO_PEER_ERROR_SUM
  }
};

struct RecvStats {
  uint64_t recvmmsg_calls = 0;   // every recvmmsg syscall, including failed ones
  uint64_t messages = 0;         // kernel messages read (a GRO read counts once)
  uint64_t datagrams = 0;        // Packets produced
  uint64_t bytes = 0;            // payload bytes of those Packets
  uint64_t gro_reads = 0;        // messages that carried more than one datagram
  uint64_t dropped_truncated = 0;  // MSG_TRUNC: larger than a 64 KiB slot (cannot happen for
                                   // UDP over IPv4/IPv6 without jumbograms; counted, not hidden)
  uint64_t dropped_ctrunc = 0;     // MSG_CTRUNC with GRO on: segment size unknown, so dropped
  uint64_t pool_exhausted = 0;   // calls that read nothing because the pool had no slot
  uint64_t would_block = 0;      // calls that ended with EAGAIN and nothing read
  PeerErrorCounts errors;        // pending socket errors recvmmsg returned instead of data (an
                                 // ICMP error: its details come from the error queue)
  uint64_t kernel_drops = 0;     // SO_RXQ_OVFL: datagrams the kernel dropped for this socket
                                 // (receive buffer full), as of the last datagram read
  // Messages dropped because their data (MSG_TRUNC) or control messages (MSG_CTRUNC) did not
  // fit: stats().drops.truncated.
  uint64_t truncated() const { return dropped_truncated + dropped_ctrunc; }
};

struct SendStats {
  uint64_t sendmsg_calls = 0;    // every sendmsg syscall, including failed ones
  uint64_t sendmmsg_calls = 0;   // every sendmmsg syscall, including failed ones
  uint64_t datagrams = 0;        // datagrams the kernel accepted (a GSO send counts each segment)
  uint64_t bytes = 0;            // their payload bytes
  uint64_t gso_sends = 0;        // messages that carried a UDP_SEGMENT cmsg
  uint64_t gso_segments = 0;     // datagrams sent inside those messages
  uint64_t gso_fallbacks = 0;    // GSO sends the kernel refused (EMSGSIZE/EINVAL/EIO): the same
                                 // datagrams re-sent without GSO (see gso_backoff.h)
  GsoSegmentLimit::Stats segment_limit;  // EINVAL for too many segments: limit lowered to 64,
                                         // probed upward again (a copy of the policy's own)
  uint64_t would_block = 0;      // EAGAIN: send buffer full
  uint64_t no_buffers = 0;       // ENOBUFS/ENOMEM: no skb, or (IP_RECVERR) a qdisc dropped it:
                                 // nothing went out, the caller retries later
  uint64_t pending_errors = 0;   // sends refused with an earlier datagram's pending ICMP error:
                                 // the error queue was drained and the same message re-sent
  PeerErrorCounts dropped;       // datagrams dropped because of an error for their peer
  uint64_t dropped_invalid = 0;  // packets with a length but no memory (caller bug), dropped
  uint64_t source_fallbacks = 0;  // datagrams whose source (Packet.local) the kernel refused
                                  // (EINVAL/EADDRNOTAVAIL): re-sent from the route's source
};

// What the error queue delivered (IP_RECVERR / IPV6_RECVERR are always on).
struct ErrorQueueStats {
  uint64_t reads = 0;      // recvmsg(MSG_ERRQUEUE) calls, including the one that found it empty
  uint64_t icmp = 0;       // entries from ICMPv4 errors
  uint64_t icmp6 = 0;      // entries from ICMPv6 errors
  uint64_t local = 0;      // entries for errors this host detected (EMSGSIZE with the MTU)
  uint64_t read_failures = 0;  // recvmsg(MSG_ERRQUEUE) failed with something else than EAGAIN
};

// What one drain of the error queue found.
struct ErrorDrain {
  uint32_t icmp = 0;   // ICMP/ICMPv6 entries: each of them also left a pending socket error
  uint32_t local = 0;  // local entries
  int local_err = 0;   // errno of the last local entry (to merge it with the send that failed)
};

// --- the socket ---------------------------------------------------------------------------

class UdpSocket;

struct UdpOpenResult {
  std::unique_ptr<UdpSocket> socket;  // null on failure
  SysError error;
};

class UdpSocket {
 public:
  static UdpOpenResult open(const UdpOptions& options);
  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  int fd() const { return fd_.get(); }
  int family() const { return family_; }  // AF_INET or AF_INET6
  const IpEndpoint& local_address() const { return local_; }  // after bind: real port
  const IpEndpoint& peer() const { return peer_; }            // empty when unconnected
  const UdpFeatures& features() const { return features_; }
  uint32_t batch_size() const { return batch_; }
  // Effective kernel buffer sizes (getsockopt; the kernel doubles what was asked for).
  int recv_buffer_size() const;
  int send_buffer_size() const;
  // SO_MARK and SO_BINDTODEVICE as the kernel reports them (getsockopt): 0 / "" when unset.
  uint32_t fwmark() const;
  std::string bound_device() const;

  // Reads up to min(max_messages, batch_size) kernel messages with one recvmmsg (more calls
  // only to step over reported peer errors). Each message lands in its own 64 KiB pool slot;
  // a UDP_GRO message becomes one Packet per datagram, all views of that slot, so `out` can
  // receive more Packets than messages (up to 64-128 per message). Appends to `out`; reserve
  // it (batch_size * max segments) to keep this allocation-free.
  // IoResult.done: Packets appended; kPoolExhausted: the pool had no slot, nothing was read.
  IoResult recv_batch(BufferPool& pool, std::vector<Packet>& out, size_t max_messages,
                      RecvStats& stats);
  // recv_batch for a native forward's TUN sink: the same reads, counts and result, but the
  // datagrams appended to `out` as views with one slot reference per message (view_batch.h),
  // not as Packets, and without their endpoints and ECN.
  IoResult recv_views(BufferPool& pool, ViewBatch& out, size_t max_messages, RecvStats& stats);

  // Sends `pkts` in order, to Packet.remote or else `*default_to` (null/empty on a connected
  // socket: the peer). Per packet, Packet.local (when set) picks the source address/ifindex
  // and Packet.ecn (when non-zero) the ECN bits. Consumed packets (sent or dropped) are
  // erased from the front of `pkts`, which releases their slots (IoResult.done; .dropped of
  // them dropped and counted in `stats`, sent() the rest); on kWouldBlock/kNoBuffers/kError
  // the rest stays for the caller to retry.
  IoResult send_batch(std::vector<Packet>& pkts, const IpEndpoint* default_to, SendStats& stats);

  // Reads the kernel's error queue (bounded per call) into the recent-error queue below.
  // recv_batch/send_batch call it whenever a syscall returns a peer error; the addon also calls
  // it when the fd polls POLLERR. `send_dest` (the datagram whose send just failed) fills in
  // the port of a local error, which the kernel leaves 0 on an unconnected socket.
  ErrorDrain drain_error_queue(const IpEndpoint* send_dest = nullptr);
  const ErrorQueueStats& error_queue_stats() const { return errq_stats_; }

  // Takes the recent-error queue (oldest first). Bounded: when the caller does not take,
  // the oldest entries are overwritten and counted in errors_overwritten().
  std::vector<SocketError> take_errors();
  bool has_errors() const { return errors_count_ > 0; }
  // Repeated errors wait for the end of their interval: when (monotonic_ms) the next merged
  // event is due, 0 when none waits. The caller takes errors then (take_errors queues them).
  uint64_t next_error_flush_ms() const;
  // Errors merged into a later event instead of an event each.
  uint64_t errors_merged() const { return error_repeats_merged_; }
  uint64_t errors_overwritten() const { return errors_overwritten_; }
  // Every error recorded for the caller (each one event), by kind.
  const PeerErrorCounts& reported_errors() const { return reported_; }

  // Run-time offload switches (udp.setOffload). GSO: on takes effect with the next send (the
  // kernel is asked again if it was never probed); off at once. GRO: on at once; off is applied
  // when the receive queue is empty (right after a read found it so, or now if it is), because
  // datagrams the kernel coalesced before the switch would come out of a socket without
  // UDP_GRO as one datagram with no segment size to split them by. Each returns whether the
  // offload is on now (GRO: true while the switch-off waits).
  bool set_gso(bool on);
  bool set_gro(bool on);
  bool gro_off_pending() const { return gro_off_pending_; }

  // Paths whose GSO sends are suspended after a refusal, and their events.
  GsoBackoff& gso_backoff() { return gso_backoff_; }
  const GsoBackoff& gso_backoff() const { return gso_backoff_; }

  // Path MTUs the kernel reported per peer (error queue entries with an MTU, and the route's
  // MTU read when a GSO send was refused as too large), as events when they change.
  PathMtuTable& path_mtu() { return path_mtu_; }
  const PathMtuTable& path_mtu() const { return path_mtu_; }
  // The route's MTU towards `dest` as the kernel knows it now (getsockopt IP_MTU / IPV6_MTU on
  // this socket when it is connected to `dest`, else on a throw-away socket with the same mark
  // and device, connected to it). 0 when it cannot be read.
  uint32_t query_path_mtu(const IpEndpoint& dest) const;

  // Control messages that did not fit their message's slice (0 unless kSendCmsgSpace is wrong).
  uint64_t cmsg_overflows() const { return cmsg_overflows_; }

  // The system calls sends go through (null: the kernel's, the default). A test installs a
  // stand-in that refuses chosen messages as a kernel would (UdpSocketFaults); the caller keeps
  // it alive while it is installed.
  void set_send_calls(UdpSendCalls* calls) { send_calls_ = calls ? calls : &kernel_send_calls(); }
  // The segment limit's policy state (lowered on trial, probed upward again).
  const GsoSegmentLimit& segment_limit() const { return segment_limit_; }

 private:
  UdpSocket() = default;
  SysError init(const UdpOptions& o);
  // recv_batch and recv_views: the recvmmsg, its errors and the per-message checks and counts;
  // each message kept is handed to emit(slot, msghdr, length, split, local, ecn) with the
  // slot's one reference (udp_socket.cc; both instantiated there).
  template <typename Emit>
  IoResult recv_messages(BufferPool& pool, size_t max_messages, RecvStats& stats, Emit&& emit);
  void record_error(const SocketError& e);
  void queue_error(const SocketError& e);
  void flush_error_repeats(uint64_t now_ms, bool oldest_now = false);
  void record_error(int err, const char* call, const IpEndpoint* remote);
  // A send/recv returned `err`, a peer error: drain the queue; when the queue held nothing,
  // the bare errno is all there is (recorded with `remote`).
  ErrorDrain on_peer_error(int err, const char* call, const IpEndpoint* remote);
  // A pending error without its queue entry: only the errno (peer: the connected one, if any).
  void record_error_from_socket(int err, const char* call);
  void build_send_messages(const Packet* pkts, const IpEndpoint* default_to);
  size_t fill_send_cmsgs(size_t m, const Packet& first, const IpEndpoint& dest);

  // The steps of send_batch (udp_socket.cc says how they fit together).
  struct SendRound;
  struct SendCall {
    int sent = 0;                // messages the kernel took; -1: none
    int err = 0;                 // errno of the message it stopped at
    const char* name = nullptr;  // "sendmsg" or "sendmmsg"
  };
  enum class SendNext : uint8_t {
    kContinue,  // on with message m (the same one again, or the next after a drop)
    kReplan,    // plan again from the first packet not consumed (a fallback changed them)
    kStop,      // the caller must see the result's status first
  };
  SendPlanLimits send_plan_limits(SendStats& stats);
  void plan_round(SendRound& r);
  void send_round(SendRound& r);
  SendCall send_messages(size_t m, size_t end, SendStats& stats);
  const IpEndpoint& send_dest(const SendRound& r, size_t m) const;
  void account_sent(SendRound& r, size_t m, size_t count);
  void drop_invalid(SendRound& r, size_t m);
  void drop_for_peer(SendRound& r, size_t m, int err, const char* call, bool reported);
  SendNext on_send_refused(SendRound& r, size_t& m, int err, const char* call);
  bool retry_after_pending_error(SendRound& r, size_t m, int err, const char* call, ErrorDrain* drain);
  bool source_refused(const SendRound& r, size_t m, int err) const;
  void fall_back_to_route_source(SendRound& r, size_t m);
  void fall_back_from_gso(SendRound& r, size_t m, int err, const char* call, bool reported);

  static constexpr size_t kSendCmsgSpace = 128;  // UDP_SEGMENT + in6_pktinfo + TCLASS = 88
  static_assert(kSendCmsgSpace >= CMSG_SPACE(sizeof(uint16_t)) + CMSG_SPACE(sizeof(in6_pktinfo)) +
                                      CMSG_SPACE(sizeof(int)),
                "send cmsg slice too small for UDP_SEGMENT + PKTINFO + TOS/TCLASS");
  static_assert(kSendCmsgSpace % alignof(cmsghdr) == 0, "send cmsg slices must stay cmsghdr-aligned");
  // Packets planned per round for each message slot: 32 x the default 64 messages is 2,048
  // packets (32 KiB of iovecs), about 45 superpackets of MTU-size segments per sendmmsg.
  static constexpr size_t kSendWindowPerMessage = 32;
  static constexpr size_t kRecvCmsgSpace = 256;  // GRO + PKTINFO(v4 and v6) + TOS + RXQ_OVFL: < 224
  static constexpr size_t kErrorQueue = 64;
  static constexpr size_t kMaxDrainPerCall = 64;  // the rest waits for the next POLLERR
  static constexpr int kMaxPendingRetries = 4;    // re-sends of one message after pending errors

  UniqueFd fd_;
  int family_ = 0;
  IpEndpoint local_;
  IpEndpoint peer_;
  UdpFeatures features_;
  uint32_t batch_ = 0;
  UdpSendCalls* send_calls_ = &kernel_send_calls();
  bool gro_off_pending_ = false;
  void try_gro_off();
  uint64_t cmsg_overflows_ = 0;
  GsoBackoff gso_backoff_;
  PathMtuTable path_mtu_;
  bool has_fwmark_ = false;  // kept for query_path_mtu's throw-away socket
  uint32_t fwmark_ = 0;
  std::string bind_device_;

  // Send scratch, sized once in open(): batch_ messages (plan, mmsghdr, names, cmsgs) over a
  // window of up to send_window_ packets (iovecs). The window is wider than batch_ because a
  // message carries up to max_gso_segments datagrams: planning only batch_ packets at a time cut
  // the segments of one superpacket into two sends (and two system calls) at every window edge.
  size_t send_window_ = 0;
  std::vector<SendGroup> plan_;
  std::vector<mmsghdr> send_msgs_;
  std::vector<iovec> send_iov_;
  std::vector<sockaddr_in6> send_names_;
  std::vector<uint8_t> send_cmsg_;  // batch_ * kSendCmsgSpace, cmsghdr-aligned per message
  // Receive scratch.
  std::vector<mmsghdr> recv_msgs_;
  std::vector<iovec> recv_iov_;
  std::vector<sockaddr_in6> recv_names_;
  std::vector<uint8_t> recv_cmsg_;
  std::vector<Slot*> recv_slots_;

  // Repeats of one error (same errno, origin and peer address:port) within kErrorRepeatMs
  // become one event with a count, so a blackhole route (every send refused) makes a few events
  // a second instead of 111,000 in 4 s (issue 15). The first of each is never delayed.
  static constexpr uint64_t kErrorRepeatMs = 1000;
  static constexpr size_t kMaxErrorRepeats = 64;
  struct ErrorRepeat {
    SocketError sample;   // the first of the interval
    uint64_t since_ms = 0;
    uint32_t repeats = 0;  // merged since then, not queued yet
  };
  std::vector<ErrorRepeat> error_repeats_;
  uint64_t error_repeats_merged_ = 0;
  // EINVAL on a run of more than 64 segments: the limit is lowered on trial, probed upward
  // again later (send_batch, gso_backoff.h).
  GsoSegmentLimit segment_limit_;

  SocketError errors_[kErrorQueue];
  size_t errors_head_ = 0;  // oldest
  size_t errors_count_ = 0;
  uint64_t errors_overwritten_ = 0;
  PeerErrorCounts reported_;
  ErrorQueueStats errq_stats_;
};

}  // namespace tunio
