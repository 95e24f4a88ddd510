#include "gro_coalesce.h"

#include <cstring>

#include "native_load.h"

#include "checksum.h"
#include "ip_headers.h"

namespace tunio {

// The per-packet checks below run for every packet a TUN write plans (the receiving end's
// hottest user-space code, docs/performance.md): GCC at -O2 left them as calls (bytes_equal
// three times per TCP packet, check_joins and check_coalescable once each), which with their
// argument set-up were 6% (TCP) to 18% (UDP) of plan()'s instructions. Inlined by force
// (TUNIO_ALWAYS_INLINE, ip_headers.h), as is parse_packet.

namespace {

constexpr uint32_t kNone = 0xffffffffu;

constexpr const char* kRefusalNames[] = {
    "noPorts",          "lengthMismatch",     "noPayload",         "ipOptions",
    "tooLong",          "segmentLimit",       "offloadOff",
    "tcpFlags",         "tcpReservedBits",    "udpLengthMismatch", "pshOnHead",
    "groupFull",        "groupTooLong",       "largerThanSegment", "headerLengthDiffers",
    "ipFieldsDiffer",   "seqNotAdjacent",     "tcpFieldsDiffer",
};
static_assert(sizeof(kRefusalNames) / sizeof(kRefusalNames[0]) == kGroRefusalCount,
              "one name per GroRefusal, in enum order");

// The rules below follow the kernel's own GRO, so that a superpacket we hand to the TUN is
// one its stack could have built (Linux 6.1): inet_gro_receive() in net/ipv4/af_inet.c and
// ipv6_gro_receive() in net/ipv6/ip6_offload.c for the IP fields, tcp_gro_receive() in
// net/ipv4/tcp_offload.c for TCP, udp_gro_receive_segment() in net/ipv4/udp_offload.c for UDP.
// Each check returns the reason it refuses, or kPass (GroRefusal::kCount) when it passes.
constexpr GroRefusal kPass = GroRefusal::kCount;

// Rules a packet must pass to be part of any superpacket (as head or member).

// Coalescing reads the IP total length as the packet's extent: trailing bytes would be lost.
GroRefusal check_length_consistent(const PacketInfo& pi, uint32_t len) {
  return pi.ip.total_len == len ? kPass : GroRefusal::kLengthMismatch;
}
// A segment without payload (a pure ACK) carries nothing to append; tcp_gro_receive() flushes on it.
GroRefusal check_has_payload(const PacketInfo& pi) {
  return pi.payload_len > 0 ? kPass : GroRefusal::kNoPayload;
}
// inet_gro_receive() only merges 20-byte IPv4 headers (ihl == 5). Fragments never get here:
// parse_packet() refuses them (kNoPorts), as inet_gro_receive() flushes on MF or an offset.
GroRefusal check_plain_ip(const PacketInfo& pi) {
  return pi.ip.has_options ? GroRefusal::kIpOptions : kPass;
}
// One coalesced write is one IP packet: 65535 bytes at most (and the TUN's own cap).
GroRefusal check_fits_alone(uint32_t len, uint32_t max_total, uint32_t max_segs) {
  if (len > max_total) return GroRefusal::kTooLong;
  return max_segs >= 2 ? kPass : GroRefusal::kSegmentLimit;
}
// tcp_gro_receive() flushes on any flag beyond ACK/PSH (and TCP_FLAG_CWR); URG would need
// the urgent pointer per segment. Reserved bits (and AE) are not reproduced by segmentation.
GroRefusal check_tcp_head(const uint8_t* tcp, const PacketInfo& pi) {
  if ((pi.tcp.flags & ~TH_PUSH) != TH_ACK) return GroRefusal::kTcpFlags;
  return (tcp[12] & 0x0f) == 0 ? kPass : GroRefusal::kTcpReservedBits;
}
// udp_gro_receive_segment() takes the UDP length as the datagram's: it must match the IP's.
GroRefusal check_udp_head(const PacketInfo& pi) {
  return pi.udp.length == pi.ip.total_len - pi.ip.header_len ? kPass : GroRefusal::kUdpLengthMismatch;
}

// IP fields every member must share with the head so that the superpacket, and the
// segments the kernel (or gso_split) cuts from it, carry the same values.
// IPv4 (inet_gro_receive): TOS incl. ECN, TTL, and the reserved/DF/MF bits.
// IPv6 (ipv6_gro_receive): version, traffic class, flow label; hop limit.
TUNIO_ALWAYS_INLINE bool ip_fields_equal(const uint8_t* a, const uint8_t* b, uint8_t version) {
  if (version == 4) {
    return a[1] == b[1] && a[8] == b[8] && (a[6] & 0xe0) == (b[6] & 0xe0);
  }
  return std::memcmp(a, b, 4) == 0 && a[7] == b[7];
}

// Header bytes compared as whole words (load64/32/16 from native_load.h): a memcmp of a
// length the compiler does not know, or of an odd one (the 5 bytes of ACK number and data
// offset), is a libc call.
// `n` bytes equal, n a multiple of 4 (TCP options: the data offset counts 32-bit words). The
// options of nearly every segment are 12 bytes (NOP, NOP, timestamps): compared straight.
TUNIO_ALWAYS_INLINE bool words_equal(const uint8_t* a, const uint8_t* b, size_t n) {
  if (n == 12) return ((load64(a) ^ load64(b)) | (load32(a + 8) ^ load32(b + 8))) == 0;
  uint64_t diff = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) diff |= load64(a + i) ^ load64(b + i);
  if (i < n) diff |= load32(a + i) ^ load32(b + i);
  return diff == 0;
}

// TCP header bytes that must match (tcp_gro_receive): ACK number, data offset/reserved bits,
// flags except PSH, window, urgent pointer, options. Ports are part of the flow key, seq is
// checked for adjacency, the checksum is per segment. Bytes 8..15 are one word, PSH masked.
TUNIO_ALWAYS_INLINE bool tcp_fields_equal(const uint8_t* a, const uint8_t* b, size_t tcp_hdr_len) {
  static constexpr uint8_t kMaskBytes[8] = {0xff, 0xff, 0xff, 0xff, 0xff,
                                            static_cast<uint8_t>(~TH_PUSH), 0xff, 0xff};
  static_assert(kTcpFlagsOffset == 8 + 5, "the flags byte is the 6th of the word at offset 8");
  const uint64_t mask = load64(kMaskBytes);
  return ((load64(a + 8) ^ load64(b + 8)) & mask) == 0 &&
         load16(a + 18) == load16(b + 18) &&
         words_equal(a + kTcpMinHeaderLen, b + kTcpMinHeaderLen, tcp_hdr_len - kTcpMinHeaderLen);
}

// What identifies a packet's flow besides its addresses, with kOpen set: a Flow's key when its
// group is open (0 when closed, which no packet's key is).
constexpr uint64_t kOpen = uint64_t{1} << 63;
TUNIO_ALWAYS_INLINE uint64_t flow_key(uint8_t version, uint8_t proto, const uint8_t* l4) {
  return kOpen | uint64_t{version} << 40 | uint64_t{proto} << 32 | load32(l4);
}
TUNIO_ALWAYS_INLINE uint8_t key_version(uint64_t key) { return static_cast<uint8_t>(key >> 40); }

// Source and destination address, adjacent in both headers (IPv4 12..19, IPv6 8..39).
TUNIO_ALWAYS_INLINE bool addrs_equal(const uint64_t* f, const uint8_t* a, uint8_t version) {
  if (version == 4) return f[0] == load64(a);
  return ((f[0] ^ load64(a)) | (f[1] ^ load64(a + 8)) | (f[2] ^ load64(a + 16)) |
          (f[3] ^ load64(a + 24))) == 0;
}

}  // namespace

