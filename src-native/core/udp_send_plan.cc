#include "udp_send_plan.h"

#include "socket_address.h"

namespace tunio {

namespace {

// A packet with a length but no memory (a caller bug): planned alone, dropped, never sent.
bool unsendable(const Packet& p) { return p.length > 0 && !p.valid(); }

// Whether the GSO back-off lets a run to `dest` go out as one UDP_SEGMENT message now.
bool gso_allowed(const SendPlanLimits& limits, const IpEndpoint& dest) {
  if (!limits.backoff || limits.backoff->empty()) return true;
  const IpEndpoint& path = dest.empty() && limits.peer ? *limits.peer : dest;
  return limits.backoff->allowed(path, limits.now_ms);
}

// A run can start at `size`: a segment size must fit the u16 cmsg, and a run needs at least
// two datagrams within the payload limit.
bool can_start_run(uint32_t size, uint32_t max_payload) {
  return size > 0 && size <= 0xffff && size * 2 <= max_payload;
}

// Whether `p` may follow `head` in its run (same destination, source and ECN bits, not longer
// than the segment size, not over the payload limit with `total` bytes planned so far).
// kHeadToDefault: `head` has no remote of its own (it goes to `*default_to`, or to the connected
// peer), so a packet without one goes to the same place: no compare of the endpoints (a native
// forward's packets, UdpWrap::EnqueueSend). Otherwise each packet's destination is compared.
template <bool kHeadToDefault>
bool joins_run(const Packet& p, const Packet& head, const IpEndpoint& dest, const IpEndpoint* default_to,
               uint64_t total, uint32_t max_payload) {
  if (unsendable(p) || p.length == 0 || p.length > head.length) return false;
  if (total + p.length > max_payload) return false;
  if (p.ecn != head.ecn || !same_source(p.local, head.local)) return false;
  if (kHeadToDefault && p.remote.empty()) return true;
  return same_destination(send_destination(p, default_to), dest);
}

// How many packets from `pkts[i]` on form one run (at least 1).
template <bool kHeadToDefault>
size_t run_length(const Packet* pkts, size_t i, size_t n, const IpEndpoint* default_to,
                  const SendPlanLimits& limits) {
  const Packet& head = pkts[i];
  const IpEndpoint& dest = send_destination(head, default_to);
  uint64_t total = head.length;
  size_t j = i + 1;
  while (j < n && j - i < limits.max_segments) {
    const Packet& p = pkts[j];
    if (!joins_run<kHeadToDefault>(p, head, dest, default_to, total, limits.max_payload)) break;
    total += p.length;
    j++;
    if (p.length < head.length) break;  // a shorter datagram can only be the last segment
  }
  return j - i;
}

size_t run_length(const Packet* pkts, size_t i, size_t n, const IpEndpoint* default_to,
                  const SendPlanLimits& limits) {
  return pkts[i].remote.empty() ? run_length<true>(pkts, i, n, default_to, limits)
                                : run_length<false>(pkts, i, n, default_to, limits);
}

}  // namespace

size_t plan_udp_sends(const Packet* pkts, size_t n, const IpEndpoint* default_to,
                      const SendPlanLimits& limits, std::vector<SendGroup>& out) {
  out.clear();
  const bool gso = limits.gso && limits.max_segments >= 2;
  size_t i = 0;
  while (i < n && out.size() < limits.max_messages) {
    const Packet& head = pkts[i];
    SendGroup g;
    g.first = static_cast<uint32_t>(i);
    g.count = 1;
    g.invalid = unsendable(head);
    if (!g.invalid && gso && can_start_run(head.length, limits.max_payload) &&
        gso_allowed(limits, send_destination(head, default_to))) {
      g.count = static_cast<uint32_t>(run_length(pkts, i, n, default_to, limits));
      if (g.count > 1) g.gso_size = static_cast<uint16_t>(head.length);
    }
    out.push_back(g);
    i += g.count;
  }
  return out.size();
}

}  // namespace tunio
