// Table tests of plan_udp_sends(): which datagrams share one UDP_SEGMENT message.
#include <doctest.h>

#include <cstring>
#include <vector>

#include "buffer_pool.h"
#include "packet.h"
#include "test_endpoints.h"
#include "udp_send_plan.h"

using namespace tunio;

namespace {

// Packets that only need lengths and endpoints: the planner never reads the bytes, but a
// packet with a length must own memory (or it is planned as invalid), so all share one slot.
struct Batch {
  BufferPool pool{1 << 20};
  Slot* slot = pool.acquire_large();
  std::vector<Packet> pkts;
  ~Batch() {
    pkts.clear();
    BufferPool::unref(slot);
  }
  Packet& add(uint32_t len, const IpEndpoint& to = IpEndpoint{}) {
    Packet p;
    p.slot = SlotRef::share(slot);
    p.length = len;
    p.remote = to;
    pkts.push_back(std::move(p));
    return pkts.back();
  }
  void add_n(size_t n, uint32_t len, const IpEndpoint& to = IpEndpoint{}) {
    for (size_t i = 0; i < n; i++) add(len, to);
  }
};

struct G {
  uint32_t first, count;
  uint16_t gso;
};

std::vector<SendGroup> plan(const Batch& b, const IpEndpoint* default_to, uint16_t max_segments = 64,
                            bool gso = true) {
  SendPlanLimits limits;
  limits.gso = gso;
  limits.max_segments = max_segments;
  std::vector<SendGroup> out;
  plan_udp_sends(b.pkts.data(), b.pkts.size(), default_to, limits, out);
  return out;
}

void expect(const std::vector<SendGroup>& got, const std::vector<G>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); i++) {
    CAPTURE(i);
    CHECK(got[i].first == want[i].first);
    CHECK(got[i].count == want[i].count);
    CHECK(got[i].gso_size == want[i].gso);
    CHECK_FALSE(got[i].invalid);
  }
}

}  // namespace

// Datagrams to one peer, in runs of equal sizes: which of them share a UDP_SEGMENT message.
struct Run {
  size_t count;
  uint32_t size;
};
struct OnePeerRow {
  const char* rule;
  std::vector<Run> runs;
  std::vector<G> want;
  uint16_t max_segments = 64;
  bool gso = true;
};

TEST_CASE("udp plan: runs to one peer, one rule a row") {
  const OnePeerRow rows[] = {
      {"equal sizes make one GSO message", {{10, 1400}}, {{0, 10, 1400}}},
      {"a shorter last datagram joins the run and ends it; a full-size one cannot follow it",
       {{5, 1400}, {1, 300}, {3, 1400}}, {{0, 6, 1400}, {6, 3, 1400}}},
      {"a longer datagram starts a new run", {{3, 1000}, {2, 1200}}, {{0, 3, 1000}, {3, 2, 1200}}},
      {"46 x 1,400 fit the 65,507-byte cap", {{46, 1400}}, {{0, 46, 1400}}},
      {"64 x 1,400 do not", {{64, 1400}}, {{0, 46, 1400}, {46, 18, 1400}}},
      {"47 x 1,393 = 65,471 fit", {{47, 1393}}, {{0, 47, 1393}}},
      {"47 x 1,394 = 65,518 do not", {{47, 1394}}, {{0, 46, 1394}, {46, 1, 0}}},
      {"the cap counts a shorter last datagram exactly: 64,400 + 1,107 = 65,507 fits",
       {{46, 1400}, {1, 1107}}, {{0, 47, 1400}}},
      {"one byte over the cap goes alone", {{46, 1400}, {1, 1108}}, {{0, 46, 1400}, {46, 1, 0}}},
      {"64 segments at most", {{128, 100}}, {{0, 64, 100}, {64, 64, 100}}},
      {"128 segments at most", {{128, 100}}, {{0, 128, 100}}, 128},
      {"past 128 a new run", {{130, 100}}, {{0, 128, 100}, {128, 2, 100}}, 128},
      {"0-byte datagrams are never segments, not even a shorter last one",
       {{2, 0}, {2, 100}, {1, 0}}, {{0, 1, 0}, {1, 1, 0}, {2, 2, 100}, {4, 1, 0}}},
      {"datagrams too big to pair go alone; 2 x 32,753 = 65,506 pair",
       {{3, 40000}, {2, 32753}}, {{0, 1, 0}, {1, 1, 0}, {2, 1, 0}, {3, 2, 32753}}},
      {"without GSO every datagram is its own message", {{5, 1400}},
       {{0, 1, 0}, {1, 1, 0}, {2, 1, 0}, {3, 1, 0}, {4, 1, 0}}, 64, false},
      {"max_segments below 2 is no GSO (a segment of one is pointless)", {{5, 1400}},
       {{0, 1, 0}, {1, 1, 0}, {2, 1, 0}, {3, 1, 0}, {4, 1, 0}}, 1},
  };
  const IpEndpoint peer = host4(1, 51820);
  for (const OnePeerRow& row : rows) {
    CAPTURE(row.rule);
    Batch b;
    for (const Run& run : row.runs) b.add_n(run.count, run.size, peer);
    expect(plan(b, nullptr, row.max_segments, row.gso), row.want);
  }
}

