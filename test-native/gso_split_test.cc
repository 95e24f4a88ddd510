#include <doctest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>

#include "checksum.h"
#include "gso_split.h"
#include "ip_headers.h"
#include "packet_builders.h"

using namespace tunio;

namespace {

// A row of the segmentation table: named fields, each defaulting to a plain 3,000-byte TCPv4
// superpacket cut into 1,000-byte segments; a row changes only what it is about.
struct SplitCase {
  const char* name = "";
  int version = 4;
  bool udp = false;
  size_t payload = 3000;
  uint16_t gso_size = 1000;
  uint8_t flags = TH_ACK;
  tb::Bytes ip_options = {};
  tb::Bytes tcp_options = {};
  uint32_t seq = 1000;
  uint16_t id = 0x1234;
  bool ecn_bit = false;
  bool needs_csum = true;
  uint16_t hdr_len_override = 0;  // 0: correct value; else a wrong one the kernel might send
};

SplitCase row(const char* name, const std::function<void(SplitCase&)>& change = [](SplitCase&) {}) {
  SplitCase c;
  c.name = name;
  change(c);
  return c;
}

tb::Ip make_ip(const SplitCase& c) {
  tb::Ip ip;
  ip.version = c.version;
  ip.id = c.id;
  ip.v4_options = c.ip_options;
  ip.tos = 0x02;  // ECT(0): copied unchanged into every segment
  ip.flow_label = 0x12345;
  return ip;
}

// The superpacket as the kernel hands it to us: correct lengths, IPv4 header checksum,
// partial (pseudo-header) L4 checksum.
tb::Bytes superpacket(const SplitCase& c, VirtioNetHdr* h) {
  tb::Ip ip = make_ip(c);
  auto payload = tb::pattern(c.payload, 11);
  tb::Bytes pkt;
  size_t l4_hdr;
  if (c.udp) {
    pkt = tb::build_udp(ip, 4500, 51820, payload, tb::Csum::partial);
    l4_hdr = 8;
  } else {
    tb::Tcp t;
    t.seq = c.seq;
    t.flags = c.flags;
    t.options = c.tcp_options;
    pkt = tb::build_tcp(ip, t, payload, tb::Csum::partial);
    l4_hdr = 20 + c.tcp_options.size();
  }
  size_t ihl = c.version == 4 ? 20 + c.ip_options.size() : 40;
  h->flags = c.needs_csum ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0;
  h->gso_type = c.udp ? VIRTIO_NET_HDR_GSO_UDP_L4
                      : (c.version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6);
  if (c.ecn_bit) h->gso_type |= VIRTIO_NET_HDR_GSO_ECN;
  h->hdr_len = c.hdr_len_override ? c.hdr_len_override : static_cast<uint16_t>(ihl + l4_hdr);
  h->gso_size = c.gso_size;
  h->csum_start = static_cast<uint16_t>(ihl);
  h->csum_offset = c.udp ? 6 : 16;
  return pkt;
}

// What the segments must be, built independently from the spec.
std::vector<tb::Bytes> expected_segments(const SplitCase& c) {
  auto payload = tb::pattern(c.payload, 11);
  std::vector<tb::Bytes> out;
  size_t n = c.payload == 0 ? 1 : (c.payload + c.gso_size - 1) / c.gso_size;
  for (size_t i = 0; i < n; i++) {
    size_t off = i * c.gso_size;
    size_t len = std::min<size_t>(c.gso_size, c.payload - off);
    tb::Bytes slice(payload.begin() + off, payload.begin() + off + len);
    tb::Ip ip = make_ip(c);
    ip.id = static_cast<uint16_t>(c.id + i);
    if (c.udp) {
      out.push_back(tb::build_udp(ip, 4500, 51820, slice));
    } else {
      tb::Tcp t;
      t.seq = c.seq + static_cast<uint32_t>(off);
      t.options = c.tcp_options;
      uint8_t f = c.flags;
      if (i + 1 != n) f &= static_cast<uint8_t>(~(TH_FIN | TH_PUSH));
      if (i != 0) f &= static_cast<uint8_t>(~TH_CWR);
      t.flags = f;
      out.push_back(tb::build_tcp(ip, t, slice));
    }
  }
  return out;
}

}  // namespace

