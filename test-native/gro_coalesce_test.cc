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

// One TCP segment: sequence number, payload length (pattern seeded by the sequence number)
// and IPv4 ID named; anything else of tb::Spec's named fields set by `change`.
tb::Bytes seg(uint32_t seq, size_t len, uint16_t id, const tb::Change& change = nullptr) {
  return tb::packet([&](tb::Spec& p) {
    p.ip.id = id;
    p.tcp.seq = seq;
    p.payload = tb::pattern(len, static_cast<uint8_t>(seq));
    if (change) change(p);
  });
}

// A segment of a run: its payload length and what sets it apart from the run's other segments.
struct Seg {
  Seg(size_t len, tb::Change change = nullptr) : len(len), change(std::move(change)) {}  // NOLINT: implicit
  size_t len;
  tb::Change change;
};

// One flow's segments back to back from sequence number `seq` with IPv4 IDs counting up from
// `id`, as a sender's TSO would cut them; `all` changes every segment, then each its own.
void add_run(Batch& b, const std::vector<Seg>& segs, const tb::Change& all = nullptr, uint32_t seq = 0,
             uint16_t id = 1) {
  for (const Seg& s : segs) {
    b.add(seg(seq, s.len, id++, [&](tb::Spec& p) {
      if (all) all(p);
      if (s.change) s.change(p);
    }));
    seq += static_cast<uint32_t>(s.len);
  }
}

// The changes the tables use, named for what they do to a packet.
void to_v6(tb::Spec& p) {
  p.ip.version = 6;
  p.ip.flow_label = 0xabcde;
  p.ip.tos = 0x20;
}
tb::Change tcp_flags(uint8_t flags) {
  return [flags](tb::Spec& p) { p.tcp.flags = flags; };
}
const tb::Bytes kTimestamps = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};  // NOP NOP timestamps
void with_timestamps(tb::Spec& p) { p.tcp.options = kTimestamps; }
void as_udp(tb::Spec& p) { p.proto = 17; }

// A UDP datagram from port `sport` to port 2 with `len` bytes of pattern `seed`.
tb::Bytes udp(uint16_t sport, size_t len, uint8_t seed, const tb::Change& change = nullptr) {
  return tb::packet([&](tb::Spec& p) {
    as_udp(p);
    p.udp.sport = sport;
    p.udp.dport = 2;
    p.payload = tb::pattern(len, seed);
    if (change) change(p);
  });
}

}  // namespace

TEST_CASE("gro: TCPv4 run becomes one superpacket equal to the kernel's") {
  Batch b;
  add_run(b, {1000, 1000, 1000, 1000, 1000}, nullptr, 1000, 7);
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
  CHECK(assemble(b, plan, w) == tb::packet([&](tb::Spec& p) {
    p.ip.id = 7;
    p.tcp.seq = 1000;
    p.payload = payload;
    p.csum = tb::Csum::partial;
  }));
  check_plan(b, plan, opts);
}

namespace {
using Refusals = std::map<GroRefusal, uint32_t>;
// A row of the rules table, built by name so that each reads as its rule:
//   rule("...").packets(what is written).writes(the groups expected).refusals(why, how many)
struct GroCase {
  const char* name;
  std::function<void(Batch&)> build;
  std::vector<std::vector<uint32_t>> want;  // each write: the indexes of its packets
  Refusals refused;  // the reason each packet was kept out of a group (GroStats::refused)
  GroOptions opts = {};

  GroCase packets(std::function<void(Batch&)> f) const { GroCase c = *this; c.build = std::move(f); return c; }
  GroCase writes(std::vector<std::vector<uint32_t>> w) const { GroCase c = *this; c.want = std::move(w); return c; }
  GroCase refusals(Refusals r) const { GroCase c = *this; c.refused = std::move(r); return c; }
  GroCase options(GroOptions o) const { GroCase c = *this; c.opts = o; return c; }
};
GroCase rule(const char* name) {
  GroCase c;
  c.name = name;
  return c;
}

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
  GroOptions udp_on;
  udp_on.udp = true;
  GroOptions max3;
  max3.max_segments = 3;
  GroOptions tcp_off;
  tcp_off.tcp = false;
  const tb::Change psh = tcp_flags(TH_ACK | TH_PUSH);

