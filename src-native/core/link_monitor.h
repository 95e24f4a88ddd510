// Link events of one interface, as wireguard-go's tun Events() gives them: up/down, MTU
// changes and removal, from rtnetlink notifications (RTMGRP_LINK).
//
// LinkTracker is the pure part (unit-tested with canned messages): it keeps the last state
// of the link and turns each RTM_NEWLINK/RTM_DELLINK for it into events. LinkMonitor owns the
// non-blocking NETLINK_ROUTE socket subscribed to RTMGRP_LINK (the caller polls fd()).
//
// The baseline comes from an RTM_GETLINK sent on the same socket right after subscribing:
// notifications queued before its answer describe older states and are skipped, so no event
// is made up from a stale message. When the socket overflows (ENOBUFS: notifications were
// lost) the monitor asks again and the answer is compared with the last state it knew, so a
// change that happened while messages were lost still becomes an event.
//
// No Node headers, no exceptions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "netlink.h"
#include "unique_fd.h"

struct nlmsghdr;

namespace tunio {

struct LinkState {
  uint32_t flags = 0;     // ifi_flags: IFF_UP, IFF_RUNNING, ...
  uint32_t mtu = 0;
  uint8_t operstate = 0;  // IF_OPER_*
  std::string name;
  // IFF_UP and IFF_RUNNING: administratively up with carrier (a TUN has carrier while a
  // queue is attached). wireguard-go reports up/down by IFF_RUNNING alone; it implies IFF_UP.
  bool usable() const;
};

enum class LinkChange : uint8_t { kUp, kDown, kMtu, kRemoved };

struct LinkEvent {
  LinkChange change = LinkChange::kUp;
  LinkState state;         // after the change
  uint32_t previous_mtu = 0;  // kMtu only
};

// "up", "down", "mtu", "removed"; operstate names as `ip link` prints them ("UP", "DOWN",
// "UNKNOWN", ...).
const char* link_change_name(LinkChange c);
const char* operstate_name(uint8_t operstate);

class LinkTracker {
 public:
  explicit LinkTracker(int ifindex = 0) : ifindex_(ifindex) {}
  // The next RTM_NEWLINK with this sequence number (and our port) is the baseline; until it
  // arrives every other message is skipped.
  void expect_snapshot(uint32_t seq, uint32_t port);
  // Feeds one message; appends the events it causes. Returns false for an NLMSG_ERROR
  // answering the snapshot request (its errno in *err), true otherwise.
  bool on_message(const nlmsghdr* m, std::vector<LinkEvent>* out, int* err);
  bool synced() const { return have_state_ && !awaiting_snapshot_; }
  bool removed() const { return removed_; }
  const LinkState& state() const { return state_; }

 private:
  void apply(const LinkState& next, std::vector<LinkEvent>* out);
  // The link is gone (deleted, moved to another namespace, or never seen): one kRemoved event.
  void mark_removed(std::vector<LinkEvent>* out);
  int ifindex_;
  bool awaiting_snapshot_ = false;
  uint32_t snapshot_seq_ = 0;
  uint32_t port_ = 0;
  bool have_state_ = false;
  bool removed_ = false;
  LinkState state_;
};

class LinkMonitor {
 public:
  LinkMonitor() = default;
  LinkMonitor(const LinkMonitor&) = delete;
  LinkMonitor& operator=(const LinkMonitor&) = delete;

  // Subscribes to RTMGRP_LINK in the calling thread's network namespace and asks for the
  // link's current state. The socket is non-blocking and close-on-exec.
  SysError open(int ifindex);
  void close();
  bool is_open() const { return bool(fd_); }
  int fd() const { return fd_.get(); }
  // Reads every queued message (until EAGAIN) and appends the events. ENOBUFS (lost
  // notifications) re-requests the state instead of failing. An error return means the socket
  // is unusable.
  SysError drain(std::vector<LinkEvent>* out);
  const LinkTracker& tracker() const { return tracker_; }

 private:
  SysError request_snapshot();
  UniqueFd fd_;
  int ifindex_ = 0;
  uint32_t seq_ = 0;
  uint32_t port_ = 0;
  LinkTracker tracker_;
};

}  // namespace tunio
