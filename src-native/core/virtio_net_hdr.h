// struct virtio_net_hdr as read from / written to a TUN device opened with IFF_VNET_HDR.
//
// The default vnet header is the 10-byte legacy layout. Its 16-bit fields are in the byte
// order tun_is_little_endian() picks: little-endian on little-endian hosts (and with
// TUNSETVNETLE), native on big-endian hosts without TUNSETVNETLE. We therefore encode in
// host order, which is what the kernel uses unless someone calls TUNSETVNETLE/BE.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tunio {

// struct virtio_net_hdr without num_buffers: what tunio sets with TUNSETVNETHDRSZ and reads
// in front of every TUN packet (the one definition; tun_device and tun_io use it).
constexpr size_t kVirtioNetHdrLen = 10;

constexpr uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;  // csum_start/csum_offset are valid
constexpr uint8_t VIRTIO_NET_HDR_F_DATA_VALID = 2;  // checksum already verified
constexpr uint8_t VIRTIO_NET_HDR_GSO_NONE = 0;
constexpr uint8_t VIRTIO_NET_HDR_GSO_TCPV4 = 1;
constexpr uint8_t VIRTIO_NET_HDR_GSO_UDP = 3;  // legacy UFO (IP fragmentation): refused
constexpr uint8_t VIRTIO_NET_HDR_GSO_TCPV6 = 4;
constexpr uint8_t VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
constexpr uint8_t VIRTIO_NET_HDR_GSO_ECN = 0x80;  // modifier bit, mask before dispatching

struct VirtioNetHdr {
  uint8_t flags = 0;
  uint8_t gso_type = 0;
  uint16_t hdr_len = 0;     // length of the headers (IP + L4); the kernel's value may be short
  uint16_t gso_size = 0;    // payload bytes per segment
  uint16_t csum_start = 0;  // offset of the L4 header
  uint16_t csum_offset = 0; // offset of the checksum field from csum_start

  // gso_type without the ECN modifier bit.
  uint8_t gso_kind() const {
    return static_cast<uint8_t>(gso_type & ~VIRTIO_NET_HDR_GSO_ECN);
  }
  bool operator==(const VirtioNetHdr& o) const {
    return flags == o.flags && gso_type == o.gso_type && hdr_len == o.hdr_len &&
           gso_size == o.gso_size && csum_start == o.csum_start && csum_offset == o.csum_offset;
  }
  bool operator!=(const VirtioNetHdr& o) const { return !(*this == o); }
};

// Writes the 10-byte wire form into out[0..10).
void encode_virtio_net_hdr(const VirtioNetHdr& h, uint8_t* out);
// Reads the 10-byte wire form; false (and *out zeroed) when len < 10.
bool decode_virtio_net_hdr(const uint8_t* in, size_t len, VirtioNetHdr* out);

}  // namespace tunio