const char* gro_refusal_name(GroRefusal r) {
  const size_t i = static_cast<size_t>(r);
  return i < kGroRefusalCount ? kRefusalNames[i] : "unknown";
}

GroCoalescer::GroCoalescer(GroOptions opts) : opts_(opts) {}

// Rules a packet must pass to head a group or join one at all (first failing rule wins).
TUNIO_ALWAYS_INLINE GroRefusal GroCoalescer::check_coalescable(const GroOptions& o, const uint8_t* p, uint32_t len,
                                                               const PacketInfo& pi, uint32_t max_total) {
  GroRefusal r;
  if ((r = check_length_consistent(pi, len)) != kPass) return r;
  if ((r = check_has_payload(pi)) != kPass) return r;
  if ((r = check_plain_ip(pi)) != kPass) return r;
  if ((r = check_fits_alone(len, max_total, o.max_segments)) != kPass) return r;
  if (pi.l4_protocol == IPPROTO_TCP) {
    if (!o.tcp) return GroRefusal::kOffloadOff;
    return check_tcp_head(p + pi.l4_offset, pi);
  }
  if (!o.udp) return GroRefusal::kOffloadOff;
  return check_udp_head(pi);
}

// Rules a coalescable packet must pass to join its flow's open group.
TUNIO_ALWAYS_INLINE GroRefusal GroCoalescer::check_joins(const GroOptions& o, const Flow& f, const uint8_t* head,
                                                         const uint8_t* p, const PacketInfo& pi, uint32_t max_total) {
  // The group's segment count and byte cap (UDP_MAX_SEGMENTS / 65535 for one IP packet).
  if (f.count >= o.max_segments) return GroRefusal::kGroupFull;
  if (f.total + pi.payload_len > max_total) return GroRefusal::kGroupTooLong;
  // Segmentation cuts gso_size bytes per segment: only the last member may be shorter.
  if (pi.payload_len > f.gso_size) return GroRefusal::kLargerThanSegment;
  // One hdr_len in the virtio header describes every segment's headers.
  if (pi.payload_offset != f.hdr_len) return GroRefusal::kHeaderLengthDiffers;
  if (!ip_fields_equal(head, p, pi.ip.version)) return GroRefusal::kIpFieldsDiffer;
  if (pi.l4_protocol != IPPROTO_TCP) return kPass;
  // tcp_gro_receive() appends only the segment that starts where the group ends.
  if (pi.tcp.seq != f.next_seq) return GroRefusal::kSeqNotAdjacent;
  return tcp_fields_equal(head + f.l4_offset, p + pi.l4_offset, pi.l4_header_len)
             ? kPass
             : GroRefusal::kTcpFieldsDiffer;
}

