#include "gro_coalesce.h"

#include <cstring>

#include "checksum.h"
#include "ip_headers.h"

namespace tunio {

namespace {

constexpr uint32_t kNone = 0xffffffffu;

// IP fields every member must share with the head so that the superpacket, and the
// segments the kernel (or gso_split) cuts from it, carry the same values.
bool ip_fields_equal(const uint8_t* a, const uint8_t* b, uint8_t version) {
  if (version == 4) {
    // TOS (incl. ECN), TTL, and the reserved/DF/MF bits.
    return a[1] == b[1] && a[8] == b[8] && (a[6] & 0xe0) == (b[6] & 0xe0);
  }
  // Version, traffic class, flow label; hop limit.
  return std::memcmp(a, b, 4) == 0 && a[7] == b[7];
}

// TCP header bytes that must match: ACK number, data offset/reserved bits, flags except PSH,
// window, urgent pointer, options. (Ports are part of the flow key, seq is checked for
// adjacency, the checksum is per segment.)
bool tcp_fields_equal(const uint8_t* a, const uint8_t* b, size_t tcp_hdr_len) {
  return std::memcmp(a + 8, b + 8, 5) == 0 &&
         (a[13] & ~kTcpPsh) == (b[13] & ~kTcpPsh) &&
         std::memcmp(a + 14, b + 14, 2) == 0 &&
         std::memcmp(a + 18, b + 18, 2) == 0 &&
         std::memcmp(a + 20, b + 20, tcp_hdr_len - kTcpMinHeaderLen) == 0;
}

}  // namespace

GroCoalescer::GroCoalescer(GroOptions opts) : opts_(opts) {}

void GroCoalescer::plan(const GroPacket* pkts, size_t n, GroPlan* out) {
  out->writes.clear();
  out->members.clear();
  out->stats = GroStats{};
  out->stats.packets = static_cast<uint32_t>(n);
  if (out->writes.capacity() < n) out->writes.reserve(n);
  if (out->members.capacity() < n) out->members.reserve(n);
  if (next_.size() < n) next_.resize(n);
  for (Flow& f : flows_) f.open = false;

  const uint32_t max_total = opts_.max_total_len < 65535 ? opts_.max_total_len : 65535;
  const uint32_t max_segs = opts_.max_segments;

  auto single = [&](uint32_t i) {
    GroWrite w;
    w.packet = i;
    w.total_len = pkts[i].len;
    out->writes.push_back(w);
  };

  for (uint32_t i = 0; i < n; i++) {
    next_[i] = kNone;
    const uint8_t* p = pkts[i].data;
    const uint32_t len = pkts[i].len;
    PacketInfo pi;
    const ParseError e = (p && len) ? parse_packet(p, len, &pi) : ParseError::truncated;
    if (e != ParseError::ok) {
      // No ports (fragment, IPv6 extension headers, other protocol, malformed L4): we cannot
      // tell which flow it belongs to, so close every group between these addresses to keep
      // any flow it might belong to in order.
      if (pi.ip.version != 0) {
        for (Flow& f : flows_) {
          if (f.open && f.version == pi.ip.version &&
              std::memcmp(f.src, p + pi.ip.src_offset, pi.ip.addr_len) == 0 &&
              std::memcmp(f.dst, p + pi.ip.dst_offset, pi.ip.addr_len) == 0) {
            f.open = false;
          }
        }
      }
      single(i);
      continue;
    }

    const bool tcp = pi.l4_protocol == kIpProtoTcp;
    const uint16_t sport = tcp ? pi.tcp.src_port : pi.udp.src_port;
    const uint16_t dport = tcp ? pi.tcp.dst_port : pi.udp.dst_port;
    const uint8_t* src = p + pi.ip.src_offset;
    const uint8_t* dst = p + pi.ip.dst_offset;

    Flow* flow = nullptr;
    for (Flow& f : flows_) {
      if (f.open && f.version == pi.ip.version && f.proto == pi.l4_protocol && f.sport == sport &&
          f.dport == dport && std::memcmp(f.src, src, pi.ip.addr_len) == 0 &&
          std::memcmp(f.dst, dst, pi.ip.addr_len) == 0) {
        flow = &f;
        break;
      }
    }

    // Can this packet be part of a superpacket at all?
    bool can = pi.ip.total_len == len && pi.payload_len > 0 && !pi.ip.has_options &&
               !pi.ip.fragment && len <= max_total && max_segs >= 2;
    if (tcp) {
      can = can && opts_.tcp && (pi.tcp.flags & ~kTcpPsh) == kTcpAck &&
            (p[pi.l4_offset + 12] & 0x0f) == 0;  // no reserved / AE(NS) bits
    } else {
      can = can && opts_.udp && pi.udp.length == pi.ip.total_len - pi.ip.header_len;
    }

    if (flow && can) {
      Flow& f = *flow;
      const uint8_t* head = pkts[f.head].data;
      const bool fits = f.count < max_segs && f.total + pi.payload_len <= max_total &&
                        pi.payload_len <= f.gso_size && pi.payload_offset == f.hdr_len &&
                        ip_fields_equal(head, p, pi.ip.version) &&
                        (!tcp || (pi.tcp.seq == f.next_seq &&
                                  tcp_fields_equal(head + f.l4_offset, p + pi.l4_offset,
                                                   pi.l4_header_len)));
      if (fits) {
        next_[f.tail] = i;
        f.tail = i;
        f.count++;
        f.total += pi.payload_len;
        f.next_seq += pi.payload_len;
        f.last_used = i;
        GroWrite& w = out->writes[f.write];
        w.members_count++;
        w.total_len = f.total;
        // A shorter segment must be the last; PSH ends a burst; the cap ends the group.
        if (pi.payload_len < f.gso_size || (tcp && (pi.tcp.flags & kTcpPsh)) ||
            f.count >= max_segs) {
          f.open = false;
        }
        continue;
      }
    }
    if (flow) flow->open = false;  // the next packet of the flow did not fit: close

    if (!can || (tcp && (pi.tcp.flags & kTcpPsh))) {  // a PSH head would end its group at once
      single(i);
      continue;
    }

    // Open a group headed by this packet, evicting the least recently used one if needed
    // (evicting only stops it from growing; its write stays where it is).
    Flow* slot = nullptr;
    for (Flow& f : flows_) {
      if (!f.open) {
        slot = &f;
        break;
      }
      if (!slot || f.last_used < slot->last_used) slot = &f;
    }
    Flow& f = *slot;
    f = Flow{};
    f.open = true;
    f.version = pi.ip.version;
    f.proto = pi.l4_protocol;
    std::memcpy(f.src, src, pi.ip.addr_len);
    std::memcpy(f.dst, dst, pi.ip.addr_len);
    f.sport = sport;
    f.dport = dport;
    f.write = static_cast<uint32_t>(out->writes.size());
    f.head = f.tail = f.last_used = i;
    f.next_seq = tcp ? pi.tcp.seq + pi.payload_len : 0;
    f.count = 1;
    f.total = len;
    f.gso_size = static_cast<uint16_t>(pi.payload_len);
    f.hdr_len = static_cast<uint16_t>(pi.payload_offset);
    f.l4_offset = pi.l4_offset;
    single(i);
  }

  // Lay the members out contiguously per write and patch the heads. The heads' bytes were
  // only read during planning, so modifying them now cannot change any decision above.
  for (GroWrite& w : out->writes) {
    if (w.members_count == 0) continue;
    uint8_t* p = pkts[w.packet].data;
    PacketInfo pi;
    parse_packet(p, pkts[w.packet].len, &pi);  // succeeded during planning; bytes unchanged
    const bool tcp = pi.l4_protocol == kIpProtoTcp;
    const uint32_t hdr_len = pi.payload_offset;

    w.members_begin = static_cast<uint32_t>(out->members.size());
    uint32_t last = w.packet;
    for (uint32_t m = next_[w.packet]; m != kNone; m = next_[m]) {
      GroMember gm;
      gm.packet = m;
      gm.offset = hdr_len;
      gm.length = pkts[m].len - hdr_len;
      out->members.push_back(gm);
      last = m;
    }

    const uint32_t ihl = pi.ip.header_len;
    const uint32_t l4_len = w.total_len - ihl;
    if (pi.ip.version == 4) {
      store_be16(p + 2, static_cast<uint16_t>(w.total_len));
      store_be16(p + 10, 0);
      store_be16(p + 10, internet_checksum(p, ihl));
    } else {
      store_be16(p + 4, static_cast<uint16_t>(w.total_len - kIpv6HeaderLen));
    }
    uint8_t* l4 = p + ihl;
    if (tcp) {
      if (pkts[last].data[pi.l4_offset + 13] & kTcpPsh) l4[13] |= kTcpPsh;
    } else {
      store_be16(l4 + 4, static_cast<uint16_t>(l4_len));
    }
    // CHECKSUM_PARTIAL convention: the field holds the folded pseudo-header sum, not
    // complemented; the kernel adds the L4 bytes from csum_start and complements.
    const uint16_t pseudo =
        pi.ip.version == 4
            ? pseudo_header_sum_v4(p + pi.ip.src_offset, p + pi.ip.dst_offset, pi.l4_protocol, l4_len)
            : pseudo_header_sum_v6(p + pi.ip.src_offset, p + pi.ip.dst_offset, pi.l4_protocol, l4_len);
    const uint16_t csum_offset = tcp ? kTcpChecksumOffset : kUdpChecksumOffset;
    store_be16(l4 + csum_offset, pseudo);

    w.hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    w.hdr.gso_type = !tcp ? VIRTIO_NET_HDR_GSO_UDP_L4
                          : (pi.ip.version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6);
    w.hdr.hdr_len = static_cast<uint16_t>(hdr_len);
    w.hdr.gso_size = static_cast<uint16_t>(pi.payload_len);
    w.hdr.csum_start = static_cast<uint16_t>(ihl);
    w.hdr.csum_offset = csum_offset;
    out->stats.groups++;
    out->stats.coalesced += w.members_count + 1;
  }
  out->stats.writes = static_cast<uint32_t>(out->writes.size());
}

}  // namespace tunio
