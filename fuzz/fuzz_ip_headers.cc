// libFuzzer target: the parsers never read outside the buffer (ASan) and every length they
// report lies within it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "ip_headers.h"

using namespace tunio;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  PacketInfo pi;
  const ParseError e = parse_packet(data, size, &pi);
  if (parse_error_name(e) == nullptr) abort();
  if (pi.ip.version != 0) {  // IP header parsed (also on L4 errors)
    const IpHeaderInfo& ip = pi.ip;
    if (ip.version != 4 && ip.version != 6) abort();
    if (ip.header_len < 20 || ip.header_len > ip.total_len || ip.total_len > size) abort();
    if (static_cast<size_t>(ip.src_offset) + ip.addr_len > ip.header_len) abort();
    if (static_cast<size_t>(ip.dst_offset) + ip.addr_len > ip.header_len) abort();
    if (ip.version == 4 && ip.header_len != (data[0] & 15) * 4) abort();
  }
  if (e == ParseError::ok) {
    if (pi.l4_protocol != kIpProtoTcp && pi.l4_protocol != kIpProtoUdp) abort();
    if (pi.l4_offset != pi.ip.header_len) abort();
    if (pi.payload_offset != pi.l4_offset + pi.l4_header_len) abort();
    if (pi.payload_offset + pi.payload_len != pi.ip.total_len) abort();
    if (pi.l4_protocol == kIpProtoTcp && (pi.tcp.header_len < 20 || pi.tcp.header_len > 60)) abort();
    if (pi.l4_protocol == kIpProtoUdp &&
        (pi.udp.length < 8 || pi.udp.length > pi.ip.total_len - pi.ip.header_len)) abort();
  }
  // The individual parsers at every offset of the input.
  for (size_t off = 0; off < size && off < 64; off++) {
    TcpHeaderInfo t;
    if (parse_tcp(data + off, size - off, &t) == ParseError::ok && t.header_len > size - off) abort();
    UdpHeaderInfo u;
    if (parse_udp(data + off, size - off, &u) == ParseError::ok && u.length > size - off) abort();
    IpHeaderInfo ip;
    if (parse_ip(data + off, size - off, &ip) == ParseError::ok && ip.total_len > size - off) abort();
  }
  return 0;
}
