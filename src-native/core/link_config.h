// Configuring a TUN link after the device is open: MTU, txqueuelen, gso_max_size (and its
// default), addresses, up, in that order. The order is a policy with reasons (some of them
// the kernel's), written down once as the step list in link_config.cc; the addon (TunWrap)
// converts the options, calls configure_link() and maps its error, nothing else.
//
// Through our own rtnetlink client (netlink.h), in the network namespace of the calling
// thread. No Node headers, no exceptions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "netlink.h"  // Cidr, Rtnl
#include "sys_error.h"

namespace tunio {

// What the caller asks for. 0 (and an empty list) leaves the kernel's value.
struct LinkConfig {
  uint32_t mtu = 0;
  uint32_t txqueuelen = 0;
  // The largest superpacket the kernel may hand the reader. Applied only to a device whose
  // reads carry TSO superpackets (`tso`, below): there is nothing for it to bound otherwise.
  // 0 with TSO: default_gso_max_size() of the link's MTU, and the kernel refusing that default
  // is not an error (LinkConfigResult::gso_max_size_error says why); a size asked for is.
  uint32_t gso_max_size = 0;
  std::vector<Cidr> addresses;
  bool up = true;
};

struct LinkConfigResult {
  // ok, or why the step `failed_step` failed (its call names the rtnetlink request,
  // e.g. "RTM_NEWADDR", with the kernel's extack reason as the detail). The steps before it
  // stay applied and the ones after it did not run: the link is never up after a failure.
  SysError error;
  // The step that failed: "open" (the netlink socket), "mtu", "txqueuelen", "gso_max_size",
  // "addresses" or "up".
  const char* failed_step = nullptr;
  uint32_t gso_max_size = 0;          // what the kernel took; 0: not set
  std::string gso_max_size_error;     // the default the kernel refused (LinkConfig::gso_max_size 0)
};

// Runs the step list (link_config.cc) on link `ifindex`; `tso`: the device hands over TSO
// superpackets (TunOffload::tso4). Nothing is undone on failure: the caller closes the device,
// which removes a device it created (a persistent or attached one keeps what was applied).
LinkConfigResult configure_link(int ifindex, bool tso, const LinkConfig& config);

// The default gso_max_size for a link MTU: the largest superpacket whose split segments (each
// at most `mtu`) still fit one UDP_SEGMENT send of at most 65,507 bytes, with room for IPv6 +
// TCP headers with options (80 bytes). An MTU below 576 counts as 576.
uint32_t default_gso_max_size(uint32_t mtu);

}  // namespace tunio
