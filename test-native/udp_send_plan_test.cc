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

TEST_CASE("udp plan: equal sizes to one peer make one GSO message") {
  Batch b;
  const IpEndpoint peer = host4(1, 51820);
  b.add_n(10, 1400, peer);
  expect(plan(b, nullptr), {{0, 10, 1400}});
}

TEST_CASE("udp plan: a shorter last datagram joins the run and ends it") {
  Batch b;
  const IpEndpoint peer = host4(1, 51820);
  b.add_n(5, 1400, peer);
  b.add(300, peer);
  b.add_n(3, 1400, peer);  // cannot follow a shorter one: starts a new run
  expect(plan(b, nullptr), {{0, 6, 1400}, {6, 3, 1400}});
}

TEST_CASE("udp plan: a longer datagram starts a new run") {
  Batch b;
  const IpEndpoint peer = host4(1, 1);
  b.add_n(3, 1000, peer);
  b.add_n(2, 1200, peer);
  expect(plan(b, nullptr), {{0, 3, 1000}, {3, 2, 1200}});
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

TEST_CASE("udp plan: 46 x 1400 fit one message, 64 x 1400 do not (65,507 byte cap)") {
  Batch b46;
  b46.add_n(46, 1400, host4(1, 1));
  expect(plan(b46, nullptr), {{0, 46, 1400}});

  Batch b64;
  b64.add_n(64, 1400, host4(1, 1));
  expect(plan(b64, nullptr), {{0, 46, 1400}, {46, 18, 1400}});

  // 47 x 1,393 = 65,471 fits; one more byte per datagram (47 x 1,394 = 65,518) does not.
  Batch fit;
  fit.add_n(47, 1393, host4(1, 1));
  expect(plan(fit, nullptr), {{0, 47, 1393}});
  Batch over;
  over.add_n(47, 1394, host4(1, 1));
  expect(plan(over, nullptr), {{0, 46, 1394}, {46, 1, 0}});
}

TEST_CASE("udp plan: the payload cap counts a shorter last datagram exactly") {
  Batch b;
  b.add_n(46, 1400, host4(1, 1));  // 64,400
  b.add(1107, host4(1, 1));        // 65,507 exactly: still fits
  expect(plan(b, nullptr), {{0, 47, 1400}});
  Batch c;
  c.add_n(46, 1400, host4(1, 1));
  c.add(1108, host4(1, 1));  // one byte over
  expect(plan(c, nullptr), {{0, 46, 1400}, {46, 1, 0}});
}

TEST_CASE("udp plan: max segments 64 versus 128") {
  Batch b;
  b.add_n(128, 100, host4(1, 1));
  expect(plan(b, nullptr, 64), {{0, 64, 100}, {64, 64, 100}});
  expect(plan(b, nullptr, 128), {{0, 128, 100}});
  Batch c;
  c.add_n(130, 100, host4(1, 1));
  expect(plan(c, nullptr, 128), {{0, 128, 100}, {128, 2, 100}});
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

TEST_CASE("udp plan: without GSO every datagram is its own message") {
  Batch b;
  b.add_n(5, 1400, host4(1, 1));
  expect(plan(b, nullptr, 64, false), {{0, 1, 0}, {1, 1, 0}, {2, 1, 0}, {3, 1, 0}, {4, 1, 0}});
  // max_segments < 2 means the same (GSO of one segment is pointless)
  expect(plan(b, nullptr, 1, true), {{0, 1, 0}, {1, 1, 0}, {2, 1, 0}, {3, 1, 0}, {4, 1, 0}});
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

TEST_CASE("udp plan: 0-byte datagrams are never segments") {
  Batch b;
  const IpEndpoint peer = host4(1, 1);
  b.add(0, peer);
  b.add(0, peer);
  b.add_n(2, 100, peer);
  b.add(0, peer);  // would be a "shorter last" of size 0: must stay its own datagram
  expect(plan(b, nullptr), {{0, 1, 0}, {1, 1, 0}, {2, 2, 100}, {4, 1, 0}});
}

TEST_CASE("udp plan: datagrams too big to pair go alone") {
  Batch b;
  b.add_n(3, 40000, host4(1, 1));  // two would exceed 65,507
  b.add_n(2, 32753, host4(1, 1));  // 65,506: a pair fits
  expect(plan(b, nullptr), {{0, 1, 0}, {1, 1, 0}, {2, 1, 0}, {3, 2, 32753}});
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
