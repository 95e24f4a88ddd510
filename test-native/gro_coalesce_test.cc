#include <doctest.h>

#include <functional>
#include <map>
#include <set>
#include <string>

#include "checksum.h"
#include "gro_coalesce.h"
#include "gso_split.h"
#include "ip_headers.h"
#include "packet_builders.h"

using namespace tunio;

namespace {

// A batch of owned packets plus the GroPacket views the coalescer works on.
struct Batch {
  std::vector<tb::Bytes> pkts;
  std::vector<tb::Bytes> original;
  std::vector<GroPacket> views;
  void add(tb::Bytes p) { pkts.push_back(std::move(p)); }
  const std::vector<GroPacket>& finish() {
    original = pkts;
    views.clear();
    for (auto& p : pkts) views.push_back({p.data(), static_cast<uint32_t>(p.size())});
    return views;
  }
};

// The bytes a writev of this write would put on the wire after the virtio header.
tb::Bytes assemble(const Batch& b, const GroPlan& plan, const GroWrite& w) {
  tb::Bytes out = b.pkts[w.packet];
  for (uint32_t k = 0; k < w.members_count; k++) {
    const GroMember& m = plan.members[w.members_begin + k];
    const auto& p = b.pkts[m.packet];
    out.insert(out.end(), p.begin() + m.offset, p.begin() + m.offset + m.length);
  }
  return out;
}

// The packet indices of each write, in order: [[0,2,4],[1],...].
std::vector<std::vector<uint32_t>> shape(const GroPlan& plan) {
  std::vector<std::vector<uint32_t>> s;
  for (const auto& w : plan.writes) {
    std::vector<uint32_t> g{w.packet};
    for (uint32_t k = 0; k < w.members_count; k++) g.push_back(plan.members[w.members_begin + k].packet);
    s.push_back(g);
  }
  return s;
}

// Every packet exactly once, per-flow order kept, length caps respected, singles untouched,
// and splitting each group gives back its members.
void check_plan(const Batch& b, const GroPlan& plan, const GroOptions& opts) {
  std::vector<int> seen(b.pkts.size(), 0);
  std::vector<uint32_t> order;
  for (const auto& w : plan.writes) {
    auto bytes = assemble(b, plan, w);
    CHECK(bytes.size() == w.total_len);
    seen[w.packet]++;
    order.push_back(w.packet);
    if (w.members_count == 0) {
      CHECK(w.hdr == VirtioNetHdr{});
      CHECK(b.pkts[w.packet] == b.original[w.packet]);
      continue;
    }
    CHECK(w.total_len <= 65535);
    CHECK(w.members_count + 1 <= opts.max_segments);
    for (uint32_t k = 0; k < w.members_count; k++) {
      seen[plan.members[w.members_begin + k].packet]++;
      order.push_back(plan.members[w.members_begin + k].packet);
    }
    // The head now describes the whole superpacket.
    CHECK(tb::lengths_consistent(bytes));
    tb::VectorSink sink;
    REQUIRE(gso_split(w.hdr, bytes.data(), bytes.size(), sink) == SplitResult::ok);
    REQUIRE(sink.segs.size() == w.members_count + 1);
    for (size_t k = 0; k < sink.segs.size(); k++) {
      uint32_t idx = k == 0 ? w.packet : plan.members[w.members_begin + k - 1].packet;
      CAPTURE(idx);
      CHECK(sink.segs[k] == b.original[idx]);  // inputs are built valid with consecutive IDs
    }
  }
  for (size_t i = 0; i < seen.size(); i++) CHECK(seen[i] == 1);
  CHECK(plan.stats.packets == b.pkts.size());
  CHECK(plan.stats.writes == plan.writes.size());
}

tb::Bytes tcp_seg(const tb::Ip& base, uint32_t seq, size_t n, uint16_t id, uint8_t flags = kTcpAck,
                  tb::Tcp t = {}) {
  tb::Ip ip = base;
  ip.id = id;
  t.seq = seq;
  t.flags = flags;
  return tb::build_tcp(ip, t, tb::pattern(n, static_cast<uint8_t>(seq)));
}

tb::Ip v6() {
  tb::Ip ip;
  ip.version = 6;
  ip.flow_label = 0xabcde;
  ip.tos = 0x20;
  return ip;
}

}  // namespace

