#include "link_config.h"

namespace tunio {

namespace {

// One run of the step list: the socket, the link, what was asked, what came of it.
struct LinkConfigRun {
  Rtnl& nl;
  const int ifindex;
  const bool tso;
  const LinkConfig& config;
  LinkConfigResult& result;
};

SysError set_mtu(LinkConfigRun& run) {
  return run.config.mtu > 0 ? run.nl.set_mtu(run.ifindex, run.config.mtu) : SysError();
}

SysError set_txqueuelen(LinkConfigRun& run) {
  return run.config.txqueuelen > 0 ? run.nl.set_txqlen(run.ifindex, run.config.txqueuelen) : SysError();
}

SysError set_gso_max_size(LinkConfigRun& run) {
  if (!run.tso) return SysError();
  uint32_t size = run.config.gso_max_size;
  if (size == 0) {
    // The MTU in force: the one just set, else the kernel's (read back; if even that fails,
    // default_gso_max_size counts it as the smallest, which is too small rather than too big).
    uint32_t mtu = run.config.mtu;
    LinkInfo link;
    if (mtu == 0 && run.nl.get_link(run.ifindex, &link).ok()) mtu = link.mtu;
    size = default_gso_max_size(mtu);
  }
  const SysError e = run.nl.set_gso_max_size(run.ifindex, size);
  if (e.ok()) {
    run.result.gso_max_size = size;
    return e;
  }
  if (run.config.gso_max_size > 0) return e;  // asked for explicitly: an error
  // The default refused (a kernel before 5.19 takes the size at creation only, netlink.h): the
  // link still works with the kernel's own limit, so this is reported in info(), not thrown.
  run.result.gso_max_size_error = e.message();
  return SysError();
}

SysError add_addresses(LinkConfigRun& run) {
  for (const Cidr& cidr : run.config.addresses) {
    const SysError e = run.nl.add_address(run.ifindex, cidr);
    if (!e.ok()) return e;
  }
  return SysError();
}

SysError set_up(LinkConfigRun& run) { return run.config.up ? run.nl.set_up(run.ifindex, true) : SysError(); }

struct LinkStep {
  const char* name;
  SysError (*run)(LinkConfigRun&);
};

// The order, and why (kernel functions as of Linux 6.x; the same since the versions named).
constexpr LinkStep kLinkSteps[] = {
    // MTU first, before the addresses: an IPv6 address needs an MTU of at least 1280. Set
    // below it first, and the kernel refuses the IPv6 address (net/ipv6/addrconf.c:
    // addrconf_notify(NETDEV_CHANGEMTU) below IPV6_MIN_MTU tears the link's inet6_dev down,
    // and ipv6_add_dev() refuses to make one again, EINVAL), so the caller hears of it. The
    // other way round, the MTU change would silently remove the IPv6 addresses just added.
    {"mtu", set_mtu},
    // txqueuelen before up: the tun driver resizes each queue's ring to it
    // (drivers/net/tun.c: tun_device_event(NETDEV_CHANGE_TX_QUEUE_LEN) -> tun_queue_resize()),
    // and a resize frees the packets that no longer fit; before up, nothing is queued.
    {"txqueuelen", set_txqueuelen},
    // gso_max_size after the MTU (its default is computed from the MTU in force) and before up:
    // a TCP socket copies the limit from its route's device when it gets the route
    // (net/core/sock.c: sk_setup_caps()) and keeps it, so a connection made over the link
    // before this step would go on building superpackets of the old size.
    {"gso_max_size", set_gso_max_size},
    // Addresses before up: when the link comes up, its addresses are there (routes, and IPv6's
    // NODAD addresses usable at once: Rtnl::add_address).
    {"addresses", add_addresses},
    // Up last: a failure in any step above leaves the link down, so a half-configured link
    // never carries traffic, and whoever watches for the link to come up sees it configured.
    {"up", set_up},
};

}  // namespace

LinkConfigResult configure_link(int ifindex, bool tso, const LinkConfig& config) {
  LinkConfigResult result;
  Rtnl nl;
  result.error = nl.open();
  if (!result.error.ok()) {
    result.failed_step = "open";
    return result;
  }
  LinkConfigRun run{nl, ifindex, tso, config, result};
  for (const LinkStep& step : kLinkSteps) {
    result.error = step.run(run);
    if (!result.error.ok()) {
      result.failed_step = step.name;
      break;
    }
  }
  return result;
}

uint32_t default_gso_max_size(uint32_t mtu) {
  if (mtu < 576) mtu = 576;
  const uint32_t segments = 65507 / mtu;
  return segments * (mtu - 80) + 80;
}

}  // namespace tunio
