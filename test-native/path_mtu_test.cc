// PathMtuTable: per peer address, an event only when the reported path MTU changes.
#include <doctest.h>

#include <string>

#include "path_mtu.h"
#include "test_endpoints.h"

using namespace tunio;

TEST_CASE("path mtu: first report and changes are events, repeats are not, per address") {
  PathMtuTable t;
  CHECK(t.report(host4(1, 5000), 1280, MtuSource::kIcmp));
  CHECK_FALSE(t.report(host4(1, 5001), 1280, MtuSource::kLocal));  // another port: same path
  CHECK(t.report(host4(2, 5000), 1280, MtuSource::kLocal));        // another peer
  CHECK(t.report(host4(1, 5000), 1400, MtuSource::kRoute));        // changed
  CHECK_FALSE(t.report(host4(1), 0, MtuSource::kRoute));            // no MTU: ignored
  CHECK_FALSE(t.report(IpEndpoint{}, 1280, MtuSource::kRoute));     // no address: ignored
  CHECK(t.last(host4(1, 9)) == 1400);
  CHECK(t.last(host4(3)) == 0);
  CHECK(t.reports() == 4);
  std::vector<PathMtuEvent> ev = t.take_events();
  REQUIRE(ev.size() == 3);
  CHECK(ev[0].mtu == 1280);
  CHECK(ev[0].source == MtuSource::kIcmp);
  CHECK(ev[0].dest.port == 0);  // an address, not an endpoint
  CHECK(ev[1].dest.addr[3] == 2);
  CHECK(ev[2].mtu == 1400);
  CHECK(std::string(mtu_source_name(ev[2].source)) == "route");
  CHECK(t.take_events().empty());
  CHECK_FALSE(t.has_events());
}

TEST_CASE("path mtu: IPv6 scope ids keep link-local peers apart; bounded peers and events") {
  PathMtuTable t;
  IpEndpoint a;
  a.family = 6;
  a.addr[0] = 0xfe;
  a.addr[1] = 0x80;
  a.addr[15] = 1;
  a.scope_id = 2;
  IpEndpoint b = a;
  b.scope_id = 3;
  CHECK(t.report(a, 1280, MtuSource::kIcmp6));
  CHECK(t.report(b, 1280, MtuSource::kIcmp6));
  t.take_events();
  // More peers than the table holds: the oldest are forgotten (a report for one of them is
  // an event again), nothing grows without bound.
  for (size_t i = 0; i < PathMtuTable::kMaxPeers + 10; i++) {
    IpEndpoint e;
    e.family = 4;
    e.addr[0] = 10;
    e.addr[2] = static_cast<uint8_t>(i >> 8);
    e.addr[3] = static_cast<uint8_t>(i);
    t.report(e, 1400, MtuSource::kLocal);
  }
  CHECK(t.take_events().size() == PathMtuTable::kMaxEvents);
  CHECK(t.events_dropped() == PathMtuTable::kMaxPeers + 10 - PathMtuTable::kMaxEvents);
  CHECK(t.last(a) == 0);  // evicted
}
