#include <doctest.h>

#include <memory>
#include <string>

#include "ip_headers.h"
#include "packet_builders.h"

using namespace tunio;

TEST_CASE("ip_headers: IPv4 TCP with IP and TCP options") {
  tb::Ip ip;
  ip.v4_options = {1, 1, 1, 0};  // NOP NOP NOP EOL
  tb::Tcp t;
  t.options = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};  // NOP NOP timestamps
  t.flags = TH_ACK | TH_PUSH;
  auto pkt = tb::build_tcp(ip, t, tb::pattern(50, 1));
  PacketInfo pi;
  REQUIRE(parse_packet(pkt.data(), pkt.size(), &pi) == ParseError::ok);
  CHECK(pi.ip.version == 4);
  CHECK(pi.ip.header_len == 24);
  CHECK(pi.ip.has_options);
  CHECK(pi.ip.dont_fragment);
  CHECK(!pi.ip.fragment);
  CHECK(pi.ip.total_len == pkt.size());
  CHECK(pi.l4_protocol == IPPROTO_TCP);
  CHECK(pi.l4_offset == 24);
  CHECK(pi.l4_header_len == 32);
  CHECK(pi.payload_offset == 56);
  CHECK(pi.payload_len == 50);
  CHECK(pi.tcp.seq == t.seq);
  CHECK(pi.tcp.ack == t.ack);
  CHECK(pi.tcp.flags == (TH_ACK | TH_PUSH));
  CHECK(pi.tcp.src_port == t.sport);
  CHECK(pi.tcp.dst_port == t.dport);
}

TEST_CASE("ip_headers: IPv6 UDP") {
  tb::Ip ip;
  ip.version = 6;
  auto pkt = tb::build_udp(ip, 53, 5353, tb::pattern(7, 1));
  PacketInfo pi;
  REQUIRE(parse_packet(pkt.data(), pkt.size(), &pi) == ParseError::ok);
  CHECK(pi.ip.version == 6);
  CHECK(pi.ip.addr_len == 16);
  CHECK(pi.ip.src_offset == 8);
  CHECK(pi.ip.dst_offset == 24);
  CHECK(pi.l4_protocol == IPPROTO_UDP);
  CHECK(pi.udp.length == 15);
  CHECK(pi.payload_offset == 48);
  CHECK(pi.payload_len == 7);
}

namespace {
struct BadCase {
  const char* name;
  tb::Bytes pkt;
  ParseError want;
};
}  // namespace