TEST_CASE("gro: TCPv4 run becomes one superpacket equal to the kernel's") {
  Batch b;
  tb::Ip ip;
  for (int i = 0; i < 5; i++) b.add(tcp_seg(ip, 1000 + i * 1000, 1000, static_cast<uint16_t>(7 + i)));
  GroOptions opts;
  GroCoalescer gro(opts);
  GroPlan plan;
  auto& v = b.finish();
  gro.plan(v.data(), v.size(), &plan);
  REQUIRE(plan.writes.size() == 1);
  const GroWrite& w = plan.writes[0];
  CHECK(w.members_count == 4);
  CHECK(w.hdr.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM);
  CHECK(w.hdr.gso_type == VIRTIO_NET_HDR_GSO_TCPV4);
  CHECK(w.hdr.hdr_len == 40);
  CHECK(w.hdr.gso_size == 1000);
  CHECK(w.hdr.csum_start == 20);
  CHECK(w.hdr.csum_offset == 16);
  CHECK(plan.stats.groups == 1);
  CHECK(plan.stats.coalesced == 5);
  // Same bytes as the superpacket a sender's TSO would hand over.
  tb::Bytes payload;
  for (int i = 0; i < 5; i++) {
    auto p = tb::pattern(1000, static_cast<uint8_t>(1000 + i * 1000));
    payload.insert(payload.end(), p.begin(), p.end());
  }
  tb::Ip sip = ip;
  sip.id = 7;
  tb::Tcp t;
  t.seq = 1000;
  CHECK(assemble(b, plan, w) == tb::build_tcp(sip, t, payload, tb::Csum::partial));
  check_plan(b, plan, opts);
}

namespace {
using Refusals = std::map<GroRefusal, uint32_t>;
struct GroCase {
  const char* name;
  std::function<void(Batch&)> build;
  std::vector<std::vector<uint32_t>> want;
  Refusals refused;  // the reason each packet was kept out of a group (GroStats::refused)
  GroOptions opts = {};
};

// GroStats::refused as a map of its non-zero entries, named for readable failures.
Refusals refusals_of(const GroPlan& plan) {
  Refusals r;
  for (size_t i = 0; i < kGroRefusalCount; i++) {
    if (plan.stats.refused[i] != 0) r[static_cast<GroRefusal>(i)] = plan.stats.refused[i];
  }
  return r;
}
std::string describe(const Refusals& r) {
  std::string s;
  for (const auto& [k, v] : r) s += std::string(gro_refusal_name(k)) + "=" + std::to_string(v) + " ";
  return s;
}
}  // namespace

