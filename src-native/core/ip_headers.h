// Bounds-checked parsers for the IPv4, IPv6, TCP and UDP headers that the GSO split and GRO
// coalescing code rewrites. Every function reads only inside [p, p + len) and reports why a
// packet was refused instead of guessing: these bytes come from the network.
//
// IPv6 extension headers are deliberately not walked: a packet whose next header is not
// directly TCP or UDP is reported as `ext_headers` and is neither split nor coalesced
// (the kernel does not hand us such superpackets and coalescing them buys nothing).
#pragma once

#include <netinet/in.h>   // IPPROTO_TCP, IPPROTO_UDP
#include <netinet/ip.h>   // struct iphdr (RFC 791)
#include <netinet/ip6.h>  // struct ip6_hdr (RFC 8200)
#include <netinet/tcp.h>  // struct tcphdr (RFC 9293), TH_FIN .. TH_URG
#include <netinet/udp.h>  // struct udphdr (RFC 768)

#include <cstddef>
#include <cstdint>

// The protocol numbers, header layouts and TCP flag bits are the C library's (the kernel's UAPI
// headers carry the same); the code below names only what they do not. glibc's list of TCP
// flags stops at TH_URG: ECN-Echo and Congestion Window Reduced, the flags byte's two high bits
// (RFC 3168 6.1 and 23.2), here under the names FreeBSD's and macOS's <netinet/tcp.h> give them.
#ifndef TH_ECE
#define TH_ECE 0x40
#endif
#ifndef TH_CWR
#define TH_CWR 0x80
#endif

