#include "gso_split.h"

#include <cstring>

#include "checksum.h"
#include "ip_headers.h"

namespace tunio {

const char* split_result_name(SplitResult r) {
  switch (r) {
    case SplitResult::ok: return "ok";
    case SplitResult::no_memory: return "no_memory";
    case SplitResult::empty: return "empty";
    case SplitResult::unsupported_gso_type: return "unsupported_gso_type";
    case SplitResult::bad_gso_size: return "bad_gso_size";
    case SplitResult::bad_ip_version: return "bad_ip_version";
    case SplitResult::truncated: return "truncated";
    case SplitResult::bad_ip_header: return "bad_ip_header";
    case SplitResult::bad_ip_length: return "bad_ip_length";
    case SplitResult::ip_fragment: return "ip_fragment";
    case SplitResult::unsupported_l4: return "unsupported_l4";
    case SplitResult::bad_l4_header: return "bad_l4_header";
    case SplitResult::bad_csum_offsets: return "bad_csum_offsets";
    case SplitResult::needs_split: return "needs_split";
  }
  return "unknown";
}

namespace {

// Validates a CHECKSUM_PARTIAL request: the 2-byte field must lie inside the packet and at
// an even distance from csum_start (otherwise the stored value would straddle two summed
// words and never verify). The kernel's skb_checksum_help only checks the bounds.
bool csum_offsets_ok(size_t len, uint16_t csum_start, uint16_t csum_offset) {
  if (csum_offset % 2 != 0) return false;
  return static_cast<size_t>(csum_start) + csum_offset + 2 <= len;
}

// Completes a partial checksum in place: the field already holds the pseudo-header sum,
// so summing [csum_start, len) including it and complementing gives the final value. Like
// the kernel (CSUM_MANGLED_0) a result of 0 is stored as 0xFFFF, which is the same value in
// ones-complement arithmetic and required for UDP.
void finish_partial(uint8_t* pkt, size_t len, uint16_t csum_start, uint16_t csum_offset) {
  const uint16_t c = checksum_finish(checksum_add(pkt + csum_start, len - csum_start, 0));
  store_be16(pkt + csum_start + csum_offset, udp_checksum_field(c));
}

// The longest headers a superpacket can have: IPv4's IHL and TCP's data offset are 4-bit
// counts of 32-bit words (IPv6 without extension headers, 40 bytes, and UDP's 8 are less).
constexpr size_t kMaxSplitHeaderLen = 15 * 4 + 15 * 4;

SplitResult map_ip_error(ParseError e) {
  switch (e) {
    case ParseError::truncated: return SplitResult::truncated;
    case ParseError::bad_version: return SplitResult::bad_ip_version;
    case ParseError::bad_ihl: return SplitResult::bad_ip_header;
    case ParseError::bad_total_length: return SplitResult::bad_ip_length;
    default: return SplitResult::bad_ip_header;
  }
}

}  // namespace

SplitResult copy_complete_checksum(const VirtioNetHdr& h, const uint8_t* pkt, size_t len, uint8_t* out) {
  if (h.gso_kind() != VIRTIO_NET_HDR_GSO_NONE) return SplitResult::needs_split;
  if (len == 0) return SplitResult::empty;
  if (!(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
    std::memcpy(out, pkt, len);
    return SplitResult::ok;
  }
  if (!csum_offsets_ok(len, h.csum_start, h.csum_offset)) return SplitResult::bad_csum_offsets;
  // The bytes before csum_start as they are; from there copied and summed in one pass (the
  // field, inside the summed range, holds the pseudo-header sum), then the field completed.
  std::memcpy(out, pkt, h.csum_start);
  const uint16_t sum = checksum_copy(out + h.csum_start, pkt + h.csum_start, len - h.csum_start);
  store_be16(out + h.csum_start + h.csum_offset, udp_checksum_field(checksum_finish(sum)));
  return SplitResult::ok;
}

SplitResult complete_checksum(const VirtioNetHdr& h, uint8_t* pkt, size_t len) {
  if (h.gso_kind() != VIRTIO_NET_HDR_GSO_NONE) return SplitResult::needs_split;
  if (len == 0) return SplitResult::empty;
  if (!(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) return SplitResult::ok;
  if (!csum_offsets_ok(len, h.csum_start, h.csum_offset)) return SplitResult::bad_csum_offsets;
  finish_partial(pkt, len, h.csum_start, h.csum_offset);
  return SplitResult::ok;
}

SplitResult gso_split(const VirtioNetHdr& h, const uint8_t* pkt, size_t len, SegmentSink& sink,
                      SplitStats* stats) {
  SplitStats local;
  SplitStats& st = stats ? *stats : local;
  st = SplitStats{};
  if (len == 0) return SplitResult::empty;

  const uint8_t kind = h.gso_kind();
  if (kind == VIRTIO_NET_HDR_GSO_NONE) {
    if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
        !csum_offsets_ok(len, h.csum_start, h.csum_offset)) {
      return SplitResult::bad_csum_offsets;
    }
    uint8_t* out = sink.reserve(len);
    if (!out) return SplitResult::no_memory;
    copy_complete_checksum(h, pkt, len, out);  // cannot fail: the offsets were checked
    sink.commit(len);
    st.segments = 1;
    st.bytes = static_cast<uint32_t>(len);
    return SplitResult::ok;
  }

  const bool tcp = kind == VIRTIO_NET_HDR_GSO_TCPV4 || kind == VIRTIO_NET_HDR_GSO_TCPV6;
  if (!tcp && kind != VIRTIO_NET_HDR_GSO_UDP_L4) return SplitResult::unsupported_gso_type;
  if (h.gso_size == 0) return SplitResult::bad_gso_size;

  IpHeaderInfo ip;
  ParseError pe = parse_ip(pkt, len, &ip);
  if (pe != ParseError::ok) return map_ip_error(pe);
  if ((kind == VIRTIO_NET_HDR_GSO_TCPV4 && ip.version != 4) ||
      (kind == VIRTIO_NET_HDR_GSO_TCPV6 && ip.version != 6)) {
    return SplitResult::bad_ip_version;
  }
  // The superpacket's own length fields must describe exactly the bytes we got: anything else
  // means the header and the buffer disagree and we would be guessing where the payload ends.
  if (ip.total_len != len) return SplitResult::bad_ip_length;
  if (ip.fragment) return SplitResult::ip_fragment;
  const uint8_t proto = tcp ? IPPROTO_TCP : IPPROTO_UDP;
  if (ip.protocol != proto) return SplitResult::unsupported_l4;

  const size_t ihl = ip.header_len;
  const uint8_t* l4 = pkt + ihl;
  const size_t l4_len = len - ihl;
  size_t l4_hdr_len;
  uint32_t seq0 = 0;
  if (tcp) {
    TcpHeaderInfo th;
    pe = parse_tcp(l4, l4_len, &th);
    if (pe == ParseError::l4_truncated) return SplitResult::truncated;
    if (pe != ParseError::ok) return SplitResult::bad_l4_header;
    l4_hdr_len = th.header_len;
    seq0 = th.seq;
  } else {
    // The superpacket's UDP length field is rewritten per segment, so only the header's
    // presence matters (parse_udp would also insist on length <= l4_len, which the kernel
    // guarantees but we do not need).
    if (l4_len < kUdpHeaderLen) return SplitResult::truncated;
    l4_hdr_len = kUdpHeaderLen;
  }
  if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    // The kernel's csum_start/csum_offset must point at the checksum field of the header we
    // parsed; otherwise the packet is not what the virtio header says it is.
    const uint16_t want = tcp ? kTcpChecksumOffset : kUdpChecksumOffset;
    if (h.csum_start != ihl || h.csum_offset != want) return SplitResult::bad_csum_offsets;
  }

  const size_t hdr_len = ihl + l4_hdr_len;
  st.hdr_len = static_cast<uint16_t>(hdr_len);
  const size_t payload = len - hdr_len;
  const size_t gso = h.gso_size;
  const size_t nseg = payload == 0 ? 1 : (payload + gso - 1) / gso;
  const uint16_t id0 = ip.version == 4 ? load_be16(pkt + 4) : 0;
  const uint8_t* src = pkt + ip.src_offset;
  const uint8_t* dst = pkt + ip.dst_offset;
  const size_t csum_at = ihl + (tcp ? kTcpChecksumOffset : kUdpChecksumOffset);

  // The headers' sums, once per superpacket: every segment's headers are the superpacket's
  // except a few fields, so each segment adds only those to a sum taken with them zeroed (the
  // ones-complement sum is a plain sum of 16-bit words: a zeroed word adds nothing). IPv4: total
  // length, ID (and the checksum itself); L4: TCP sequence number and the word of data offset
  // and flags, UDP length (and the checksum); the pseudo-header: its length.
  uint8_t hdr_copy[kMaxSplitHeaderLen];
  std::memcpy(hdr_copy, pkt, hdr_len);
  uint64_t ip_base = 0;
  if (ip.version == 4) {
    store_be16(hdr_copy + 2, 0);
    store_be16(hdr_copy + 4, 0);
    store_be16(hdr_copy + 10, 0);
    ip_base = checksum_add(hdr_copy, ihl);
  }
  uint8_t* const l4_copy = hdr_copy + ihl;
  if (tcp) {
    store_be32(l4_copy + 4, 0);
    store_be16(l4_copy + kTcpFlagsOffset - 1, 0);
  } else {
    store_be16(l4_copy + 4, 0);
  }
  store_be16(hdr_copy + csum_at, 0);
  const uint64_t l4_base = static_cast<uint64_t>(checksum_add(l4_copy, l4_hdr_len)) +
                           (ip.version == 4 ? pseudo_header_sum_v4(src, dst, proto, 0)
                                            : pseudo_header_sum_v6(src, dst, proto, 0));

  size_t off = 0;
  for (size_t i = 0; i < nseg; i++) {
    const size_t seg_payload = payload - off < gso ? payload - off : gso;
    const size_t seg_len = hdr_len + seg_payload;
    uint8_t* out = sink.reserve(seg_len);
    if (!out) return SplitResult::no_memory;
    std::memcpy(out, pkt, hdr_len);
    // The payload is copied and summed in one pass; the L4 header's sum is added below, after
    // its fields are set (hdr_len - ihl is even: the payload's words line up with the header's).
    const uint16_t payload_sum = checksum_copy(out + hdr_len, pkt + hdr_len + off, seg_payload);

    if (ip.version == 4) {
      const uint16_t id = static_cast<uint16_t>(id0 + i);  // wraps like the kernel's
      store_be16(out + 2, static_cast<uint16_t>(seg_len));
      store_be16(out + 4, id);
      store_be16(out + 10, checksum_finish(ip_base + seg_len + id));
    } else {
      store_be16(out + 4, static_cast<uint16_t>(seg_len - kIpv6HeaderLen));
    }
    const size_t seg_l4_len = seg_len - ihl;
    uint8_t* o4 = out + ihl;
    // The pseudo-header's length (below 2^16 here; for IPv6 a 32-bit field whose high word is 0).
    uint64_t sum = l4_base + payload_sum + seg_l4_len;
    if (tcp) {
      const uint32_t seq = seq0 + static_cast<uint32_t>(off);
      store_be32(o4 + 4, seq);
      uint8_t flags = o4[kTcpFlagsOffset];
      if (i + 1 != nseg) flags &= static_cast<uint8_t>(~(TH_FIN | TH_PUSH));
      if (i != 0) flags &= static_cast<uint8_t>(~TH_CWR);
      o4[kTcpFlagsOffset] = flags;
      sum += (seq >> 16) + (seq & 0xffffu) + (static_cast<uint32_t>(o4[kTcpFlagsOffset - 1]) << 8 | flags);
    } else {
      store_be16(o4 + 4, static_cast<uint16_t>(seg_l4_len));
      sum += seg_l4_len;
    }
    uint16_t c = checksum_finish(sum);
    if (!tcp) c = udp_checksum_field(c);
    store_be16(out + csum_at, c);

    sink.commit(seg_len);
    st.segments++;
    st.bytes += static_cast<uint32_t>(seg_len);
    off += seg_payload;
  }
  return SplitResult::ok;
}

}  // namespace tunio
