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
  const ParseError e = ip_detail::read_ip(p, len, out);
  if (e != ParseError::ok) *out = IpHeaderInfo{};
  return e;
}

ParseError parse_tcp(const uint8_t* p, size_t l4_len, TcpHeaderInfo* out) {
  const ParseError e = ip_detail::read_tcp(p, l4_len, out);
  if (e != ParseError::ok) *out = TcpHeaderInfo{};
  return e;
}

ParseError parse_udp(const uint8_t* p, size_t l4_len, UdpHeaderInfo* out) {
  const ParseError e = ip_detail::read_udp(p, l4_len, out);
  if (e != ParseError::ok) *out = UdpHeaderInfo{};
  return e;
}

}  // namespace tunio