TEST_CASE("gso_split: segmentation table") {
  const tb::Bytes ts = {1, 1, 8, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0};  // NOP NOP timestamps
  std::vector<SplitCase> cases = {
      row("tcp4 three equal segments"),
      row("tcp4 last segment shorter", [](SplitCase& c) { c.payload = 2500; }),
      row("tcp4 single segment (payload <= gso_size)", [](SplitCase& c) { c.payload = 700; }),
      row("tcp4 exactly gso_size", [](SplitCase& c) { c.payload = 1000; }),
      row("tcp4 header only", [](SplitCase& c) { c.payload = 0; }),
      row("tcp4 with TCP options", [&](SplitCase& c) { c.payload = 4000; c.gso_size = 1448; c.tcp_options = ts; }),
      row("tcp4 with IP options", [](SplitCase& c) { c.ip_options = {1, 1, 1, 0}; }),
      row("tcp4 FIN|PSH only on last, CWR only on first",
          [](SplitCase& c) { c.payload = 3500; c.flags = TH_ACK | TH_PUSH | TH_FIN | TH_CWR; }),
      row("tcp4 ECN modifier bit masked",
          [](SplitCase& c) { c.flags = TH_ACK | TH_CWR | TH_ECE; c.ecn_bit = true; }),
      row("tcp4 sequence and ID wrap", [](SplitCase& c) { c.seq = 0xfffffc00u; c.id = 0xffff; }),
      row("tcp4 without NEEDS_CSUM still gets full checksums",
          [](SplitCase& c) { c.payload = 2000; c.seq = 1; c.id = 1; c.needs_csum = false; }),
      row("tcp4 short kernel hdr_len is ignored",
          [&](SplitCase& c) { c.tcp_options = ts; c.seq = 1; c.id = 1; c.hdr_len_override = 20; }),
      row("tcp4 gso_size 1", [](SplitCase& c) { c.payload = 5; c.gso_size = 1; }),
      row("tcp6 last segment shorter", [](SplitCase& c) { c.version = 6; c.payload = 3001; }),
      row("tcp6 with options and flags", [&](SplitCase& c) {
        c.version = 6; c.payload = 64000; c.gso_size = 1428; c.flags = TH_ACK | TH_PUSH | TH_CWR; c.tcp_options = ts;
      }),
      row("tcp6 FIN|PSH only on last, CWR only on first", [](SplitCase& c) {
        c.version = 6; c.payload = 3500; c.flags = TH_ACK | TH_PUSH | TH_FIN | TH_CWR;
      }),
      row("udp4 USO equal", [](SplitCase& c) { c.udp = true; c.payload = 3600; c.gso_size = 1200; }),
      row("udp4 USO last shorter", [](SplitCase& c) { c.udp = true; c.payload = 3601; c.gso_size = 1200; }),
      row("udp6 USO last shorter", [](SplitCase& c) { c.version = 6; c.udp = true; c.payload = 2999; }),
      row("udp6 USO single", [](SplitCase& c) { c.version = 6; c.udp = true; c.payload = 10; }),
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    VirtioNetHdr h;
    auto pkt = superpacket(c, &h);
    auto want = expected_segments(c);
    tb::VectorSink sink;
    SplitStats st;
    REQUIRE(std::string(split_result_name(gso_split(h, pkt.data(), pkt.size(), sink, &st))) == "ok");
    REQUIRE(sink.segs.size() == want.size());
    CHECK(st.segments == want.size());
    size_t bytes = 0;
    for (size_t i = 0; i < want.size(); i++) {
      CAPTURE(i);
      CHECK(sink.segs[i] == want[i]);
      CHECK(tb::lengths_consistent(sink.segs[i]));
      CHECK(tb::checksums_valid(sink.segs[i]));
      bytes += sink.segs[i].size();
    }
    CHECK(st.bytes == bytes);
  }
}

namespace {
// complete_checksum() in place and copy_complete_checksum() into a fresh buffer both turn
// `input` into `expected`: the TUN read uses one or the other for a packet without GSO.
void check_completed_both_ways(const VirtioNetHdr& h, const tb::Bytes& input, const tb::Bytes& expected) {
  auto inplace = input;
  REQUIRE(complete_checksum(h, inplace.data(), inplace.size()) == SplitResult::ok);
  CHECK(inplace == expected);
  tb::Bytes copied(input.size());
  REQUIRE(copy_complete_checksum(h, input.data(), input.size(), copied.data()) == SplitResult::ok);
  CHECK(copied == expected);
}
}  // namespace

