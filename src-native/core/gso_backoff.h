// Which destinations get UDP_SEGMENT sends after the kernel refused some: each refused path is
// suspended with an exponential back-off and probed again when it expires, so a transient
// fault (a lower MTU for a moment, one ICMP "fragmentation needed") never turns GSO off for
// good. Before this, one EMSGSIZE/EINVAL/EIO switched GSO off for the socket's whole life: the
// echo tunnel then ran at a quarter of its rate after a 2 s fault (issue 15).
//
// Why the kernel refuses a UDP_SEGMENT send (net/ipv4/udp.c udp_send_skb, and the same checks
// in net/ipv6/udp.c udp_v6_send_skb; UDP_SEGMENT itself is Linux 4.18), and what that means here:
//   - `hlen + min(datalen, gso_size) > cork->fragsize` -> EMSGSIZE: one segment is larger than
//     the path MTU. Before v6.14 ("udp: gso: do not drop small packets when PMTU reduces",
//     backported to stable kernels) the check was `hlen + gso_size` and the answer EINVAL. A
//     property of the path at this moment (device MTU, route MTU, a PMTU learnt from ICMP),
//     so: kPathMtu, a short back-off.
//   - `datalen > gso_size * UDP_MAX_SEGMENTS` -> EINVAL: more segments than this kernel takes
//     (64 before v6.9's "net: change maximum number of UDP segments to 128", which stable
//     kernels took too, e.g. 6.1.107). A property of the kernel: the socket's segment limit is
//     lowered (GsoSegmentLimit below: on trial first, probed upward again later), nothing is
//     suspended.
//   - `sk->sk_no_check_tx` -> EINVAL: UDP checksums off on the socket (tunio never sets it).
//   - UDP-Lite, or `dst_xfrm(dst)` (the route goes through IPsec) -> EIO; before v6.11 ("udp:
//     Allow GSO transmit from devices with no checksum offload") also `skb->ip_summed !=
//     CHECKSUM_PARTIAL`, a device without checksum offload such as a TUN device. A property of
//     the route's device or of the route: kNoOffload, a long back-off (probed again in any
//     case: routes change).
// The datagrams of a refused send never left: the caller re-sends them without GSO.
#pragma once

#include <cstdint>
#include <vector>

#include "packet.h"
#include "udp_features.h"  // kLegacyMaxGsoSegments

namespace tunio {

enum class GsoFault : uint8_t {
  kPathMtu,    // EMSGSIZE, or EINVAL with no more segments than any kernel takes
  kNoOffload,  // EIO
};

// What changed for a path: GSO suspended (enabled false) or back after a successful probe.
struct GsoPathEvent {
  IpEndpoint dest;     // address only (port 0): the kernel's checks depend on the route
  bool enabled = false;
  int err = 0;         // the errno that suspended it (also on the 'enabled' event)
  GsoFault fault = GsoFault::kPathMtu;
  uint32_t retry_ms = 0;  // suspended: when the next probe may go
};

struct GsoBackoffStats {
  uint64_t suspensions = 0;     // paths suspended (on -> off)
  uint64_t probe_failures = 0;  // probes the kernel refused again (back-off doubled)
  uint64_t restores = 0;        // paths whose probe went out (off -> on)
};

class GsoBackoff {
 public:
  // Back-off of a path: first, doubling up to max (ms).
  static constexpr uint32_t kPathMtuFirstMs = 100;
  static constexpr uint32_t kPathMtuMaxMs = 1000;
  static constexpr uint32_t kNoOffloadFirstMs = 1000;
  static constexpr uint32_t kNoOffloadMaxMs = 30000;
  static constexpr size_t kMaxPaths = 256;  // beyond: the path suspended longest ago is probed early

  static GsoFault fault_of(int err) { return err == 5 /* EIO */ ? GsoFault::kNoOffload : GsoFault::kPathMtu; }

  // May a run to `dest` be sent with GSO at `now_ms`? False while its path is suspended; true
  // once the back-off expired (that send is the probe).
  bool allowed(const IpEndpoint& dest, uint64_t now_ms) const;
  bool empty() const { return paths_.empty(); }
  size_t suspended(uint64_t now_ms) const;