namespace tunio {

// The fixed part of each header (IPv4 and TCP options follow it) and the fields the split and
// coalescing code rewrites, as offsets into their header.
constexpr size_t kIpv4MinHeaderLen = sizeof(struct iphdr);
constexpr size_t kIpv6HeaderLen = sizeof(struct ip6_hdr);
constexpr size_t kTcpMinHeaderLen = sizeof(struct tcphdr);
constexpr size_t kUdpHeaderLen = sizeof(struct udphdr);
constexpr size_t kTcpFlagsOffset = offsetof(struct tcphdr, th_flags);
constexpr size_t kTcpChecksumOffset = offsetof(struct tcphdr, check);
constexpr size_t kUdpChecksumOffset = offsetof(struct udphdr, check);

inline uint16_t load_be16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
inline uint32_t load_be32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void store_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

enum class ParseError : uint8_t {
  ok = 0,
  truncated,         // shorter than the fixed IP header (or empty)
  bad_version,       // version nibble is neither 4 nor 6
  bad_ihl,           // IPv4 IHL < 5 or the options run past the buffer
  bad_total_length,  // IPv4 total length < header length or > buffer; IPv6 40 + payload > buffer
  fragment,          // IPv4 MF set or fragment offset != 0: no complete L4 header/payload
  ext_headers,       // IPv6 next header is not directly TCP or UDP
  not_tcp_udp,       // IPv4 protocol is neither TCP nor UDP
  l4_truncated,      // fewer L4 bytes than the fixed TCP/UDP header
  bad_tcp_offset,    // TCP data offset < 5 or past the end of the IP payload
  bad_udp_length,    // UDP length < 8 or larger than the IP payload
};
const char* parse_error_name(ParseError e);

// Inlined by force where a function runs for every packet (the parsers below, the coalescer's
// checks): GCC at -O2 keeps such helpers as calls, whose argument set-up and result structs
// cost more than their few comparisons (docs/performance.md, "The receiving end's parse").
#ifndef TUNIO_ALWAYS_INLINE
#define TUNIO_ALWAYS_INLINE inline __attribute__((always_inline))
#endif

struct IpHeaderInfo {
  uint8_t version = 0;      // 4 or 6
  uint8_t protocol = 0;     // IPv4 protocol / IPv6 next header
  uint16_t header_len = 0;  // IPv4: IHL * 4 (20..60); IPv6: 40
  uint32_t total_len = 0;   // from the header (IPv4 total length; IPv6 40 + payload length)
  uint8_t addr_len = 0;     // 4 or 16
  uint8_t src_offset = 0;   // offset of the source address in the packet
  uint8_t dst_offset = 0;
  bool has_options = false;    // IPv4 IHL > 5
  bool fragment = false;       // IPv4 MF or fragment offset != 0
  bool dont_fragment = false;  // IPv4 DF
};

// Parses the IP header at p. On ok, header_len <= total_len <= len (bytes after total_len,
// if any, are not part of the IP packet; callers that rewrite packets require equality).
// On an error *out is all zero.
ParseError parse_ip(const uint8_t* p, size_t len, IpHeaderInfo* out);

struct TcpHeaderInfo {
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint16_t header_len = 0;  // data offset * 4, 20..60, <= l4_len
  uint8_t flags = 0;        // the byte at kTcpFlagsOffset: TH_FIN .. TH_CWR
};
// p points at the TCP header, l4_len = bytes of the IP payload. On an error *out is all zero.
ParseError parse_tcp(const uint8_t* p, size_t l4_len, TcpHeaderInfo* out);

struct UdpHeaderInfo {
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint16_t length = 0;  // the header's length field, 8..l4_len
  uint16_t checksum = 0;
};
// On an error *out is all zero.
ParseError parse_udp(const uint8_t* p, size_t l4_len, UdpHeaderInfo* out);

// IP header plus, for TCP and UDP, the L4 header, all within the IP total length.
struct PacketInfo {
  IpHeaderInfo ip;
  uint8_t l4_protocol = 0;      // IPPROTO_TCP or IPPROTO_UDP when ok
  uint16_t l4_offset = 0;       // == ip.header_len
  uint16_t l4_header_len = 0;   // TCP data offset * 4, or 8
  uint32_t payload_offset = 0;  // l4_offset + l4_header_len
  uint32_t payload_len = 0;     // ip.total_len - payload_offset (for UDP: IP payload, not uh->len)
  TcpHeaderInfo tcp;            // all zero unless l4_protocol is IPPROTO_TCP
  UdpHeaderInfo udp;            // all zero unless l4_protocol is IPPROTO_UDP
};

namespace ip_detail {

// One layer each, setting every field of *out on ok and nothing on an error. parse_ip/_tcp/_udp
// (ip_headers.cc) are these with a clear on an error; parse_packet is them inlined into one
// pass.
TUNIO_ALWAYS_INLINE ParseError read_ip(const uint8_t* p, size_t len, IpHeaderInfo* out) {
  if (len < 1) return ParseError::truncated;
  const uint8_t version = p[0] >> 4;
  if (version == 4) {
    if (len < kIpv4MinHeaderLen) return ParseError::truncated;
    const size_t ihl = static_cast<size_t>(p[0] & 0x0f) * 4;
    if (ihl < kIpv4MinHeaderLen || ihl > len) return ParseError::bad_ihl;
    const size_t total = load_be16(p + 2);
    if (total < ihl || total > len) return ParseError::bad_total_length;
    const uint16_t frag = load_be16(p + 6);
    out->version = 4;
    out->protocol = p[9];
    out->header_len = static_cast<uint16_t>(ihl);
    out->total_len = static_cast<uint32_t>(total);
    out->addr_len = 4;
    out->src_offset = 12;
    out->dst_offset = 16;
    out->has_options = ihl > kIpv4MinHeaderLen;
    out->fragment = (frag & 0x3fff) != 0;  // MF (0x2000) or a fragment offset (0x1fff)
    out->dont_fragment = (frag & 0x4000) != 0;
    return ParseError::ok;
  }
  if (version == 6) {
    if (len < kIpv6HeaderLen) return ParseError::truncated;
    const size_t total = kIpv6HeaderLen + load_be16(p + 4);
    // A payload length of 0 with a jumbo hop-by-hop option is not supported: total is then
    // 40, which never matches a packet that carries data, and callers refuse the mismatch.
    if (total > len) return ParseError::bad_total_length;
    out->version = 6;
    out->protocol = p[6];
    out->header_len = kIpv6HeaderLen;
    out->total_len = static_cast<uint32_t>(total);
    out->addr_len = 16;
    out->src_offset = 8;
    out->dst_offset = 24;
    out->has_options = false;
    out->fragment = false;
    out->dont_fragment = false;
    return ParseError::ok;
  }
  return ParseError::bad_version;
}

TUNIO_ALWAYS_INLINE ParseError read_tcp(const uint8_t* p, size_t l4_len, TcpHeaderInfo* out) {
  if (l4_len < kTcpMinHeaderLen) return ParseError::l4_truncated;
  const size_t doff = static_cast<size_t>(p[12] >> 4) * 4;
  if (doff < kTcpMinHeaderLen || doff > l4_len) return ParseError::bad_tcp_offset;
  out->src_port = load_be16(p);
  out->dst_port = load_be16(p + 2);
  out->seq = load_be32(p + 4);
  out->ack = load_be32(p + 8);
  out->header_len = static_cast<uint16_t>(doff);
  out->flags = p[kTcpFlagsOffset];
  return ParseError::ok;
}

TUNIO_ALWAYS_INLINE ParseError read_udp(const uint8_t* p, size_t l4_len, UdpHeaderInfo* out) {
  if (l4_len < kUdpHeaderLen) return ParseError::l4_truncated;
  const uint16_t length = load_be16(p + 4);
  if (length < kUdpHeaderLen || length > l4_len) return ParseError::bad_udp_length;
  out->src_port = load_be16(p);
  out->dst_port = load_be16(p + 2);
  out->length = length;
  out->checksum = load_be16(p + 6);
  return ParseError::ok;
}

}  // namespace ip_detail

// One pass over the IP and the TCP/UDP header, inlined into its caller (the GRO coalescer runs
// it on every packet it plans). The result is what clearing *out and then filling it would
// give, without the clear: every path stores each field once. On ok every field is set (the
// other protocol's header struct zero); on an L4-level error (fragment .. bad_udp_length) only
// out->ip, so a caller can learn the addresses of a fragment or an IPv6 packet with extension
// headers; on an IP-level error (truncated .. bad_total_length) nothing (all zero).
TUNIO_ALWAYS_INLINE ParseError parse_packet(const uint8_t* p, size_t len, PacketInfo* out) {
  IpHeaderInfo& ip = out->ip;
  ParseError e = ip_detail::read_ip(p, len, &ip);
  if (e != ParseError::ok) {
    *out = PacketInfo{};  // refused (rare): nothing learned
    return e;
  }
  const uint8_t* l4 = p + ip.header_len;
  const size_t l4_len = ip.total_len - ip.header_len;  // total_len >= header_len checked
  uint16_t l4_header_len = 0;
  if (ip.fragment) {  // only IPv4 sets it
    e = ParseError::fragment;
  } else if (ip.protocol == IPPROTO_TCP) {
    e = ip_detail::read_tcp(l4, l4_len, &out->tcp);
    l4_header_len = out->tcp.header_len;
    out->udp = UdpHeaderInfo{};
  } else if (ip.protocol == IPPROTO_UDP) {
    e = ip_detail::read_udp(l4, l4_len, &out->udp);
    l4_header_len = kUdpHeaderLen;
    out->tcp = TcpHeaderInfo{};
  } else {
    e = ip.version == 6 ? ParseError::ext_headers : ParseError::not_tcp_udp;
  }
  if (e != ParseError::ok) {  // refused at L4 (rare): the IP header's facts stay
    const IpHeaderInfo kept = ip;
    *out = PacketInfo{};
    out->ip = kept;
    return e;
  }
  out->l4_protocol = ip.protocol;
  out->l4_offset = ip.header_len;
  out->l4_header_len = l4_header_len;
  out->payload_offset = static_cast<uint32_t>(ip.header_len) + l4_header_len;
  out->payload_len = ip.total_len - out->payload_offset;
  return ParseError::ok;
}

}  // namespace tunio