TEST_CASE("udp plan: a single datagram never carries a UDP_SEGMENT size") {
  Batch b;
  b.add(1400, host4(1, 1));
  b.add(1400, host4(2, 1));
  b.add(1400, host4(1, 1));
  expect(plan(b, nullptr), {{0, 1, 0}, {1, 1, 0}, {2, 1, 0}});
}

TEST_CASE("udp plan: mixed destinations split runs, same address other port too") {
  Batch b;
  b.add_n(4, 1200, host4(1, 1000));
  b.add_n(4, 1200, host4(2, 1000));
  b.add_n(2, 1200, host4(2, 1001));
  b.add_n(2, 1200, host6(2, 1001));
  expect(plan(b, nullptr), {{0, 4, 1200}, {4, 4, 1200}, {8, 2, 1200}, {10, 2, 1200}});
}

TEST_CASE("udp plan: IPv6 scope ids keep link-local peers apart") {
  Batch b;
  IpEndpoint a = host6(1, 1);
  a.scope_id = 2;
  IpEndpoint c = a;
  c.scope_id = 3;
  b.add_n(2, 100, a);
  b.add_n(2, 100, c);
  expect(plan(b, nullptr), {{0, 2, 100}, {2, 2, 100}});
}

TEST_CASE("udp plan: stops after max_messages, at a message boundary") {
  Batch b;
  b.add_n(10, 1400, host4(1, 1));
  b.add(300, host4(2, 1));
  b.add_n(4, 1400, host4(1, 1));
  SendPlanLimits limits;
  limits.gso = true;
  limits.max_messages = 2;
  std::vector<SendGroup> out;
  CHECK(plan_udp_sends(b.pkts.data(), b.pkts.size(), nullptr, limits, out) == 2);
  expect(out, {{0, 10, 1400}, {10, 1, 0}});
  limits.gso = false;  // one message per datagram: the plan is as long as the limit
  CHECK(plan_udp_sends(b.pkts.data(), b.pkts.size(), nullptr, limits, out) == 2);
  expect(out, {{0, 1, 0}, {1, 1, 0}});
}

TEST_CASE("udp plan: per-packet source address and ECN split runs") {
  Batch b;
  const IpEndpoint peer = host4(1, 1);
  IpEndpoint src_a = host4(100, 0);
  src_a.ifindex = 2;
  IpEndpoint src_b = src_a;
  src_b.ifindex = 3;  // same address, other interface: another message
  b.add_n(2, 500, peer);
  for (int i = 0; i < 2; i++) b.add(500, peer).local = src_a;
  for (int i = 0; i < 2; i++) b.add(500, peer).local = src_b;
  for (int i = 0; i < 2; i++) b.add(500, peer).ecn = 2;   // ECT(0)
  for (int i = 0; i < 2; i++) b.add(500, peer).ecn = 3;   // CE
  b.add_n(2, 500, peer);
  expect(plan(b, nullptr),
         {{0, 2, 500}, {2, 2, 500}, {4, 2, 500}, {6, 2, 500}, {8, 2, 500}, {10, 2, 500}});
}

TEST_CASE("udp plan: default destination and explicit equal destination are one peer") {
  Batch b;
  const IpEndpoint peer = host4(7, 7);
  b.add_n(2, 800);        // empty remote: default_to
  b.add_n(2, 800, peer);  // explicit, equal to default_to
  b.add_n(2, 800, host4(8, 7));
  expect(plan(b, &peer), {{0, 4, 800}, {4, 2, 800}});
  // Connected socket: no destination at all groups too.
  Batch c;
  c.add_n(3, 800);
  expect(plan(c, nullptr), {{0, 3, 800}});
}

TEST_CASE("udp plan: a packet with a length but no memory is planned as invalid") {
  Batch b;
  const IpEndpoint peer = host4(1, 1);
  b.add_n(2, 100, peer);
  Packet bad;
  bad.length = 100;
  bad.remote = peer;
  b.pkts.push_back(std::move(bad));
  b.add_n(2, 100, peer);
  std::vector<SendGroup> got = plan(b, nullptr);
  REQUIRE(got.size() == 3);
  CHECK(got[0].count == 2);
  CHECK(got[1].invalid);
  CHECK(got[1].first == 2);
  CHECK(got[2].first == 3);
  CHECK(got[2].count == 2);
}