  // The kernel refused a GSO send to `dest` with `err`.
  void on_refused(const IpEndpoint& dest, int err, uint64_t now_ms);
  // A GSO send to `dest` went out: a suspended path whose probe this was comes back.
  void on_sent(const IpEndpoint& dest);

  std::vector<GsoPathEvent> take_events();
  bool has_events() const { return !events_.empty(); }
  const GsoBackoffStats& stats() const { return stats_; }

 private:
  struct Path {
    IpEndpoint dest;
    int err = 0;
    GsoFault fault = GsoFault::kPathMtu;
    uint32_t backoff_ms = 0;
    uint64_t until_ms = 0;
  };
  static constexpr size_t kMaxEvents = 256;
  void push_event(const GsoPathEvent& e);
  Path* find(const IpEndpoint& dest);
  const Path* find(const IpEndpoint& dest) const;
  std::vector<Path> paths_;
  std::vector<GsoPathEvent> events_;
  GsoBackoffStats stats_;
};

// How many segments one UDP_SEGMENT send may carry. open() probes the kernel's limit
// (UDP_MAX_SEGMENTS: 64 up to Linux 6.8, 128 from 6.9; udp_features.h), and the kernel answers
// EINVAL for a longer run. But EINVAL has other causes too (a segment over the path MTU on
// kernels before 6.10, a blackhole route), so one refusal of a long run only puts the lower
// limit on trial: the caller re-sends in runs of at most kLegacyMaxGsoSegments; if such a run
// goes out, the limit is lowered; if it is refused too, the cause was something else and the
// limit comes back. A lowered limit is not for good either: after kProbeFirstMs the full limit
// is probed again (a long run that goes out restores it; refused again: lowered again with the
// back-off doubled, up to kProbeMaxMs). Pure policy: time comes in, no syscalls.
class GsoSegmentLimit {
 public:
  static constexpr uint32_t kProbeFirstMs = 1000;
  static constexpr uint32_t kProbeMaxMs = 60000;

  struct Stats {
    uint64_t lowered = 0;         // full -> lowered (a run of <= 64 went out where a longer one did not)
    uint64_t probes = 0;          // the full limit tried again after a back-off
    uint64_t probe_failures = 0;  // a probe's long run refused again: lowered again, back-off doubled
    uint64_t restores = 0;        // a probe's long run went out: the full limit stays
  };

  // At open: the limit the kernel was probed for (0 without GSO).
  void reset(uint16_t probed);
  // The limit for sends planned at `now_ms`; a due probe starts here (the full limit again).
  uint16_t limit(uint64_t now_ms);
  uint16_t current() const { return current_; }
  // Whether limit() must be asked with the clock (a lowered limit waits for its probe).
  bool waiting_for_probe() const { return state_ == State::kLowered; }
  // Neither on trial nor probing: a GSO send that went out changes nothing (the hot path).
  bool steady() const { return state_ == State::kFull || state_ == State::kLowered; }
  // The kernel refused a GSO send of `segments` segments with EINVAL. True: that may be the
  // segment limit, now on trial at kLegacyMaxGsoSegments (re-send in runs of at most that).
  bool on_einval(uint32_t segments);
  // A GSO send was refused for another reason, or a run within the trial limit was refused
  // (EINVAL too): the trial was wrong, the limit before it comes back.
  void on_other_refusal();
  // A GSO send of `segments` segments went out at `now_ms`.
  void on_sent(uint32_t segments, uint64_t now_ms);
  const Stats& stats() const { return stats_; }
  // Milliseconds between the last lowering and the probe that follows it (0: none planned).
  uint32_t backoff_ms() const { return backoff_ms_; }

 private:
  enum class State : uint8_t { kFull, kTrial, kLowered, kProbing };
  State state_ = State::kFull;
  State before_trial_ = State::kFull;  // kFull or kProbing
  uint16_t probed_ = 0;
  uint16_t current_ = 0;
  uint32_t backoff_ms_ = 0;
  uint64_t probe_at_ms_ = 0;
  Stats stats_;
};

// Milliseconds of CLOCK_MONOTONIC.
uint64_t monotonic_ms();

}  // namespace tunio
