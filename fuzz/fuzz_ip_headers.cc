// libFuzzer target for the IP/TCP/UDP header parsers. Properties:
//   - nothing is read outside the buffer (ASan; libFuzzer hands an exactly-sized copy);
//   - the verdict equals an independent reference classifier written from the RFCs (IPv4
//     RFC 791, IPv6 RFC 8200, TCP RFC 9293, UDP RFC 768) with the project's documented
//     refusals (fragments, IPv6 extension headers), error for error;
//   - on ok, every reported field equals the bytes it comes from and every length lies inside
//     the buffer (header_len <= total_len <= size, payload_offset + payload_len == total_len);
//   - the single-layer parsers at every offset agree with the same reference.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz_util.h"
#include "ip_headers.h"

using namespace tunio;

namespace {

// Reference: TCP header at p with n bytes of IP payload.
ParseError ref_tcp(const uint8_t* p, size_t n) {
  if (n < 20) return ParseError::l4_truncated;
  const size_t doff = (p[12] >> 4) * 4u;
  if (doff < 20 || doff > n) return ParseError::bad_tcp_offset;
  return ParseError::ok;
}

ParseError ref_udp(const uint8_t* p, size_t n) {
  if (n < 8) return ParseError::l4_truncated;
  const size_t ulen = tb::be16(p + 4);
  if (ulen < 8 || ulen > n) return ParseError::bad_udp_length;
  return ParseError::ok;
}

// Reference for the IP layer alone; fills header length and total length on ok.
ParseError ref_ip(const uint8_t* p, size_t n, size_t* hlen, size_t* total) {
  if (n == 0) return ParseError::truncated;
  switch (p[0] >> 4) {
    case 4:
      if (n < 20) return ParseError::truncated;
      *hlen = (p[0] & 15) * 4u;
      if (*hlen < 20 || *hlen > n) return ParseError::bad_ihl;
      *total = tb::be16(p + 2);
      if (*total < *hlen || *total > n) return ParseError::bad_total_length;
      return ParseError::ok;
    case 6:
      if (n < 40) return ParseError::truncated;
      *hlen = 40;
      *total = 40u + tb::be16(p + 4);
      if (*total > n) return ParseError::bad_total_length;
      return ParseError::ok;
    default:
      return ParseError::bad_version;
  }
}

ParseError ref_packet(const uint8_t* p, size_t n) {
  size_t hlen = 0, total = 0;
  const ParseError e = ref_ip(p, n, &hlen, &total);
  if (e != ParseError::ok) return e;
  const bool v4 = (p[0] >> 4) == 4;
  if (v4 && (tb::be16(p + 6) & 0x3fff) != 0) return ParseError::fragment;  // MF or offset
  const uint8_t proto = v4 ? p[9] : p[6];
  if (proto == 6) return ref_tcp(p + hlen, total - hlen);
  if (proto == 17) return ref_udp(p + hlen, total - hlen);
  return v4 ? ParseError::not_tcp_udp : ParseError::ext_headers;
}

void check_ip_fields(const uint8_t* p, size_t n, const IpHeaderInfo& ip) {
  size_t hlen = 0, total = 0;
  fz::require(ref_ip(p, n, &hlen, &total) == ParseError::ok);
  fz::require(ip.header_len == hlen && ip.total_len == total && total <= n);
  if ((p[0] >> 4) == 4) {
    fz::require(ip.version == 4 && ip.protocol == p[9] && ip.addr_len == 4);
    fz::require(ip.src_offset == 12 && ip.dst_offset == 16);
    fz::require(ip.has_options == (hlen > 20));
    const uint16_t frag = tb::be16(p + 6);
    fz::require(ip.fragment == ((frag & 0x3fff) != 0));
    fz::require(ip.dont_fragment == ((frag & 0x4000) != 0));
  } else {
    fz::require(ip.version == 6 && ip.protocol == p[6] && ip.addr_len == 16);
    fz::require(ip.src_offset == 8 && ip.dst_offset == 24);
  }
}

void check_tcp_fields(const uint8_t* p, size_t n, const TcpHeaderInfo& t) {
  fz::require(t.src_port == tb::be16(p) && t.dst_port == tb::be16(p + 2));
  fz::require(t.seq == tb::be32(p + 4) && t.ack == tb::be32(p + 8));
  fz::require(t.header_len == (p[12] >> 4) * 4u && t.header_len <= n && t.flags == p[13]);
}

void check_udp_fields(const uint8_t* p, size_t n, const UdpHeaderInfo& u) {
  fz::require(u.src_port == tb::be16(p) && u.dst_port == tb::be16(p + 2));
  fz::require(u.length == tb::be16(p + 4) && u.length >= 8 && u.length <= n);
  fz::require(u.checksum == tb::be16(p + 6));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  PacketInfo pi;
  const ParseError e = parse_packet(data, size, &pi);
  fz::require(parse_error_name(e) != nullptr);
  fz::require(e == ref_packet(data, size));
  size_t hlen = 0, total = 0;
  if (ref_ip(data, size, &hlen, &total) == ParseError::ok) {
    check_ip_fields(data, size, pi.ip);  // filled in also when L4 parsing failed
  } else {
    fz::require(pi.ip.version == 0);
  }
  if (e == ParseError::ok) {
    fz::require(pi.l4_protocol == pi.ip.protocol);
    fz::require(pi.l4_offset == pi.ip.header_len);
    fz::require(pi.payload_offset == pi.l4_offset + pi.l4_header_len);
    fz::require(pi.payload_offset + pi.payload_len == pi.ip.total_len);
    const uint8_t* l4 = data + pi.l4_offset;
    const size_t l4_len = pi.ip.total_len - pi.ip.header_len;
    if (pi.l4_protocol == IPPROTO_TCP) {
      check_tcp_fields(l4, l4_len, pi.tcp);
      fz::require(pi.l4_header_len == pi.tcp.header_len);
    } else {
      fz::require(pi.l4_protocol == IPPROTO_UDP);
      check_udp_fields(l4, l4_len, pi.udp);
      fz::require(pi.l4_header_len == 8);
    }
  }
  // The single-layer parsers at every offset of the input.
  for (size_t off = 0; off < size && off < 64; off++) {
    const uint8_t* p = data + off;
    const size_t n = size - off;
    TcpHeaderInfo t;
    const ParseError et = parse_tcp(p, n, &t);
    fz::require(et == ref_tcp(p, n));
    if (et == ParseError::ok) check_tcp_fields(p, n, t);
    UdpHeaderInfo u;
    const ParseError eu = parse_udp(p, n, &u);
    fz::require(eu == ref_udp(p, n));
    if (eu == ParseError::ok) check_udp_fields(p, n, u);
    IpHeaderInfo ip;
    size_t h = 0, tot = 0;
    const ParseError ei = parse_ip(p, n, &ip);
    fz::require(ei == ref_ip(p, n, &h, &tot));
    if (ei == ParseError::ok) check_ip_fields(p, n, ip);
  }
  return 0;
}
