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

struct IpHeaderInfo {
  uint8_t version = 0;      // 4 or 6
  uint8_t protocol = 0;     // IPv4 protocol / IPv6 next header
  uint16_t header_len = 0;  // IPv4: IHL * 4 (20..60); IPv6: 40
  uint32_t total_len = 0;   // from the header (IPv4 total length; IPv6 40 + payload length)
  uint8_t addr_len = 0;     // 4 or 16
  uint8_t src_offset = 0;   // offset of the source address in the packet
  uint8_t dst_offset = 0;
  bool has_options = false;   // IPv4 IHL > 5
  bool fragment = false;      // IPv4 MF or fragment offset != 0
  bool dont_fragment = false; // IPv4 DF
};

// Parses the IP header at p. On ok, header_len <= total_len <= len (bytes after total_len,
// if any, are not part of the IP packet; callers that rewrite packets require equality).
ParseError parse_ip(const uint8_t* p, size_t len, IpHeaderInfo* out);

struct TcpHeaderInfo {
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint16_t header_len = 0;  // data offset * 4, 20..60, <= l4_len
  uint8_t flags = 0;        // the byte at kTcpFlagsOffset: TH_FIN .. TH_CWR
};
// p points at the TCP header, l4_len = bytes of the IP payload.
ParseError parse_tcp(const uint8_t* p, size_t l4_len, TcpHeaderInfo* out);

struct UdpHeaderInfo {
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint16_t length = 0;  // the header's length field, 8..l4_len
  uint16_t checksum = 0;
};
ParseError parse_udp(const uint8_t* p, size_t l4_len, UdpHeaderInfo* out);

// IP header plus, for TCP and UDP, the L4 header, all within the IP total length.
struct PacketInfo {
  IpHeaderInfo ip;
  uint8_t l4_protocol = 0;     // IPPROTO_TCP or IPPROTO_UDP when ok
  uint16_t l4_offset = 0;      // == ip.header_len
  uint16_t l4_header_len = 0;  // TCP data offset * 4, or 8
  uint32_t payload_offset = 0; // l4_offset + l4_header_len
  uint32_t payload_len = 0;    // ip.total_len - payload_offset (for UDP: IP payload, not uh->len)
  TcpHeaderInfo tcp;
  UdpHeaderInfo udp;
};
// On any error other than the IP-level ones, out->ip is still filled in (so a caller can
// learn the addresses of a fragment or an IPv6 packet with extension headers).
ParseError parse_packet(const uint8_t* p, size_t len, PacketInfo* out);

}  // namespace tunio