TEST_CASE("gro: coalescing rules table") {
  tb::Ip ip;
  tb::Tcp ts;
  ts.options = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
  GroOptions udp_on;
  udp_on.udp = true;
  GroOptions max3;
  max3.max_segments = 3;
  GroOptions tcp_off;
  tcp_off.tcp = false;

  std::vector<GroCase> cases = {
      {"last segment shorter closes the group",
       [&](Batch& b) {
         b.add(tcp_seg(ip, 0, 1000, 1));
         b.add(tcp_seg(ip, 1000, 1000, 2));
         b.add(tcp_seg(ip, 2000, 500, 3));
         b.add(tcp_seg(ip, 2500, 1000, 4));
         b.add(tcp_seg(ip, 3500, 1000, 5));
       },
       {{0, 1, 2}, {3, 4}}, {}},
      {"larger segment does not join",
       [&](Batch& b) {
         b.add(tcp_seg(ip, 0, 500, 1));
         b.add(tcp_seg(ip, 500, 1000, 2));
       },
       {{0}, {1}}, {{GroRefusal::kLargerThanSegment, 1}}},
      {"PSH only on the last member, restored on the head",
       [&](Batch& b) {
         b.add(tcp_seg(ip, 0, 1000, 1));
         b.add(tcp_seg(ip, 1000, 1000, 2, kTcpAck | kTcpPsh));
         b.add(tcp_seg(ip, 2000, 1000, 3));
       },
       {{0, 1}, {2}}, {}},
      {"PSH on a head is written alone",
       [&](Batch& b) {
         b.add(tcp_seg(ip, 0, 1000, 1, kTcpAck | kTcpPsh));
         b.add(tcp_seg(ip, 1000, 1000, 2));
         b.add(tcp_seg(ip, 2000, 1000, 3));
       },
       {{0}, {1, 2}}, {{GroRefusal::kPshOnHead, 1}}},
      {"out of order starts new groups",
       [&](Batch& b) {
         b.add(tcp_seg(ip, 0, 1000, 1));
         b.add(tcp_seg(ip, 2000, 1000, 3));
         b.add(tcp_seg(ip, 1000, 1000, 2));
         b.add(tcp_seg(ip, 2000, 1000, 3));
       },
       {{0}, {1}, {2, 3}}, {{GroRefusal::kSeqNotAdjacent, 2}}},
      {"interleaved flows group per flow",
       [&](Batch& b) {
         tb::Tcp other;
         other.sport = 40001;
         for (int i = 0; i < 3; i++) {
           b.add(tcp_seg(ip, 100 + i * 1000, 1000, static_cast<uint16_t>(1 + i)));
           b.add(tcp_seg(ip, 900 + i * 1000, 1000, static_cast<uint16_t>(50 + i), kTcpAck, other));
         }
       },
       {{0, 2, 4}, {1, 3, 5}}, {}},
      {"TCP options must be identical",
       [&](Batch& b) {
         b.add(tcp_seg(ip, 0, 1000, 1, kTcpAck, ts));
         b.add(tcp_seg(ip, 1000, 1000, 2, kTcpAck, ts));
         tb::Tcp ts2 = ts;
         ts2.options[11] = 3;  // newer timestamp
         b.add(tcp_seg(ip, 2000, 1000, 3, kTcpAck, ts2));
       },
       {{0, 1}, {2}}, {{GroRefusal::kTcpFieldsDiffer, 1}}},
      {"different ACK number, window or TTL",
       [&](Batch& b) {
         b.add(tcp_seg(ip, 0, 1000, 1));
         tb::Tcp a;
         a.ack = 9999;
         b.add(tcp_seg(ip, 1000, 1000, 2, kTcpAck, a));
         tb::Tcp w;
         w.ack = 9999;
         w.window = 1;
         b.add(tcp_seg(ip, 2000, 1000, 3, kTcpAck, w));
         tb::Ip ttl = ip;
         ttl.ttl = 3;
         tb::Tcp w2 = w;
         b.add(tcp_seg(ttl, 3000, 1000, 4, kTcpAck, w2));
       },
       {{0}, {1}, {2}, {3}}, {{GroRefusal::kTcpFieldsDiffer, 2}, {GroRefusal::kIpFieldsDiffer, 1}}},
      {"different TOS (ECN CE) or DF",
       [&](Batch& b) {
         b.add(tcp_seg(ip, 0, 1000, 1));
         tb::Ip ce = ip;
         ce.tos = 3;
         b.add(tcp_seg(ce, 1000, 1000, 2));
         tb::Ip nodf = ip;
         nodf.df = false;
         b.add(tcp_seg(nodf, 2000, 1000, 3));
       },
       {{0}, {1}, {2}}, {{GroRefusal::kIpFieldsDiffer, 2}}},
      {"SYN, RST, URG, CWR, ECE, FIN are never coalesced; a FIN closes its flow's group",
       [&](Batch& b) {
         b.add(tcp_seg(ip, 0, 1000, 1));
         b.add(tcp_seg(ip, 1000, 1000, 2));
         b.add(tcp_seg(ip, 2000, 1000, 3, kTcpAck | kTcpFin));
         b.add(tcp_seg(ip, 3000, 1000, 4));  // must not join the first group (would reorder)
         b.add(tcp_seg(ip, 4000, 1000, 5, kTcpAck | kTcpCwr));
         b.add(tcp_seg(ip, 5000, 1000, 6, kTcpAck | kTcpEce));
         b.add(tcp_seg(ip, 6000, 1000, 7, kTcpAck | kTcpUrg));
         b.add(tcp_seg(ip, 7000, 1000, 8, kTcpSyn | kTcpAck));
         b.add(tcp_seg(ip, 8000, 1000, 9, kTcpRst | kTcpAck));
       },
       {{0, 1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}}, {{GroRefusal::kTcpFlags, 6}}},
      {"pure ACKs are written alone and keep their place",
       [&](Batch& b) {
         b.add(tcp_seg(ip, 0, 1000, 1));
         b.add(tcp_seg(ip, 1000, 0, 2));
         b.add(tcp_seg(ip, 1000, 1000, 3));
         b.add(tcp_seg(ip, 2000, 1000, 4));
       },
       {{0}, {1}, {2, 3}}, {{GroRefusal::kNoPayload, 1}}},
      {"IPv4 options and fragments are not coalesced",
       [&](Batch& b) {
         tb::Ip opt = ip;
         opt.v4_options = {1, 1, 1, 0};
         b.add(tcp_seg(opt, 0, 1000, 1));
         b.add(tcp_seg(opt, 1000, 1000, 2));
         tb::Ip mf = ip;
         mf.mf = true;
         b.add(tcp_seg(mf, 2000, 1000, 3));
         b.add(tcp_seg(mf, 3000, 1000, 4));
       },
       {{0}, {1}, {2}, {3}}, {{GroRefusal::kIpOptions, 2}, {GroRefusal::kNoPorts, 2}}},
      {"a port-less packet between the same addresses closes groups, others do not",
       [&](Batch& b) {
         b.add(tcp_seg(ip, 0, 1000, 1));
         b.add(tcp_seg(ip, 1000, 1000, 2));
         auto icmp = tb::build_ip(ip, 1, tb::Bytes(8, 0));
         tb::Bytes other_icmp = icmp;
         other_icmp[19] = 99;  // other destination
         b.add(other_icmp);
         b.add(tcp_seg(ip, 2000, 1000, 3));
         b.add(icmp);
         b.add(tcp_seg(ip, 3000, 1000, 4));
       },
       {{0, 1, 3}, {2}, {4}, {5}}, {{GroRefusal::kNoPorts, 2}}},
      {"inconsistent lengths are not coalesced",
       [&](Batch& b) {
         b.add(tcp_seg(ip, 0, 1000, 1));
         auto p = tcp_seg(ip, 1000, 1000, 2);
         p.push_back(0);  // one byte beyond the IP total length
         b.add(p);
       },
       {{0}, {1}}, {{GroRefusal::kLengthMismatch, 1}}},
      {"max_segments option", [&](Batch& b) {
         for (int i = 0; i < 7; i++) b.add(tcp_seg(ip, i * 100, 100, static_cast<uint16_t>(i)));
       },
       {{0, 1, 2}, {3, 4, 5}, {6}}, {}, max3},
      {"TCP coalescing disabled", [&](Batch& b) {
         b.add(tcp_seg(ip, 0, 100, 1));
         b.add(tcp_seg(ip, 100, 100, 2));
       },
       {{0}, {1}}, {{GroRefusal::kOffloadOff, 2}}, tcp_off},
      {"TCPv6 with flow label and options", [&](Batch& b) {
         for (int i = 0; i < 4; i++) b.add(tcp_seg(v6(), i * 1200, 1200, 0, kTcpAck, ts));
         tb::Ip fl = v6();
         fl.flow_label = 1;
         b.add(tcp_seg(fl, 4800, 1200, 0, kTcpAck, ts));
       },
       {{0, 1, 2, 3}, {4}}, {{GroRefusal::kIpFieldsDiffer, 1}}},
      {"UDP not coalesced unless USO was accepted", [&](Batch& b) {
         b.add(tb::build_udp(ip, 1, 2, tb::pattern(100, 1)));
         b.add(tb::build_udp(ip, 1, 2, tb::pattern(100, 2)));
       },
       {{0}, {1}}, {{GroRefusal::kOffloadOff, 2}}},
      {"UDPv4 equal sizes with a shorter last, per 5-tuple", [&](Batch& b) {
         tb::Ip a = ip;
         for (int i = 0; i < 3; i++) {
           a.id = static_cast<uint16_t>(10 + i);
           b.add(tb::build_udp(a, 1, 2, tb::pattern(100, static_cast<uint8_t>(i))));
           b.add(tb::build_udp(a, 3, 2, tb::pattern(100, static_cast<uint8_t>(i))));
         }
         a.id = 13;
         b.add(tb::build_udp(a, 1, 2, tb::pattern(40, 9)));
         a.id = 14;
         b.add(tb::build_udp(a, 1, 2, tb::pattern(100, 9)));
       },
       {{0, 2, 4, 6}, {1, 3, 5}, {7}}, {}, udp_on},
      {"UDPv6 and an inconsistent UDP length", [&](Batch& b) {
         for (int i = 0; i < 3; i++) b.add(tb::build_udp(v6(), 1, 2, tb::pattern(1280, static_cast<uint8_t>(i))));
         auto bad = tb::build_udp(v6(), 1, 2, tb::pattern(1280, 7));
         tb::put16(&bad[44], 100);  // UDP length disagrees with the IPv6 payload length
         b.add(bad);
       },
       {{0, 1, 2}, {3}}, {{GroRefusal::kUdpLengthMismatch, 1}}, udp_on},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    Batch b;
    c.build(b);
    auto& v = b.finish();
    GroCoalescer gro(c.opts);
    GroPlan plan;
    gro.plan(v.data(), v.size(), &plan);
    CHECK(shape(plan) == c.want);
    CHECK_MESSAGE(refusals_of(plan) == c.refused, "refused: ", describe(refusals_of(plan)));
    check_plan(b, plan, c.opts);
  }
}

