// Link events over rtnetlink; see link_monitor.h.
#include "link_monitor.h"

#include <errno.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netlink_message.h"

namespace tunio {

bool LinkState::usable() const { return (flags & IFF_UP) && (flags & IFF_RUNNING); }

const char* link_change_name(LinkChange c) {
  switch (c) {
    case LinkChange::kUp: return "up";
    case LinkChange::kDown: return "down";
    case LinkChange::kMtu: return "mtu";
    case LinkChange::kRemoved: return "removed";
  }
  return "?";
}

const char* operstate_name(uint8_t operstate) {
  // RFC 2863 operational states (IF_OPER_*), spelled as `ip link` prints them.
  switch (operstate) {
    case 0: return "UNKNOWN";
    case 1: return "NOTPRESENT";
    case 2: return "DOWN";
    case 3: return "LOWERLAYERDOWN";
    case 4: return "TESTING";
    case 5: return "DORMANT";
    case 6: return "UP";
    default: return "UNKNOWN";
  }
}

void LinkTracker::expect_snapshot(uint32_t seq, uint32_t port) {
  awaiting_snapshot_ = true;
  snapshot_seq_ = seq;
  port_ = port;
}

void LinkTracker::apply(const LinkState& next, std::vector<LinkEvent>* out) {
  if (!have_state_) {
    state_ = next;
    have_state_ = true;
    return;
  }
  const LinkState before = state_;
  state_ = next;
  if (next.mtu != before.mtu) {
    LinkEvent e;
    e.change = LinkChange::kMtu;
    e.state = next;
    e.previous_mtu = before.mtu;
    out->push_back(e);
  }
  if (next.usable() != before.usable()) {
    LinkEvent e;
    e.change = next.usable() ? LinkChange::kUp : LinkChange::kDown;
    e.state = next;
    out->push_back(e);
  }
}

void LinkTracker::mark_removed(std::vector<LinkEvent>* out) {
  removed_ = true;
  awaiting_snapshot_ = false;
  LinkEvent ev;
  ev.change = LinkChange::kRemoved;
  ev.state = state_;
  out->push_back(ev);
}

bool LinkTracker::on_message(const nlmsghdr* m, std::vector<LinkEvent>* out, int* err) {
  if (removed_) return true;
  if (awaiting_snapshot_) {
    // Only the answer to our request counts; anything queued before it is older news.
    if (m->nlmsg_seq != snapshot_seq_ || m->nlmsg_pid != port_) return true;
    if (m->nlmsg_type == NLMSG_ERROR) {
      if (m->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return true;
      const nlmsgerr* e = static_cast<const nlmsgerr*>(NLMSG_DATA(m));
      if (e->error == 0) return true;  // the ack after the reply
      awaiting_snapshot_ = false;
      if (-e->error == ENODEV) {
        // The link went away before we could look (rtnl_getlink() in net/core/rtnetlink.c
        // answers ENODEV for an unknown ifindex): that is a removal, not a failure.
        mark_removed(out);
        return true;
      }
      *err = -e->error;
      return false;
    }
    if (m->nlmsg_type != RTM_NEWLINK) return true;
  }
  if (m->nlmsg_type != RTM_NEWLINK && m->nlmsg_type != RTM_DELLINK) return true;
  if (m->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) return true;
  const ifinfomsg* ifi = static_cast<const ifinfomsg*>(NLMSG_DATA(m));
  if (ifi->ifi_index != ifindex_) return true;
  if (m->nlmsg_type == RTM_DELLINK) {
    // Deleted, or moved to another network namespace: gone from ours either way.
    mark_removed(out);
    return true;
  }
  LinkInfo li;
  if (!parse_link_message(reinterpret_cast<const uint8_t*>(m), m->nlmsg_len, &li)) return true;
  LinkState next;
  next.flags = li.flags;
  next.mtu = li.mtu;
  next.operstate = li.operstate;
  next.name = li.name;
  awaiting_snapshot_ = false;
  apply(next, out);
  return true;
}

SysError LinkMonitor::open(int ifindex) {
  close();
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
  if (!fd) return SysError::from_errno("socket(AF_NETLINK)");
  // A burst of link changes must not overflow the default buffer; if it still does, drain()
  // resynchronises (ENOBUFS).
  int rcvbuf = 256 * 1024;
  (void)setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
    return SysError::from_errno("bind(AF_NETLINK, RTMGRP_LINK)");
  socklen_t slen = sizeof sa;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &slen) < 0)
    return SysError::from_errno("getsockname(AF_NETLINK)");
  fd_ = std::move(fd);
  ifindex_ = ifindex;
  port_ = sa.nl_pid;
  seq_ = uint32_t(getpid()) << 8 | 0x80;
  tracker_ = LinkTracker(ifindex);
  SysError e = request_snapshot();
  if (!e.ok()) close();
  return e;
}

void LinkMonitor::close() { fd_.reset(); }

SysError LinkMonitor::request_snapshot() {
  ifinfomsg ifi;
  memset(&ifi, 0, sizeof ifi);
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = ifindex_;
  nl::Request r(RTM_GETLINK, NLM_F_REQUEST, &ifi, sizeof ifi);
  r.hdr()->nlmsg_seq = ++seq_;
  sockaddr_nl kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  ssize_t n;
  do {
    n = ::sendto(fd_.get(), r.buf, r.len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return SysError::from_errno("sendto(RTM_GETLINK)");
  tracker_.expect_snapshot(seq_, port_);
  return SysError::none();
}

SysError LinkMonitor::drain(std::vector<LinkEvent>* out) {
  if (!fd_) return SysError::make(EBADF, "recv(RTMGRP_LINK)", "link monitor not open");
  alignas(nlmsghdr) uint8_t buf[16384];
  for (;;) {
    sockaddr_nl from;
    socklen_t flen = sizeof from;
    ssize_t n = ::recvfrom(fd_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return SysError::none();
      if (errno == ENOBUFS) {
        // Notifications were dropped (netlink_overrun() in net/netlink/af_netlink.c sets
        // ENOBUFS on the socket when a broadcast finds its receive queue full, and the next
        // recv reports it once): ask for the state again and diff against the last one.
        SysError e = request_snapshot();
        if (!e.ok()) return e;
        continue;
      }
      return SysError::from_errno("recv(RTMGRP_LINK)");
    }
    if (from.nl_pid != 0) continue;  // only the kernel speaks here
    for (nl::MsgIter it(buf, size_t(n)); const nlmsghdr* m = it.next();) {
      int err = 0;
      if (!tracker_.on_message(m, out, &err)) return SysError::make(err, "RTM_GETLINK");
    }
  }
}

}  // namespace tunio
