// Path MTUs the kernel reported, per peer address, turned into events when they change.
//
// The kernel tells a UDP socket about a path MTU in three ways: an ICMP "fragmentation needed"
// (ICMPv6 "packet too big") for a datagram sent with DF, queued on the error queue with the
// next-hop MTU in ee_info (IP_RECVERR); a local EMSGSIZE for a datagram larger than the MTU it
// already knows (pmtu 'do'/'probe'), queued with that MTU; and the route's MTU, readable with
// getsockopt(IP_MTU / IPV6_MTU) on a socket connected to the peer (tunio asks when the kernel
// refused a UDP_SEGMENT send with EMSGSIZE, which leaves no queue entry). The same MTU arrives
// again with every refused datagram: only a value that differs from the last one reported for
// that address is an event, so a VPN hears "peer X: path MTU now 1280" once, not per datagram.
#pragma once

#include <cstdint>
#include <vector>

#include "packet.h"

namespace tunio {

enum class MtuSource : uint8_t {
  kIcmp,   // ICMPv4 fragmentation needed (error queue)
  kIcmp6,  // ICMPv6 packet too big (error queue)
  kLocal,  // this host refused a datagram larger than the MTU it knows (error queue)
  kRoute,  // getsockopt(IP_MTU / IPV6_MTU) on a socket connected to the peer
};
const char* mtu_source_name(MtuSource source);  // "icmp", "icmp6", "local", "route"

struct PathMtuEvent {
  IpEndpoint dest;  // the peer's address (port 0: a path MTU belongs to the address)
  uint32_t mtu = 0;
  MtuSource source = MtuSource::kLocal;
};

class PathMtuTable {
 public:
  static constexpr size_t kMaxPeers = 256;   // beyond: the entry reported longest ago is forgotten
  static constexpr size_t kMaxEvents = 256;  // beyond: the oldest event is dropped (counted)

  // The kernel reported `mtu` for `dest` (any port). Returns true when it was queued as an
  // event (the first report for the address, or a different value than the last one).
  bool report(const IpEndpoint& dest, uint32_t mtu, MtuSource source);
  // The last MTU reported for the address of `dest`, 0 when none.
  uint32_t last(const IpEndpoint& dest) const;

  std::vector<PathMtuEvent> take_events();
  bool has_events() const { return !events_.empty(); }
  uint64_t reports() const { return reports_; }          // every report, repeats included
  uint64_t events_dropped() const { return dropped_; }   // events lost because none were taken

 private:
  struct Entry {
    IpEndpoint addr;
    uint32_t mtu = 0;
    uint64_t seq = 0;  // when it last changed (report order), for eviction
  };
  std::vector<Entry> entries_;
  std::vector<PathMtuEvent> events_;
  uint64_t seq_ = 0;
  uint64_t reports_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace tunio