TEST_CASE("gro: every refusal has a distinct camelCase name") {
  std::set<std::string> names;
  for (size_t i = 0; i < kGroRefusalCount; i++) {
    const std::string name = gro_refusal_name(static_cast<GroRefusal>(i));
    CAPTURE(name);
    CHECK(name != "unknown");
    CHECK((name[0] >= 'a' && name[0] <= 'z'));
    CHECK(name.find_first_of("_- ") == std::string::npos);
    names.insert(name);
  }
  CHECK(names.size() == kGroRefusalCount);
  CHECK(std::string(gro_refusal_name(GroRefusal::kCount)) == "unknown");
}

TEST_CASE("gro: 65535-byte cap and many flows beyond the table size") {
  tb::Ip ip;
  Batch b;
  // 64 x 1448 would exceed 65535 bytes: the cap cuts the run.
  for (int i = 0; i < 64; i++) b.add(tcp_seg(ip, static_cast<uint32_t>(i) * 1448, 1448, static_cast<uint16_t>(i)));
  auto& v = b.finish();
  GroOptions opts;
  GroCoalescer gro(opts);
  GroPlan plan;
  gro.plan(v.data(), v.size(), &plan);
  REQUIRE(plan.writes.size() == 2);
  CHECK(plan.writes[0].members_count + 1 == 45);  // 40 + 45 * 1448 = 65200 <= 65535
  CHECK(plan.writes[0].total_len == 65200);
  check_plan(b, plan, opts);

  // 40 flows round-robin, 3 packets each: more flows than table slots, every packet exactly
  // once and per-flow order kept (check_plan splits groups back into their members).
  Batch m;
  for (int r = 0; r < 3; r++) {
    for (int f = 0; f < 40; f++) {
      tb::Tcp t;
      t.sport = static_cast<uint16_t>(1000 + f);
      m.add(tcp_seg(ip, static_cast<uint32_t>(r) * 100, 100, static_cast<uint16_t>(r), kTcpAck, t));
    }
  }
  auto& mv = m.finish();
  gro.plan(mv.data(), mv.size(), &plan);
  check_plan(m, plan, opts);
  // Per-flow order: within each flow, first packets of its writes increase.
  for (int f = 0; f < 40; f++) {
    int last = -1;
    for (const auto& g : shape(plan)) {
      for (uint32_t idx : g) {
        if (idx % 40 == static_cast<uint32_t>(f)) {
          CHECK(static_cast<int>(idx) > last);
          last = static_cast<int>(idx);
        }
      }
    }
  }
}