TEST_CASE("gso_split: UDP checksum computing to 0 is sent as 0xFFFF (0 means none; invalid over IPv6)") {
  for (int version : {4, 6}) {
    CAPTURE(version);
    const size_t ihl = version == 4 ? 20 : 40;
    const size_t csum_at = ihl + 6;
    // Choose the last payload word so that the segment's checksum comes out as 0.
    tb::Ip ip;
    ip.version = version;
    auto payload = tb::pattern(20, static_cast<uint8_t>(version == 4 ? 3 : 5));
    payload[18] = payload[19] = 0;
    auto probe = tb::build_udp(ip, 1, 2, payload, tb::Csum::zero);
    uint16_t s = tb::naive_fold(tb::naive_sum(&probe[ihl], probe.size() - ihl,
                                              tb::naive_pseudo(probe, 17, probe.size() - ihl)));
    REQUIRE(s != 0xffff);
    uint16_t w = static_cast<uint16_t>(0xffff - s);
    payload[18] = static_cast<uint8_t>(w >> 8);
    payload[19] = static_cast<uint8_t>(w);
    auto pkt = tb::build_udp(ip, 1, 2, payload, tb::Csum::partial);
    VirtioNetHdr h;
    h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
    h.gso_size = 100;
    h.csum_start = static_cast<uint16_t>(ihl);
    h.csum_offset = 6;
    tb::VectorSink sink;
    REQUIRE(gso_split(h, pkt.data(), pkt.size(), sink) == SplitResult::ok);
    REQUIRE(sink.segs.size() == 1);
    CHECK(tb::be16(&sink.segs[0][csum_at]) == 0xffff);
    CHECK(tb::checksums_valid(sink.segs[0]));

    // Same through the GSO_NONE paths: split, and completed in place.
    h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
    tb::VectorSink sink2;
    REQUIRE(gso_split(h, pkt.data(), pkt.size(), sink2) == SplitResult::ok);
    CHECK(tb::be16(&sink2.segs[0][csum_at]) == 0xffff);
    check_completed_both_ways(h, pkt, sink2.segs[0]);
  }
}

TEST_CASE("gso_split: GSO_NONE with and without NEEDS_CSUM") {
  for (int version : {4, 6}) {
    for (bool udp : {false, true}) {
      CAPTURE(version);
      CAPTURE(udp);
      tb::Ip ip;
      ip.version = version;
      auto payload = tb::pattern(1333, 5);  // long enough for the vector checksum
      auto partial = udp ? tb::build_udp(ip, 1, 2, payload, tb::Csum::partial)
                         : tb::build_tcp(ip, tb::Tcp{}, payload, tb::Csum::partial);
      auto full = udp ? tb::build_udp(ip, 1, 2, payload) : tb::build_tcp(ip, tb::Tcp{}, payload);
      VirtioNetHdr h;
      h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
      h.csum_start = version == 4 ? 20 : 40;
      h.csum_offset = udp ? 6 : 16;
      tb::VectorSink sink;
      REQUIRE(gso_split(h, partial.data(), partial.size(), sink) == SplitResult::ok);
      REQUIRE(sink.segs.size() == 1);
      CHECK(sink.segs[0] == full);
      check_completed_both_ways(h, partial, full);

      // Without NEEDS_CSUM the packet passes through byte for byte.
      VirtioNetHdr plain;
      tb::VectorSink sink2;
      REQUIRE(gso_split(plain, partial.data(), partial.size(), sink2) == SplitResult::ok);
      CHECK(sink2.segs[0] == partial);
      check_completed_both_ways(plain, partial, partial);
    }
  }
}

namespace {
struct BadSplit {
  const char* name;
  VirtioNetHdr h;
  tb::Bytes pkt;
  SplitResult want;
};
}  // namespace