// The open group of the flow with this key and these addresses, or null. A flow has at most
// one open group (opening one closes the flow's previous group), so trying the slot the last
// packet used first finds what the scan in slot order would.
TUNIO_ALWAYS_INLINE GroCoalescer::Flow* GroCoalescer::find_flow(uint64_t key, const uint8_t* addrs) {
  const uint8_t version = key_version(key);
  Flow& hinted = flows_[hint_];
  if (hinted.key == key && addrs_equal(hinted.addrs, addrs, version)) return &hinted;
  for (uint32_t k = 0; k < kFlowTableSize; k++) {
    Flow& f = flows_[k];
    if (f.key == key && addrs_equal(f.addrs, addrs, version)) {
      hint_ = k;
      return &f;
    }
  }
  return nullptr;
}

void GroCoalescer::plan(const GroPacket* pkts, size_t n, GroPlan* out) {
  out->writes.clear();
  out->members.clear();
  out->stats = GroStats{};
  out->stats.packets = static_cast<uint32_t>(n);
  if (out->writes.capacity() < n) out->writes.reserve(n);
  if (out->members.capacity() < n) out->members.reserve(n);
  if (next_.size() < n) next_.resize(n);
  if (heads_.size() < n) heads_.resize(n);
  for (Flow& f : flows_) f.key = 0;

  // The options as a local: the plan's stores (next_, the flows, the stats) could alias
  // opts_, so the checks would load its fields again for every packet.
  const GroOptions o = opts_;
  const uint32_t max_total = o.max_total_len < 65535 ? o.max_total_len : 65535;
  const uint32_t max_segs = o.max_segments;

  auto single = [&](uint32_t i) {
    GroWrite w;
    w.packet = i;
    w.total_len = pkts[i].len;
    out->writes.push_back(w);
  };
  auto refuse = [&](GroRefusal r) { out->stats.refused[static_cast<size_t>(r)]++; };

  for (uint32_t i = 0; i < n; i++) {
    next_[i] = kNone;
    const uint8_t* p = pkts[i].data;
    const uint32_t len = pkts[i].len;
    PacketInfo pi;
    ParseError e = ParseError::truncated;
    if (p && len) {
      e = parse_packet(p, len, &pi);
    } else {
      pi.ip.version = 0;
    }
    if (e != ParseError::ok) {
      // No ports (fragment, IPv6 extension headers, other protocol, malformed L4): we cannot
      // tell which flow it belongs to, so close every group between these addresses to keep
      // any flow it might belong to in order. (parse_packet set the IP header's facts unless
      // it refused the IP header itself: then version is 0.)
      if (pi.ip.version != 0) {
        const uint8_t* addrs = p + pi.ip.src_offset;
        for (Flow& f : flows_) {
          if (f.open() && key_version(f.key) == pi.ip.version &&
              addrs_equal(f.addrs, addrs, pi.ip.version)) {
            f.key = 0;
          }
        }
      }
      refuse(GroRefusal::kNoPorts);
      single(i);
      continue;
    }

    const bool tcp = pi.l4_protocol == IPPROTO_TCP;
    const uint64_t key = flow_key(pi.ip.version, pi.l4_protocol, p + pi.l4_offset);
    const uint8_t* addrs = p + pi.ip.src_offset;
    Flow* flow = find_flow(key, addrs);

    const GroRefusal not_coalescable = check_coalescable(o, p, len, pi, max_total);
    if (not_coalescable != kPass) {
      if (flow) flow->key = 0;  // written alone between members would reorder the flow
      refuse(not_coalescable);
      single(i);
      continue;
    }

    const bool psh = tcp && (pi.tcp.flags & TH_PUSH);
    if (flow) {
      Flow& f = *flow;
      const GroRefusal not_joining = check_joins(o, f, pkts[f.head].data, p, pi, max_total);
      if (not_joining == kPass) {
        next_[f.tail] = i;
        f.tail = i;
        f.count++;
        f.total += pi.payload_len;
        f.next_seq += pi.payload_len;
        f.last_used = i;
        // A shorter segment must be the last; PSH ends a burst; the cap ends the group.
        if (pi.payload_len < f.gso_size || psh || f.count >= max_segs) f.key = 0;
        continue;
      }
      f.key = 0;  // the next packet of the flow did not fit: close
      refuse(not_joining);
    } else if (psh) {
      refuse(GroRefusal::kPshOnHead);
    }

    if (psh) {  // a PSH head would end its group at once
      single(i);
      continue;
    }

    // Open a group headed by this packet, evicting the least recently used one if needed
    // (evicting only stops it from growing; its write stays where it is).
    uint32_t slot = kFlowTableSize;
    for (uint32_t k = 0; k < kFlowTableSize; k++) {
      const Flow& f = flows_[k];
      if (!f.open()) {
        slot = k;
        break;
      }
      if (slot == kFlowTableSize || f.last_used < flows_[slot].last_used) slot = k;
    }
    hint_ = slot;
    Flow& f = flows_[slot];
    f.key = key;
    f.addrs[0] = load64(addrs);
    if (pi.ip.version == 6) {
      f.addrs[1] = load64(addrs + 8);
      f.addrs[2] = load64(addrs + 16);
      f.addrs[3] = load64(addrs + 24);
    }
    f.write = static_cast<uint32_t>(out->writes.size());
    f.head = f.tail = f.last_used = i;
    f.next_seq = tcp ? pi.tcp.seq + pi.payload_len : 0;
    f.count = 1;
    f.total = len;
    f.gso_size = static_cast<uint16_t>(pi.payload_len);
    f.hdr_len = static_cast<uint16_t>(pi.payload_offset);
    f.l4_offset = pi.l4_offset;
    heads_[i] = Head{f.hdr_len, f.gso_size, static_cast<uint8_t>(pi.l4_offset), pi.ip.version,
                     pi.l4_protocol};
    single(i);
  }

  // Lay the members out contiguously per write and patch the heads. The heads' bytes were
  // only read during planning, so modifying them now cannot change any decision above; what
  // planning learned about each head (heads_) is all this needs.
  for (GroWrite& w : out->writes) {
    if (next_[w.packet] == kNone) continue;  // not coalesced (or a group nothing joined)
    uint8_t* p = pkts[w.packet].data;
    const Head& h = heads_[w.packet];
    const bool tcp = h.proto == IPPROTO_TCP;
    const uint32_t hdr_len = h.hdr_len;

    w.members_begin = static_cast<uint32_t>(out->members.size());
    uint32_t last = w.packet;
    uint32_t total = pkts[w.packet].len;
    for (uint32_t m = next_[w.packet]; m != kNone; m = next_[m]) {
      GroMember gm;
      gm.packet = m;
      gm.offset = hdr_len;
      gm.length = pkts[m].len - hdr_len;
      out->members.push_back(gm);
      total += gm.length;
      last = m;
    }
    w.members_count = static_cast<uint32_t>(out->members.size()) - w.members_begin;
    w.total_len = total;

    const uint32_t ihl = h.ihl;
    const uint32_t l4_len = total - ihl;
    const uint8_t* src = p + (h.version == 4 ? 12 : 8);  // the addresses' offsets, as parsed
    const uint8_t* dst = src + (h.version == 4 ? 4 : 16);
    if (h.version == 4) {
      store_be16(p + 2, static_cast<uint16_t>(total));
      store_be16(p + 10, 0);
      store_be16(p + 10, internet_checksum(p, ihl));
    } else {
      store_be16(p + 4, static_cast<uint16_t>(total - kIpv6HeaderLen));
    }
    uint8_t* l4 = p + ihl;
    if (tcp) {
      if (pkts[last].data[ihl + kTcpFlagsOffset] & TH_PUSH) l4[kTcpFlagsOffset] |= TH_PUSH;
    } else {
      store_be16(l4 + 4, static_cast<uint16_t>(l4_len));
    }
    // CHECKSUM_PARTIAL convention: the field holds the folded pseudo-header sum, not
    // complemented; the kernel adds the L4 bytes from csum_start and complements.
    const uint16_t pseudo = h.version == 4 ? pseudo_header_sum_v4(src, dst, h.proto, l4_len)
                                           : pseudo_header_sum_v6(src, dst, h.proto, l4_len);
    const uint16_t csum_offset = tcp ? kTcpChecksumOffset : kUdpChecksumOffset;
    store_be16(l4 + csum_offset, pseudo);

    w.hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    w.hdr.gso_type = !tcp ? VIRTIO_NET_HDR_GSO_UDP_L4
                          : (h.version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6);
    w.hdr.hdr_len = h.hdr_len;
    w.hdr.gso_size = h.gso_size;
    w.hdr.csum_start = static_cast<uint16_t>(ihl);
    w.hdr.csum_offset = csum_offset;
    out->stats.groups++;
    out->stats.coalesced += w.members_count + 1;
  }
  out->stats.writes = static_cast<uint32_t>(out->writes.size());
}

}  // namespace tunio
