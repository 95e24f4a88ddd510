#include "ip_headers.h"

namespace tunio {

const char* parse_error_name(ParseError e) {
  switch (e) {
    case ParseError::ok: return "ok";
    case ParseError::truncated: return "truncated";
    case ParseError::bad_version: return "bad_version";
    case ParseError::bad_ihl: return "bad_ihl";
    case ParseError::bad_total_length: return "bad_total_length";
    case ParseError::fragment: return "fragment";
    case ParseError::ext_headers: return "ext_headers";
    case ParseError::not_tcp_udp: return "not_tcp_udp";
    case ParseError::l4_truncated: return "l4_truncated";
    case ParseError::bad_tcp_offset: return "bad_tcp_offset";
    case ParseError::bad_udp_length: return "bad_udp_length";
  }
  return "unknown";
}

ParseError parse_ip(const uint8_t* p, size_t len, IpHeaderInfo* out) {
  *out = IpHeaderInfo{};
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
    out->fragment = (frag & 0x2000) != 0 || (frag & 0x1fff) != 0;
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
    return ParseError::ok;
  }
  return ParseError::bad_version;
}

ParseError parse_tcp(const uint8_t* p, size_t l4_len, TcpHeaderInfo* out) {
  *out = TcpHeaderInfo{};
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

ParseError parse_udp(const uint8_t* p, size_t l4_len, UdpHeaderInfo* out) {
  *out = UdpHeaderInfo{};
  if (l4_len < kUdpHeaderLen) return ParseError::l4_truncated;
  const uint16_t length = load_be16(p + 4);
  if (length < kUdpHeaderLen || length > l4_len) return ParseError::bad_udp_length;
  out->src_port = load_be16(p);
  out->dst_port = load_be16(p + 2);
  out->length = length;
  out->checksum = load_be16(p + 6);
  return ParseError::ok;
}

ParseError parse_packet(const uint8_t* p, size_t len, PacketInfo* out) {
  *out = PacketInfo{};
  ParseError e = parse_ip(p, len, &out->ip);
  if (e != ParseError::ok) return e;
  const IpHeaderInfo& ip = out->ip;
  if (ip.version == 4 && ip.fragment) return ParseError::fragment;
  if (ip.protocol != IPPROTO_TCP && ip.protocol != IPPROTO_UDP) {
    return ip.version == 6 ? ParseError::ext_headers : ParseError::not_tcp_udp;
  }
  const uint8_t* l4 = p + ip.header_len;
  const size_t l4_len = ip.total_len - ip.header_len;  // total_len >= header_len checked
  if (ip.protocol == IPPROTO_TCP) {
    e = parse_tcp(l4, l4_len, &out->tcp);
    if (e != ParseError::ok) return e;
    out->l4_header_len = out->tcp.header_len;
  } else {
    e = parse_udp(l4, l4_len, &out->udp);
    if (e != ParseError::ok) return e;
    out->l4_header_len = kUdpHeaderLen;
  }
  out->l4_protocol = ip.protocol;
  out->l4_offset = ip.header_len;
  out->payload_offset = static_cast<uint32_t>(ip.header_len) + out->l4_header_len;
  out->payload_len = ip.total_len - out->payload_offset;
  return ParseError::ok;
}

}  // namespace tunio