TEST_CASE("gso_split: malformed inputs report a reason and emit nothing") {
  SplitCase base{"", 4, false, 3000, 1000};
  VirtioNetHdr h4;
  auto tcp4 = superpacket(base, &h4);
  SplitCase base6{"", 6, false, 3000, 1000};
  VirtioNetHdr h6;
  auto tcp6 = superpacket(base6, &h6);
  SplitCase ubase{"", 4, true, 3000, 1000};
  VirtioNetHdr hu;
  auto udp4 = superpacket(ubase, &hu);

  std::vector<BadSplit> cases;
  auto with = [](VirtioNetHdr h, auto f) { f(h); return h; };
  cases.push_back({"empty", h4, {}, SplitResult::empty});
  cases.push_back({"gso_size 0", with(h4, [](VirtioNetHdr& h) { h.gso_size = 0; }), tcp4,
                   SplitResult::bad_gso_size});
  cases.push_back({"legacy UFO", with(hu, [](VirtioNetHdr& h) { h.gso_type = VIRTIO_NET_HDR_GSO_UDP; }),
                   udp4, SplitResult::unsupported_gso_type});
  cases.push_back({"unknown gso type 2", with(h4, [](VirtioNetHdr& h) { h.gso_type = 2; }), tcp4,
                   SplitResult::unsupported_gso_type});
  cases.push_back({"TCPV4 on an IPv6 packet", with(h6, [](VirtioNetHdr& h) {
                     h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4; }), tcp6, SplitResult::bad_ip_version});
  cases.push_back({"TCPV6 on an IPv4 packet", with(h4, [](VirtioNetHdr& h) {
                     h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6; }), tcp4, SplitResult::bad_ip_version});
  {
    auto p = tcp4;
    p[0] = 0x75;
    cases.push_back({"version 7", h4, p, SplitResult::bad_ip_version});
  }
  cases.push_back({"truncated IPv4 header", h4, tb::Bytes(tcp4.begin(), tcp4.begin() + 12),
                   SplitResult::truncated});
  cases.push_back({"truncated IPv6 header", h6, tb::Bytes(tcp6.begin(), tcp6.begin() + 39),
                   SplitResult::truncated});
  {
    auto p = tcp4;
    p[0] = 0x43;
    cases.push_back({"IHL 3", h4, p, SplitResult::bad_ip_header});
  }
  cases.push_back({"packet cut short (total length > bytes)", h4,
                   tb::Bytes(tcp4.begin(), tcp4.end() - 1), SplitResult::bad_ip_length});
  {
    auto p = tcp4;
    p.push_back(0);
    cases.push_back({"trailing byte (total length < bytes)", h4, p, SplitResult::bad_ip_length});
  }
  {
    auto p = tcp4;
    p[6] |= 0x20;
    cases.push_back({"IPv4 MF on a GSO packet", h4, p, SplitResult::ip_fragment});
  }
  {
    auto p = tcp6;
    p[6] = 60;  // destination options header
    cases.push_back({"IPv6 extension header", h6, p, SplitResult::unsupported_l4});
  }
  cases.push_back({"UDP_L4 on a TCP packet", with(h4, [](VirtioNetHdr& h) {
                     h.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4; h.csum_offset = 6; }), tcp4,
                   SplitResult::unsupported_l4});
  {
    auto p = tcp4;
    p[20 + 12] = 0x30;
    cases.push_back({"TCP data offset 3", h4, p, SplitResult::bad_l4_header});
  }
  {
    auto p = tb::build_ip(tb::Ip{}, 6, tb::Bytes(10, 0));
    cases.push_back({"TCP header truncated", h4, p, SplitResult::truncated});
  }
  {
    auto p = tb::build_ip(tb::Ip{}, 17, tb::Bytes(5, 0));
    cases.push_back({"UDP header truncated", hu, p, SplitResult::truncated});
  }
  cases.push_back({"csum_start not at the TCP header", with(h4, [](VirtioNetHdr& h) { h.csum_start = 24; }),
                   tcp4, SplitResult::bad_csum_offsets});
  cases.push_back({"csum_start far out of bounds", with(h4, [](VirtioNetHdr& h) { h.csum_start = 60000; }),
                   tcp4, SplitResult::bad_csum_offsets});
  cases.push_back({"csum_offset wrong for TCP", with(h4, [](VirtioNetHdr& h) { h.csum_offset = 6; }),
                   tcp4, SplitResult::bad_csum_offsets});
  VirtioNetHdr none;
  none.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  none.csum_start = 20;
  none.csum_offset = static_cast<uint16_t>(tcp4.size() - 20 - 1);  // field would end past the packet
  cases.push_back({"GSO_NONE csum field out of bounds", none, tcp4, SplitResult::bad_csum_offsets});
  none.csum_start = static_cast<uint16_t>(tcp4.size() + 2);
  none.csum_offset = 0;
  cases.push_back({"GSO_NONE csum_start past the end", none, tcp4, SplitResult::bad_csum_offsets});
  none.csum_start = 20;
  none.csum_offset = 15;
  cases.push_back({"GSO_NONE odd csum_offset", none, tcp4, SplitResult::bad_csum_offsets});

  for (const auto& c : cases) {
    CAPTURE(c.name);
    std::unique_ptr<uint8_t[]> exact(new uint8_t[c.pkt.size()]);  // ASan-visible end
    if (!c.pkt.empty()) std::memcpy(exact.get(), c.pkt.data(), c.pkt.size());
    tb::VectorSink sink;
    SplitStats st;
    CHECK(std::string(split_result_name(gso_split(c.h, exact.get(), c.pkt.size(), sink, &st))) ==
          split_result_name(c.want));
    CHECK(sink.segs.empty());
    CHECK(st.segments == 0);
  }
}

