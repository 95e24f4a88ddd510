// Link events (link_monitor.h): the tracker with canned messages, and the monitor against the
// kernel in a throwaway network namespace (`ip link set down/up/mtu`, device removal).
#include <doctest.h>

#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "link_monitor.h"
#include "netns.h"
#include "tun_device.h"

using tunio::LinkChange;
using tunio::LinkEvent;
using tunio::LinkTracker;

namespace {

// An RTM_NEWLINK/RTM_DELLINK message as the kernel sends it (the attributes we read).
std::vector<uint8_t> link_msg(uint16_t type, int ifindex, uint32_t flags, uint32_t mtu, uint8_t operstate,
                              uint32_t seq = 0, uint32_t pid = 0) {
  std::vector<uint8_t> m(NLMSG_SPACE(sizeof(ifinfomsg)) + RTA_SPACE(4) + RTA_SPACE(1), 0);
  nlmsghdr* h = reinterpret_cast<nlmsghdr*>(m.data());
  h->nlmsg_len = uint32_t(m.size());
  h->nlmsg_type = type;
  h->nlmsg_seq = seq;
  h->nlmsg_pid = pid;
  ifinfomsg* ifi = static_cast<ifinfomsg*>(NLMSG_DATA(h));
  ifi->ifi_index = ifindex;
  ifi->ifi_flags = flags;
  rtattr* a = reinterpret_cast<rtattr*>(m.data() + NLMSG_SPACE(sizeof(ifinfomsg)));
  a->rta_type = IFLA_MTU;
  a->rta_len = RTA_LENGTH(4);
  memcpy(RTA_DATA(a), &mtu, 4);
  a = reinterpret_cast<rtattr*>(reinterpret_cast<uint8_t*>(a) + RTA_SPACE(4));
  a->rta_type = IFLA_OPERSTATE;
  a->rta_len = RTA_LENGTH(1);
  *static_cast<uint8_t*>(RTA_DATA(a)) = operstate;
  return m;
}

std::vector<LinkEvent> feed(LinkTracker& t, const std::vector<uint8_t>& m) {
  std::vector<LinkEvent> out;
  int err = 0;
  CHECK(t.on_message(reinterpret_cast<const nlmsghdr*>(m.data()), &out, &err));
  return out;
}

constexpr uint32_t kUp = IFF_UP | IFF_RUNNING;

}  // namespace

TEST_CASE("link tracker: baseline from the snapshot, then up/down/mtu/removed") {
  LinkTracker t(5);
  t.expect_snapshot(77, 1234);
  // Queued before the snapshot's answer: older news, skipped (no baseline from it either).
  CHECK(feed(t, link_msg(RTM_NEWLINK, 5, 0, 1400, 2)).empty());
  CHECK_FALSE(t.synced());
  CHECK(feed(t, link_msg(RTM_NEWLINK, 5, kUp, 1500, 0, 77, 1234)).empty());
  CHECK(t.synced());
  CHECK(t.state().mtu == 1500);
  CHECK(feed(t, link_msg(RTM_NEWLINK, 5, kUp, 1500, 0)).empty());  // nothing changed
  CHECK(feed(t, link_msg(RTM_NEWLINK, 6, 0, 1280, 2)).empty());    // another link

  std::vector<LinkEvent> ev = feed(t, link_msg(RTM_NEWLINK, 5, IFF_RUNNING, 1500, 2));
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].change == LinkChange::kDown);
  CHECK(std::string(tunio::operstate_name(ev[0].state.operstate)) == "DOWN");
  ev = feed(t, link_msg(RTM_NEWLINK, 5, kUp, 1420, 0));
  REQUIRE(ev.size() == 2);  // both changed in one message: one event each
  CHECK(ev[0].change == LinkChange::kMtu);
  CHECK(ev[0].previous_mtu == 1500);
  CHECK(ev[0].state.mtu == 1420);
  CHECK(ev[1].change == LinkChange::kUp);
  CHECK(std::string(tunio::link_change_name(ev[1].change)) == "up");

  ev = feed(t, link_msg(RTM_DELLINK, 5, 0, 1420, 2));
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].change == LinkChange::kRemoved);
  CHECK(t.removed());
  CHECK(feed(t, link_msg(RTM_NEWLINK, 5, kUp, 9000, 0)).empty());  // nothing after removal
}