TEST_CASE("gro: split-then-coalesce gives back the superpacket and its virtio header") {
  struct Sp {
    const char* name;
    int version;
    bool udp;
    size_t payload;
    uint16_t gso;
    uint8_t flags;
    tb::Bytes tcp_options;
  };
  std::vector<Sp> cases = {
      {"tcp4", 4, false, 10000, 1448, kTcpAck, {}},
      {"tcp4 last shorter, PSH", 4, false, 10001, 1448, kTcpAck | kTcpPsh, {}},
      {"tcp4 timestamps", 4, false, 30000, 1436, kTcpAck, {1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8}},
      {"tcp6", 6, false, 60000, 1428, kTcpAck | kTcpPsh, {}},
      {"udp4", 4, true, 12000, 1200, 0, {}},
      {"udp6 last shorter", 6, true, 12345, 1232, 0, {}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    tb::Ip ip = c.version == 4 ? tb::Ip{} : v6();
    auto payload = tb::pattern(c.payload, 77);
    tb::Bytes super;
    if (c.udp) {
      super = tb::build_udp(ip, 5000, 6000, payload, tb::Csum::partial);
    } else {
      tb::Tcp t;
      t.flags = c.flags;
      t.options = c.tcp_options;
      t.seq = 0xfffff000u;  // wraps during the run
      super = tb::build_tcp(ip, t, payload, tb::Csum::partial);
    }
    size_t ihl = c.version == 4 ? 20 : 40;
    VirtioNetHdr h;
    h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h.gso_type = c.udp ? VIRTIO_NET_HDR_GSO_UDP_L4
                       : (c.version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6);
    h.hdr_len = static_cast<uint16_t>(ihl + (c.udp ? 8 : 20 + c.tcp_options.size()));
    h.gso_size = c.gso;
    h.csum_start = static_cast<uint16_t>(ihl);
    h.csum_offset = c.udp ? 6 : 16;
    tb::VectorSink sink;
    REQUIRE(gso_split(h, super.data(), super.size(), sink) == SplitResult::ok);
    Batch b;
    for (auto& s : sink.segs) b.add(s);
    auto& v = b.finish();
    GroOptions opts;
    opts.udp = true;
    GroCoalescer gro(opts);
    GroPlan plan;
    gro.plan(v.data(), v.size(), &plan);
    REQUIRE(plan.writes.size() == 1);
    CHECK(plan.writes[0].hdr == h);
    CHECK(assemble(b, plan, plan.writes[0]) == super);
    check_plan(b, plan, opts);
  }
}

TEST_CASE("gro: empty batch and null/zero-length packets") {
  GroCoalescer gro;
  GroPlan plan;
  gro.plan(nullptr, 0, &plan);
  CHECK(plan.writes.empty());
  uint8_t byte = 0x45;
  GroPacket p[2] = {{nullptr, 0}, {&byte, 1}};
  gro.plan(p, 2, &plan);
  REQUIRE(plan.writes.size() == 2);
  CHECK(plan.writes[1].packet == 1);
  CHECK(plan.writes[1].hdr == VirtioNetHdr{});
}