TEST_CASE("gso_split: complete_checksum and copy_complete_checksum refuse GSO packets and bad offsets without writing") {
  SplitCase c{"", 4, false, 3000, 1000};
  VirtioNetHdr h;
  auto pkt = superpacket(c, &h);
  auto copy = pkt;
  CHECK(complete_checksum(h, copy.data(), copy.size()) == SplitResult::needs_split);
  VirtioNetHdr none;
  none.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  none.csum_start = 0xffff;
  none.csum_offset = 0xfffe;
  CHECK(complete_checksum(none, copy.data(), copy.size()) == SplitResult::bad_csum_offsets);
  CHECK(copy == pkt);
  tb::Bytes out(pkt.size(), 0x77);
  CHECK(copy_complete_checksum(h, pkt.data(), pkt.size(), out.data()) == SplitResult::needs_split);
  CHECK(copy_complete_checksum(none, pkt.data(), pkt.size(), out.data()) == SplitResult::bad_csum_offsets);
  CHECK(copy_complete_checksum(VirtioNetHdr{}, pkt.data(), 0, out.data()) == SplitResult::empty);
  CHECK(out == tb::Bytes(pkt.size(), 0x77));
}

TEST_CASE("gso_split: sink running out of memory stops with no_memory") {
  SplitCase c{"", 4, false, 5000, 1000};
  VirtioNetHdr h;
  auto pkt = superpacket(c, &h);
  auto want = expected_segments(c);
  tb::VectorSink sink;
  sink.budget = 2;
  SplitStats st;
  CHECK(gso_split(h, pkt.data(), pkt.size(), sink, &st) == SplitResult::no_memory);
  REQUIRE(sink.segs.size() == 2);
  CHECK(st.segments == 2);
  CHECK(sink.segs[0] == want[0]);
  CHECK(sink.segs[1] == want[1]);
  tb::VectorSink none;
  none.budget = 0;
  VirtioNetHdr plain;
  CHECK(gso_split(plain, pkt.data(), pkt.size(), none) == SplitResult::no_memory);
}

TEST_CASE("virtio_net_hdr: encode/decode round trip in host order") {
  VirtioNetHdr h;
  h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN;
  h.hdr_len = 0x0102;
  h.gso_size = 0x0304;
  h.csum_start = 0x0506;
  h.csum_offset = 0x0708;
  uint8_t b[kVirtioNetHdrLen];
  encode_virtio_net_hdr(h, b);
  CHECK(b[0] == 1);
  CHECK(b[1] == 0x84);
  uint16_t hl;
  std::memcpy(&hl, b + 2, 2);
  CHECK(hl == 0x0102);  // host order, as the kernel reads it without TUNSETVNETLE/BE
  VirtioNetHdr d;
  REQUIRE(decode_virtio_net_hdr(b, sizeof b, &d));
  CHECK(d == h);
  CHECK(d.gso_kind() == VIRTIO_NET_HDR_GSO_TCPV6);
  CHECK(!decode_virtio_net_hdr(b, 9, &d));
  CHECK(d == VirtioNetHdr{});
}
