// Read side of TUN offloads: turns what a TUN with IFF_VNET_HDR hands us (a TSO/USO
// superpacket with a partial checksum, or a plain packet with NEEDS_CSUM) into ordinary IP
// packets with complete checksums, ready to be encrypted and sent.
//
// Header lengths are derived from the packet itself, never from the virtio hdr_len (the
// kernel's value can be short, see wireguard-go tun/offload_linux.go), and csum_start /
// csum_offset are checked against the parsed headers. Allocation-free: the caller's sink
// decides where each segment goes (back to back in a 64 KiB pool slot, so equal-size
// segments stay contiguous for one UDP_SEGMENT send).
#pragma once

#include <cstddef>
#include <cstdint>

#include "virtio_net_hdr.h"

namespace tunio {

class SegmentSink {
 public:
  // Room for one segment of exactly `len` bytes, or nullptr when no memory is left (the split
  // stops and reports no_memory). A reservation that is not committed is abandoned.
  virtual uint8_t* reserve(size_t len) = 0;
  // The segment written into the last reservation is complete (len == the reserved length).
  virtual void commit(size_t len) = 0;
  virtual ~SegmentSink() = default;
};

enum class SplitResult : uint8_t {
  ok = 0,
  no_memory,             // the sink refused a reservation; earlier segments were committed
  empty,                 // zero-length packet
  unsupported_gso_type,  // legacy UFO (GSO_UDP) or an unknown gso_type
  bad_gso_size,          // gso_size 0 with a GSO type
  bad_ip_version,        // version nibble not 4/6, or not the one the GSO type implies
  truncated,             // shorter than its IP or L4 header
  bad_ip_header,         // IPv4 IHL < 5 or options past the end
  bad_ip_length,         // IPv4 total length / IPv6 payload length disagree with the packet
  ip_fragment,           // IPv4 MF or fragment offset set on a GSO packet
  unsupported_l4,        // IPv6 extension headers, or L4 protocol not the GSO type's
  bad_l4_header,         // TCP data offset < 5 or past the end; UDP header past the end
  bad_csum_offsets,      // csum_start/csum_offset out of bounds or not at the L4 checksum
  needs_split,           // complete_checksum() called with a GSO type
};
const char* split_result_name(SplitResult r);

struct SplitStats {
  uint32_t segments = 0;  // segments committed to the sink
  uint32_t bytes = 0;     // bytes committed
  uint16_t hdr_len = 0;   // derived IP + L4 header length (0 for GSO_NONE)
};

// Splits one packet read from the TUN (without its virtio header) into the sink. GSO_NONE
// packets are copied once (checksum completed if NEEDS_CSUM); prefer complete_checksum() to
// avoid that copy when the packet can stay where it is.
//
// For TCPV4/TCPV6/UDP_L4 every segment gets: IPv4 total length, ID + i, header checksum;
// IPv6 payload length; TCP sequence advanced by the payload before it, FIN/PSH only on the
// last segment, CWR only on the first; UDP length; a full L4 checksum with pseudo-header
// (a UDP checksum of 0 is sent as 0xFFFF).
SplitResult gso_split(const VirtioNetHdr& h, const uint8_t* pkt, size_t len, SegmentSink& sink,
                      SplitStats* stats = nullptr);

// In-place variant for GSO_NONE: completes the checksum at csum_start + csum_offset if
// NEEDS_CSUM is set (the field holds the pseudo-header sum, as CHECKSUM_PARTIAL does), and
// is a no-op otherwise. Returns needs_split for GSO types, bad_csum_offsets when the field is
// out of bounds; the packet is untouched unless ok is returned.
SplitResult complete_checksum(const VirtioNetHdr& h, uint8_t* pkt, size_t len);

// complete_checksum() on a copy: copies the packet (GSO_NONE) to `out` (room for `len` bytes,
// not overlapping `pkt`), completing its checksum there if NEEDS_CSUM is set, in one pass over
// the summed bytes. Same results as complete_checksum; `out` is untouched unless ok is returned.
SplitResult copy_complete_checksum(const VirtioNetHdr& h, const uint8_t* pkt, size_t len, uint8_t* out);

}  // namespace tunio