TEST_CASE("ip_headers: malformed inputs are refused with the right reason") {
  tb::Ip v4;
  tb::Ip v6;
  v6.version = 6;
  auto tcp4 = tb::build_tcp(v4, tb::Tcp{}, tb::pattern(10, 1));
  auto udp6 = tb::build_udp(v6, 1, 2, tb::pattern(10, 1));

  std::vector<BadCase> cases;
  cases.push_back({"empty", {}, ParseError::truncated});
  cases.push_back({"v4 shorter than 20", tb::Bytes(tcp4.begin(), tcp4.begin() + 19), ParseError::truncated});
  cases.push_back({"v6 shorter than 40", tb::Bytes(udp6.begin(), udp6.begin() + 39), ParseError::truncated});
  {
    auto p = tcp4;
    p[0] = 0x55;
    cases.push_back({"version 5", p, ParseError::bad_version});
  }
  {
    auto p = tcp4;
    p[0] = 0x44;  // IHL 4
    cases.push_back({"IHL < 5", p, ParseError::bad_ihl});
  }
  {
    auto p = tb::Bytes(tcp4.begin(), tcp4.begin() + 24);
    p[0] = 0x4f;  // IHL 15 = 60 bytes, only 24 present
    cases.push_back({"IHL past end", p, ParseError::bad_ihl});
  }
  {
    auto p = tcp4;
    tb::put16(&p[2], static_cast<uint16_t>(p.size() + 1));
    cases.push_back({"v4 total length > buffer", p, ParseError::bad_total_length});
  }
  {
    auto p = tcp4;
    tb::put16(&p[2], 19);
    cases.push_back({"v4 total length < IHL", p, ParseError::bad_total_length});
  }
  {
    auto p = udp6;
    tb::put16(&p[4], static_cast<uint16_t>(p.size() - 39));
    cases.push_back({"v6 payload length > buffer", p, ParseError::bad_total_length});
  }
  {
    tb::Ip ip = v4;
    ip.mf = true;
    cases.push_back({"v4 MF", tb::build_tcp(ip, tb::Tcp{}, tb::pattern(10, 1)), ParseError::fragment});
    ip.mf = false;
    ip.frag_offset = 3;
    cases.push_back({"v4 frag offset", tb::build_tcp(ip, tb::Tcp{}, tb::pattern(10, 1)), ParseError::fragment});
  }
  {
    auto p = udp6;
    p[6] = 0;  // hop-by-hop options header
    cases.push_back({"v6 extension header", p, ParseError::ext_headers});
  }
  {
    auto p = tcp4;
    p[9] = 1;  // ICMP
    cases.push_back({"v4 ICMP", p, ParseError::not_tcp_udp});
  }
  {
    auto p = tb::build_ip(v4, 6, tb::Bytes(19, 0));
    cases.push_back({"TCP header truncated", p, ParseError::l4_truncated});
  }
  {
    auto p = tcp4;
    p[20 + 12] = 0x40;  // data offset 4
    cases.push_back({"TCP data offset < 5", p, ParseError::bad_tcp_offset});
  }
  {
    auto p = tcp4;
    p[20 + 12] = 0xf0;  // 60 bytes of TCP header, 30 present
    cases.push_back({"TCP data offset past end", p, ParseError::bad_tcp_offset});
  }
  {
    auto p = tb::build_ip(v4, 17, tb::Bytes(7, 0));
    cases.push_back({"UDP header truncated", p, ParseError::l4_truncated});
  }
  {
    auto p = udp6;
    tb::put16(&p[44], 7);
    cases.push_back({"UDP length < 8", p, ParseError::bad_udp_length});
    tb::put16(&p[44], static_cast<uint16_t>(p.size() - 40 + 1));
    cases.push_back({"UDP length > payload", p, ParseError::bad_udp_length});
  }
  for (const auto& c : cases) {
    CAPTURE(c.name);
    PacketInfo pi;
    // Copy into an exactly-sized heap buffer so ASan catches any read past the end.
    std::unique_ptr<uint8_t[]> exact(new uint8_t[c.pkt.size()]);
    if (!c.pkt.empty()) std::memcpy(exact.get(), c.pkt.data(), c.pkt.size());
    CHECK(parse_error_name(parse_packet(exact.get(), c.pkt.size(), &pi)) ==
          std::string(parse_error_name(c.want)));
  }
}

TEST_CASE("ip_headers: IP facts stay available when L4 is refused") {
  tb::Ip ip;
  ip.mf = true;
  auto p = tb::build_tcp(ip, tb::Tcp{}, tb::pattern(10, 1));
  PacketInfo pi;
  REQUIRE(parse_packet(p.data(), p.size(), &pi) == ParseError::fragment);
  CHECK(pi.ip.version == 4);
  CHECK(pi.ip.fragment);
  CHECK(pi.ip.src_offset == 12);
}

TEST_CASE("ip_headers: trailing bytes beyond the IP total length are not payload") {
  auto p = tb::build_udp(tb::Ip{}, 1, 2, tb::pattern(10, 1));
  p.push_back(0);
  p.push_back(0);
  PacketInfo pi;
  REQUIRE(parse_packet(p.data(), p.size(), &pi) == ParseError::ok);
  CHECK(pi.ip.total_len == p.size() - 2);
  CHECK(pi.payload_len == 10);
}

TEST_CASE("ip_headers: every truncation of a valid packet parses or fails cleanly") {
  tb::Ip ip;
  ip.v4_options = {1, 1, 1, 1};
  tb::Tcp t;
  t.options = {1, 1, 1, 1};
  auto full = tb::build_tcp(ip, t, tb::pattern(5, 1));
  for (size_t n = 0; n < full.size(); n++) {
    std::unique_ptr<uint8_t[]> exact(new uint8_t[n]);
    if (n) std::memcpy(exact.get(), full.data(), n);
    PacketInfo pi;
    CHECK(parse_packet(exact.get(), n, &pi) != ParseError::ok);  // total length says more
  }
}