  std::vector<GroCase> cases = {
      rule("last segment shorter closes the group")
          .packets([&](Batch& b) { add_run(b, {1000, 1000, 500, 1000, 1000}); })
          .writes({{0, 1, 2}, {3, 4}}),
      rule("larger segment does not join")
          .packets([&](Batch& b) { add_run(b, {500, 1000}); })
          .writes({{0}, {1}})
          .refusals({{GroRefusal::kLargerThanSegment, 1}}),
      rule("PSH only on the last member, restored on the head")
          .packets([&](Batch& b) { add_run(b, {1000, {1000, psh}, 1000}); })
          .writes({{0, 1}, {2}}),
      rule("PSH on a head is written alone")
          .packets([&](Batch& b) { add_run(b, {{1000, psh}, 1000, 1000}); })
          .writes({{0}, {1, 2}})
          .refusals({{GroRefusal::kPshOnHead, 1}}),
      rule("out of order starts new groups")
          .packets([&](Batch& b) {
            for (uint16_t k : {0, 2, 1, 2}) b.add(seg(k * 1000u, 1000, static_cast<uint16_t>(k + 1)));
          })
          .writes({{0}, {1}, {2, 3}})
          .refusals({{GroRefusal::kSeqNotAdjacent, 2}}),
      rule("interleaved flows group per flow")
          .packets([&](Batch& b) {
            for (uint16_t i = 0; i < 3; i++) {
              b.add(seg(100 + i * 1000u, 1000, static_cast<uint16_t>(1 + i)));
              b.add(seg(900 + i * 1000u, 1000, static_cast<uint16_t>(50 + i), [](tb::Spec& p) { p.tcp.sport = 40001; }));
            }
          })
          .writes({{0, 2, 4}, {1, 3, 5}}),
      rule("TCP options must be identical")
          .packets([&](Batch& b) {
            const tb::Change newer_timestamp = [](tb::Spec& p) { p.tcp.options[11] = 3; };
            add_run(b, {1000, 1000, {1000, newer_timestamp}}, with_timestamps);
          })
          .writes({{0, 1}, {2}})
          .refusals({{GroRefusal::kTcpFieldsDiffer, 1}}),
      rule("different ACK number, window or TTL")
          .packets([&](Batch& b) {
            const tb::Change ack = [](tb::Spec& p) { p.tcp.ack = 9999; };
            const tb::Change window = [&](tb::Spec& p) { ack(p); p.tcp.window = 1; };
            const tb::Change ttl = [&](tb::Spec& p) { window(p); p.ip.ttl = 3; };
            add_run(b, {1000, {1000, ack}, {1000, window}, {1000, ttl}});
          })
          .writes({{0}, {1}, {2}, {3}})
          .refusals({{GroRefusal::kTcpFieldsDiffer, 2}, {GroRefusal::kIpFieldsDiffer, 1}}),
      rule("different TOS (ECN CE) or DF")
          .packets([&](Batch& b) {
            const tb::Change ce = [](tb::Spec& p) { p.ip.tos = 3; };
            const tb::Change no_df = [](tb::Spec& p) { p.ip.df = false; };
            add_run(b, {1000, {1000, ce}, {1000, no_df}});
          })
          .writes({{0}, {1}, {2}})
          .refusals({{GroRefusal::kIpFieldsDiffer, 2}}),
      rule("SYN, RST, URG, CWR, ECE, FIN are never coalesced; a FIN closes its flow's group")
          .packets([&](Batch& b) {
            add_run(b, {1000, 1000, {1000, tcp_flags(TH_ACK | TH_FIN)},
                        1000,  // must not join the first group (would reorder)
                        {1000, tcp_flags(TH_ACK | TH_CWR)}, {1000, tcp_flags(TH_ACK | TH_ECE)},
                        {1000, tcp_flags(TH_ACK | TH_URG)}, {1000, tcp_flags(TH_SYN | TH_ACK)},
                        {1000, tcp_flags(TH_RST | TH_ACK)}});
          })
          .writes({{0, 1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}})
          .refusals({{GroRefusal::kTcpFlags, 6}}),
      rule("pure ACKs are written alone and keep their place")
          .packets([&](Batch& b) { add_run(b, {1000, 0, 1000, 1000}); })
          .writes({{0}, {1}, {2, 3}})
          .refusals({{GroRefusal::kNoPayload, 1}}),
      rule("IPv4 options and fragments are not coalesced")
          .packets([&](Batch& b) {
            const tb::Change ip_options = [](tb::Spec& p) { p.ip.v4_options = {1, 1, 1, 0}; };
            const tb::Change more_fragments = [](tb::Spec& p) { p.ip.mf = true; };
            add_run(b, {{1000, ip_options}, {1000, ip_options}, {1000, more_fragments}, {1000, more_fragments}});
          })
          .writes({{0}, {1}, {2}, {3}})
          .refusals({{GroRefusal::kIpOptions, 2}, {GroRefusal::kNoPorts, 2}}),
      rule("a port-less packet between the same addresses closes groups, others do not")
          .packets([&](Batch& b) {
            add_run(b, {1000, 1000});
            auto icmp = tb::build_ip(tb::Ip{}, 1, tb::Bytes(8, 0));
            tb::Bytes other_icmp = icmp;
            other_icmp[19] = 99;  // other destination
            b.add(other_icmp);
            b.add(seg(2000, 1000, 3));
            b.add(icmp);
            b.add(seg(3000, 1000, 4));
          })
          .writes({{0, 1, 3}, {2}, {4}, {5}})
          .refusals({{GroRefusal::kNoPorts, 2}}),
      rule("inconsistent lengths are not coalesced")
          .packets([&](Batch& b) {
            b.add(seg(0, 1000, 1));
            auto p = seg(1000, 1000, 2);
            p.push_back(0);  // one byte beyond the IP total length
            b.add(p);
          })
          .writes({{0}, {1}})
          .refusals({{GroRefusal::kLengthMismatch, 1}}),
      rule("max_segments option")
          .packets([&](Batch& b) { add_run(b, std::vector<Seg>(7, 100), nullptr, 0, 0); })
          .writes({{0, 1, 2}, {3, 4, 5}, {6}})
          .options(max3),
      rule("TCP coalescing disabled")
          .packets([&](Batch& b) { add_run(b, {100, 100}); })
          .writes({{0}, {1}})
          .refusals({{GroRefusal::kOffloadOff, 2}})
          .options(tcp_off),
      rule("TCPv6 with flow label and options")
          .packets([&](Batch& b) {
            const tb::Change other_flow_label = [](tb::Spec& p) { p.ip.flow_label = 1; };
            add_run(b, {1200, 1200, 1200, 1200, {1200, other_flow_label}}, [](tb::Spec& p) {
              to_v6(p);
              with_timestamps(p);
            });
          })
          .writes({{0, 1, 2, 3}, {4}})
          .refusals({{GroRefusal::kIpFieldsDiffer, 1}}),
      rule("UDP not coalesced unless USO was accepted")
          .packets([&](Batch& b) {
            b.add(udp(1, 100, 1));
            b.add(udp(1, 100, 2));
          })
          .writes({{0}, {1}})
          .refusals({{GroRefusal::kOffloadOff, 2}}),
      rule("UDPv4 equal sizes with a shorter last, per 5-tuple")
          .packets([&](Batch& b) {
            auto id = [](uint16_t n) { return [n](tb::Spec& p) { p.ip.id = n; }; };
            for (uint8_t i = 0; i < 3; i++) {
              b.add(udp(1, 100, i, id(static_cast<uint16_t>(10 + i))));
              b.add(udp(3, 100, i, id(static_cast<uint16_t>(10 + i))));
            }
            b.add(udp(1, 40, 9, id(13)));
            b.add(udp(1, 100, 9, id(14)));
          })
          .writes({{0, 2, 4, 6}, {1, 3, 5}, {7}})
          .options(udp_on),
      rule("UDPv6 and an inconsistent UDP length")
          .packets([&](Batch& b) {
            for (uint8_t i = 0; i < 3; i++) b.add(udp(1, 1280, i, to_v6));
            auto bad = udp(1, 1280, 7, to_v6);
            tb::put16(&bad[44], 100);  // UDP length disagrees with the IPv6 payload length
            b.add(bad);
          })
          .writes({{0, 1, 2}, {3}})
          .refusals({{GroRefusal::kUdpLengthMismatch, 1}})
          .options(udp_on),
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
  Batch b;
  // 64 x 1448 would exceed 65535 bytes: the cap cuts the run.
  add_run(b, std::vector<Seg>(64, 1448), nullptr, 0, 0);
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
      m.add(seg(static_cast<uint32_t>(r) * 100, 100, static_cast<uint16_t>(r),
                [f](tb::Spec& p) { p.tcp.sport = static_cast<uint16_t>(1000 + f); }));
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
  // A row: the superpacket as named fields (tb::Spec) and the segment size to cut it into.
  struct Sp {
    const char* name;
    uint16_t gso_size;
    tb::Change superpacket;
  };
  const auto payload = [](size_t n) { return [n](tb::Spec& p) { p.payload = tb::pattern(n, 77); }; };
  std::vector<Sp> cases = {
      {"tcp4", 1448, payload(10000)},
      {"tcp4 last shorter, PSH", 1448, [&](tb::Spec& p) { payload(10001)(p); p.tcp.flags = TH_ACK | TH_PUSH; }},
      {"tcp4 timestamps", 1436, [&](tb::Spec& p) { payload(30000)(p); p.tcp.options = {1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8}; }},
      {"tcp6", 1428, [&](tb::Spec& p) { payload(60000)(p); to_v6(p); p.tcp.flags = TH_ACK | TH_PUSH; }},
      {"udp4", 1200, [&](tb::Spec& p) { payload(12000)(p); as_udp(p); }},
      {"udp6 last shorter", 1232, [&](tb::Spec& p) { payload(12345)(p); to_v6(p); as_udp(p); }},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    tb::Spec spec;
    spec.tcp.seq = 0xfffff000u;  // wraps during the run
    spec.udp.sport = 5000;
    spec.udp.dport = 6000;
    spec.csum = tb::Csum::partial;
    c.superpacket(spec);
    const tb::Bytes super = tb::build(spec);
    const bool udp = spec.proto == 17;
    const size_t ihl = spec.ip.version == 4 ? 20 : 40;
    VirtioNetHdr h;
    h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h.gso_type = udp ? VIRTIO_NET_HDR_GSO_UDP_L4
                     : (spec.ip.version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6);
    h.hdr_len = static_cast<uint16_t>(ihl + (udp ? 8 : 20 + spec.tcp.options.size()));
    h.gso_size = c.gso_size;
    h.csum_start = static_cast<uint16_t>(ihl);
    h.csum_offset = udp ? 6 : 16;
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
