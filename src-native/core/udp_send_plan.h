// The send planner of the UDP core: which of the packets handed to UdpSocket::send_batch go
// out together as one UDP_SEGMENT (GSO) message, and which alone. Pure: no socket, no
// syscall, no clock (time and the GSO back-off come in through SendPlanLimits), so it is
// table-tested alone (test-native/udp_send_plan_test.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gso_backoff.h"
#include "packet.h"
#include "udp_features.h"  // kLegacyMaxGsoSegments, kMaxUdpPayload

namespace tunio {

struct SendPlanLimits {
  bool gso = false;
  uint16_t max_segments = kLegacyMaxGsoSegments;
  uint32_t max_payload = kMaxUdpPayload;  // summed payload of one UDP_SEGMENT message
  size_t max_messages = SIZE_MAX;          // the plan stops after this many messages
  // Paths whose GSO is suspended (null: none), checked at `now_ms`; a packet without a
  // destination of its own or `default_to` goes to `peer` (a connected socket).
  const GsoBackoff* backoff = nullptr;
  uint64_t now_ms = 0;
  const IpEndpoint* peer = nullptr;
};

// One message of the plan: packets [first, first + count) of the input.
struct SendGroup {
  uint32_t first = 0;
  uint32_t count = 0;
  uint16_t gso_size = 0;  // non-zero only when count > 1: the UDP_SEGMENT cmsg value
  bool invalid = false;   // a packet with a length but no slot: dropped, never sent
};

// Where `p` goes: Packet.remote, else `*default_to`, else nowhere (an empty endpoint: the
// peer of a connected socket). Inline: the planner and UdpSocket::build_send_messages ask it
// for every packet, and out of line the call cost ~11 instructions per datagram
// (bench/datapath-instructions.js, docs/bench/send-path-instructions.md).
inline const IpEndpoint& send_destination(const Packet& p, const IpEndpoint* default_to) {
  static const IpEndpoint kNoEndpoint{};
  if (!p.remote.empty()) return p.remote;
  return default_to ? *default_to : kNoEndpoint;
}

// Splits `pkts[0..n)` into messages. Consecutive packets go into one UDP_SEGMENT message when
// they have the same destination (Packet.remote, or `default_to` when empty), the same source
// (Packet.local address + ifindex) and the same ECN bits, and every one has the size of the
// first except a shorter last one (which ends the run). A run ends at `max_segments` datagrams
// or before the summed payload would exceed `max_payload`. 0-byte datagrams are never part of
// a run (a zero segment would vanish). A message of one datagram never carries gso_size.
// Planning stops after `max_messages` messages: the packets after them are left for the next
// plan, which starts at the first packet not covered.
// Writes into `out` (cleared first; reserve it to stay allocation-free). Returns out.size().
size_t plan_udp_sends(const Packet* pkts, size_t n, const IpEndpoint* default_to,
                      const SendPlanLimits& limits, std::vector<SendGroup>& out);

}  // namespace tunio
