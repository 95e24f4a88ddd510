// A packet handed between the kernel, the packet code and JavaScript: a byte range inside a
// pool slot plus the metadata that travelled with it. Holding a Packet holds one reference
// on its slot, so several Packets can be views of one slot.
#pragma once

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "buffer_pool.h"

namespace tunio {

// An IPv4 or IPv6 address with an optional port. IPv4 is stored as 4 bytes (family 4);
// v4-mapped IPv6 addresses are normalised to IPv4 by whoever fills this in.
struct IpEndpoint {
  uint8_t family = 0;  // 0 = none, 4 or 6
  uint8_t addr[16] = {};
  uint16_t port = 0;       // host byte order
  uint32_t ifindex = 0;    // for local (destination) addresses from IP_PKTINFO
  uint32_t scope_id = 0;   // IPv6 scope id for link-local remotes
  bool empty() const { return family == 0; }
  // Compared with a constant size per family, which the compiler inlines: a variable-length
  // memcmp is a libc call, made per datagram by the send planner (udp_send_plan.cc).
  bool same_address(const IpEndpoint& o) const {
    return family == o.family && (family == 4 ? std::memcmp(addr, o.addr, 4) == 0 : std::memcmp(addr, o.addr, 16) == 0);
  }
  bool same_address_port(const IpEndpoint& o) const { return port == o.port && same_address(o); }
};

// GSO metadata of a superpacket delivered whole (TUN option split: false).
struct GsoMeta {
  uint8_t gso_type = 0;    // VIRTIO_NET_HDR_GSO_* without the ECN bit
  bool ecn = false;        // VIRTIO_NET_HDR_GSO_ECN was set
  uint8_t flags = 0;       // VIRTIO_NET_HDR_F_*
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;
};

struct Packet {
  SlotRef slot;
  uint32_t offset = 0;
  uint32_t length = 0;
  // Bytes just before `offset` and just after `offset + length` that belong to this packet
  // alone (reserved when it was laid out, see SlotPacker): room to add a protocol header and
  // an AEAD tag in place (aead.h) without copying the packet.
  uint32_t headroom = 0;
  uint32_t tailroom = 0;
  IpEndpoint remote;  // UDP: sender (receive) or destination (send)
  IpEndpoint local;   // UDP: destination address of a received datagram / source to send from
  uint8_t ecn = 0;    // ECN bits of the outer IP header (receive) or to set (send)
  GsoMeta gso;        // only for superpackets delivered whole

  Packet() = default;
  // A received datagram: each member written once (UdpSocket::recv_batch's per-datagram cost
  // was the default construction's zeroing plus the assignments over it).
  Packet(SlotRef&& s, uint32_t off, uint32_t len, const IpEndpoint& from, const IpEndpoint& to, uint8_t ecn_bits)
      : slot(std::move(s)), offset(off), length(len), remote(from), local(to), ecn(ecn_bits) {}

  uint8_t* data() const { return slot.get()->data + offset; }
  bool valid() const { return static_cast<bool>(slot); }
};

}  // namespace tunio