TEST_CASE("link tracker: a snapshot refused with ENODEV is a removal; other errors are returned") {
  std::vector<uint8_t> m(NLMSG_SPACE(sizeof(nlmsgerr)), 0);
  nlmsghdr* h = reinterpret_cast<nlmsghdr*>(m.data());
  h->nlmsg_len = uint32_t(m.size());
  h->nlmsg_type = NLMSG_ERROR;
  h->nlmsg_seq = 9;
  h->nlmsg_pid = 1;
  static_cast<nlmsgerr*>(NLMSG_DATA(h))->error = -ENODEV;
  LinkTracker t(5);
  t.expect_snapshot(9, 1);
  std::vector<LinkEvent> out;
  int err = 0;
  CHECK(t.on_message(h, &out, &err));
  REQUIRE(out.size() == 1);
  CHECK(out[0].change == LinkChange::kRemoved);

  static_cast<nlmsgerr*>(NLMSG_DATA(h))->error = -EPERM;
  LinkTracker u(5);
  u.expect_snapshot(9, 1);
  out.clear();
  CHECK_FALSE(u.on_message(h, &out, &err));
  CHECK(err == EPERM);
}

namespace {

// Polls the monitor until `want` events arrived (or 3 s passed).
std::vector<LinkEvent> wait_events(tunio::LinkMonitor& mon, size_t want) {
  std::vector<LinkEvent> out;
  for (int i = 0; i < 30 && out.size() < want; i++) {
    pollfd p{mon.fd(), POLLIN, 0};
    ::poll(&p, 1, 100);
    tunio::SysError e = mon.drain(&out);
    REQUIRE_MESSAGE(e.ok(), e.message());
  }
  return out;
}

}  // namespace

TEST_CASE("link monitor: ip link set down/up/mtu and removal of a tun, from the kernel") {
  NetnsTun t("m", "tunio-lm0");
  tunio::TunDevice& tun = t.tun;
  REQUIRE(std::system("ip link set tunio-lm0 up") == 0);

  tunio::LinkMonitor mon;
  tunio::SysError e = mon.open(tun.ifindex());
  REQUIRE_MESSAGE(e.ok(), e.message());
  CHECK(wait_events(mon, 0).empty());
  for (int i = 0; i < 30 && !mon.tracker().synced(); i++) wait_events(mon, 1);
  REQUIRE(mon.tracker().synced());
  CHECK(mon.tracker().state().usable());  // up, and a tun has carrier while its fd is open

  REQUIRE(std::system("ip link set tunio-lm0 down") == 0);
  std::vector<LinkEvent> ev = wait_events(mon, 1);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].change == LinkChange::kDown);
  CHECK((ev[0].state.flags & IFF_UP) == 0);

  REQUIRE(std::system("ip link set tunio-lm0 up") == 0);
  ev = wait_events(mon, 1);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].change == LinkChange::kUp);

  REQUIRE(std::system("ip link set tunio-lm0 mtu 1380") == 0);
  ev = wait_events(mon, 1);
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].change == LinkChange::kMtu);
  CHECK(ev[0].previous_mtu == 1500);
  CHECK(ev[0].state.mtu == 1380);

  tun.close();  // the last fd of a non-persistent tun: the device goes
  ev = wait_events(mon, 2);
  REQUIRE(!ev.empty());
  CHECK(ev.back().change == LinkChange::kRemoved);
  CHECK(mon.tracker().removed());
}
