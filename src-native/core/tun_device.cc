// TUN/TAP device; see tun_device.h for the contract.
#include "tun_device.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "fast_syscall.h"
#include "netlink.h"

namespace tunio {

namespace {

// What an existing name means and what to do (joined to the error as its detail).
std::string exists_detail(const std::string& name) {
  return "a device named '" + name + "' already exists; pass attach: true to open queues on it";
}

void copy_name(ifreq* ifr, const std::string& name) {
  // Length was validated (< IFNAMSIZ) by the caller; the memset leaves the NUL.
  memcpy(ifr->ifr_name, name.data(), std::min(name.size(), size_t(IFNAMSIZ - 1)));
}

// Opens /dev/net/tun and binds it to `name` with `flags`. On success `*real_name` is the
// name the kernel used (it fills in "tun%d" templates).
SysError open_queue(const std::string& name, short flags, UniqueFd* out, std::string* real_name) {
  // O_NONBLOCK: every queue is polled by an event loop; a blocking read would stall it.
  // O_CLOEXEC: a child process must not inherit (and keep alive) our device.
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return SysError::from_errno("open(/dev/net/tun)");
  ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  copy_name(&ifr, name);
  ifr.ifr_flags = flags;
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) {
    int e = errno;
    if (e == EBUSY && (flags & IFF_TUN_EXCL) && !name.empty() &&
        if_nametoindex(name.c_str()) != 0) {
      // Lost a race with someone creating the same name after our existence check.
      return SysError::make(EEXIST, "ioctl(TUNSETIFF)", exists_detail(name));
    }
    return SysError::make(e, "ioctl(TUNSETIFF)", name.empty() ? std::string() : name);
  }
  real_name->assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
  *out = std::move(fd);
  return SysError::none();
}

enum class OffloadTier { kUsoTso, kTso, kNone };

unsigned tier_mask(OffloadTier t) {
  switch (t) {
    case OffloadTier::kUsoTso:
      return TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | kTunFUso4 | kTunFUso6;
    case OffloadTier::kTso: return TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    case OffloadTier::kNone: return 0;
  }
  return 0;
}

TunOffload offload_for(unsigned mask, bool vnet_hdr) {
  TunOffload o;
  o.vnet_hdr = vnet_hdr;
  o.csum = mask & TUN_F_CSUM;
  o.tso4 = mask & TUN_F_TSO4;
  o.tso6 = mask & TUN_F_TSO6;
  o.uso = (mask & (kTunFUso4 | kTunFUso6)) == (kTunFUso4 | kTunFUso6);
  return o;
}

// TUNSETOFFLOAD from best to worst; the kernel rejects any bit it does not know with EINVAL
// (set_offload() in drivers/net/tun.c: the bits left after the known ones are cleared fail
// the call; TUN_F_USO4/6 are known since Linux 6.2), which is exactly the feature test we
// want (no version-string parsing). `*accepted` is the
// mask in force. In auto mode with nothing accepted, the mask is cleared and, when the fd has
// the virtio header, `*drop_header` asks the caller to reopen without it (a header that never
// carries anything is pure overhead).
SysError negotiate_offload(int fd, OffloadMode mode, bool vnet, unsigned* accepted, bool* drop_header) {
  *accepted = 0;
  *drop_header = false;
  if (mode == OffloadMode::kOff) {
    if (::ioctl(fd, TUNSETOFFLOAD, 0u) < 0) return SysError::from_errno("ioctl(TUNSETOFFLOAD, 0)");
    return SysError::none();
  }
  int last_err = 0;
  for (OffloadTier t : {OffloadTier::kUsoTso, OffloadTier::kTso}) {
    if (::ioctl(fd, TUNSETOFFLOAD, tier_mask(t)) == 0) {
      *accepted = tier_mask(t);
      return SysError::none();
    }
    last_err = errno;
  }
  if (mode == OffloadMode::kOn)
    return SysError::make(last_err, "ioctl(TUNSETOFFLOAD)",
                          "offload 'on' requires TSO (TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6), "
                          "which this kernel refused");
  if (::ioctl(fd, TUNSETOFFLOAD, 0u) < 0) return SysError::from_errno("ioctl(TUNSETOFFLOAD, 0)");
  *drop_header = vnet;
  return SysError::none();
}

}  // namespace

SysError TunDevice::open(const TunOptions& opts, TunDevice* out) {
  out->close();
  std::string why;
  if (opts.queues < 1 || opts.queues > kMaxQueues)
    return SysError::make(EINVAL, "TunDevice::open",
                          "queues must be 1.." + std::to_string(kMaxQueues));
  if (!opts.name.empty() && !valid_ifname(opts.name, !opts.attach, &why))
    return SysError::make(EINVAL, "TunDevice::open", why);
  if (opts.attach && opts.name.empty())
    return SysError::make(EINVAL, "TunDevice::open", "attach needs the name of the device");
  if (opts.owner < -1 || opts.owner >= int64_t(UINT32_MAX) || opts.group < -1 ||
      opts.group >= int64_t(UINT32_MAX))
    return SysError::make(EINVAL, "TunDevice::open", "owner/group must be -1 or a valid id");

  const bool is_template = opts.name.find('%') != std::string::npos;
  bool multi_queue = opts.queues > 1 || opts.multi_queue;
  OffloadMode offload_mode = opts.offload;

  if (opts.attach) {
    // Look before we leap: TUNSETIFF on an existing device rewrites its device-wide flags,
    // so mismatches must be caught while we can still refuse without side effects.
    Rtnl nl;
    SysError e = nl.open();
    if (!e.ok()) return e;
    LinkInfo li;
    e = nl.get_link_by_name(opts.name, &li);
    if (e.err == ENODEV)
      return SysError::make(ENODEV, "TunDevice::open(attach)",
                            "no device named '" + opts.name + "' to attach to");
    if (!e.ok()) return e;
    if (li.kind != "tun")
      return SysError::make(EINVAL, "TunDevice::open(attach)",
                            "'" + opts.name + "' is not a tun/tap device (kind '" + li.kind + "')");
    if (li.tun.present) {  // IFLA_INFO_DATA of a tun: Linux 4.20+ (tun_fill_info()); older: trust the caller
      const uint8_t want_type = opts.mode == TunMode::kTap ? IFF_TAP : IFF_TUN;
      if (li.tun.type != want_type)
        return SysError::make(EINVAL, "TunDevice::open(attach)",
                              "'" + opts.name + "' is a " + (li.tun.type == IFF_TAP ? "tap" : "tun") +
                                  " device, the other mode was requested");
      if (multi_queue && !li.tun.multi_queue)
        return SysError::make(EINVAL, "TunDevice::open(attach)",
                              "'" + opts.name + "' is single-queue; cannot open " +
                                  std::to_string(opts.queues) + " queue(s) as multi-queue");
      multi_queue = li.tun.multi_queue;
      // A single-queue device with a reader makes TUNSETIFF fail with EBUSY by itself (and
      // the kernel does not report num_queues for it), so only multi-queue needs this check.
      // Detached queues count: they read with the same header once attached again.
      if (li.tun.num_queues + li.tun.num_disabled_queues > 0) {
        // Other readers rely on the device's current header setting; do not flip it.
        if (li.tun.vnet_hdr && offload_mode == OffloadMode::kOff)
          return SysError::make(EINVAL, "TunDevice::open(attach)",
                                "attached queues use the virtio header; offload 'off' would "
                                "remove it for all of them");
        if (!li.tun.vnet_hdr && offload_mode == OffloadMode::kOn)
          return SysError::make(EINVAL, "TunDevice::open(attach)",
                                "attached queues run without the virtio header; offload 'on' "
                                "would add it for all of them");
        if (!li.tun.vnet_hdr) offload_mode = OffloadMode::kOff;  // auto adopts theirs
      }
    }
  } else if (!opts.name.empty() && !is_template && if_nametoindex(opts.name.c_str()) != 0) {
    // With IFF_MULTI_QUEUE (and for a persistent device without a reader) the kernel would
    // silently attach us to the existing device. IFF_TUN_EXCL below closes the race.
    // Reported as the TUNSETIFF it avoids (with IFF_TUN_EXCL the kernel refuses it: EBUSY).
    return SysError::make(EEXIST, "ioctl(TUNSETIFF)", exists_detail(opts.name));
  }

  short base_flags = short((opts.mode == TunMode::kTap ? IFF_TAP : IFF_TUN) | IFF_NO_PI);
  if (multi_queue) base_flags = short(base_flags | IFF_MULTI_QUEUE);

  // At most two rounds: with the virtio header, then (auto mode on a kernel refusing every
  // offload) without it, because a header that never carries anything is pure overhead.
  bool vnet = offload_mode != OffloadMode::kOff;
  for (;;) {
    TunDevice dev;
    dev.mode_ = opts.mode;
    dev.multi_queue_ = multi_queue;
    short flags = base_flags;
    if (vnet) flags = short(flags | IFF_VNET_HDR);

    UniqueFd fd0;
    std::string real_name;
    SysError e = open_queue(opts.name, short(flags | (opts.attach ? 0 : IFF_TUN_EXCL)), &fd0,
                            &real_name);
    if (!e.ok()) return e;
    const int f0 = fd0.get();
    dev.fds_.push_back(std::move(fd0));
    dev.name_ = real_name;

    if (vnet) {
      // The kernel's default is 10 already, but a persistent device keeps whatever size its
      // last user set (12 for virtio 1.0), and our readv layout assumes exactly 10.
      int sz = int(kVirtioNetHdrLen);
      if (::ioctl(f0, TUNSETVNETHDRSZ, &sz) < 0)
        return SysError::from_errno("ioctl(TUNSETVNETHDRSZ)");
    }

    unsigned accepted = 0;
    bool reopen_without_header = false;
    e = negotiate_offload(f0, offload_mode, vnet, &accepted, &reopen_without_header);
    if (!e.ok()) return e;
    if (reopen_without_header) {
      vnet = false;
      continue;  // `dev` closes fd0; a device we created goes away with it
    }
    dev.offload_ = offload_for(accepted, vnet);
    dev.read_offload_ = accepted != 0;

    if (opts.owner >= 0 && ::ioctl(f0, TUNSETOWNER, static_cast<unsigned long>(opts.owner)) < 0)
      return SysError::from_errno("ioctl(TUNSETOWNER)");
    if (opts.group >= 0 && ::ioctl(f0, TUNSETGROUP, static_cast<unsigned long>(opts.group)) < 0)
      return SysError::from_errno("ioctl(TUNSETGROUP)");

    for (int q = 1; q < opts.queues; ++q) {
      UniqueFd fd;
      std::string n;
      // No IFF_TUN_EXCL: we are attaching to the device fd0 created or joined.
      e = open_queue(real_name, flags, &fd, &n);
      if (!e.ok()) return e.prefix_detail("queue " + std::to_string(q));
      dev.fds_.push_back(std::move(fd));
    }

    dev.ifindex_ = int(if_nametoindex(real_name.c_str()));
    if (dev.ifindex_ == 0) return SysError::make(errno, "if_nametoindex", real_name);

    // Last, so that any failure above leaves no persistent device behind.
    if (!opts.attach || opts.persist) {
      if (::ioctl(f0, TUNSETPERSIST, opts.persist ? 1 : 0) < 0)
        return SysError::make(errno, opts.persist ? "ioctl(TUNSETPERSIST, 1)"
                                                  : "ioctl(TUNSETPERSIST, 0)");
    }
    *out = std::move(dev);
    return SysError::none();
  }
}

SysError TunDevice::adopt(int fd, OffloadMode offload, TunDevice* out) {
  out->close();
  if (fd < 0) return SysError::make(EBADF, "TunDevice::adopt", "fd must be a file descriptor");
  ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  if (::ioctl(fd, TUNGETIFF, &ifr) < 0) {
    const int e = errno;
    // EBADFD: a /dev/net/tun fd that was never bound with TUNSETIFF; ENOTTY/EINVAL: not a
    // tun fd at all (a socket, a file, ...).
    return SysError::make(e, "ioctl(TUNGETIFF)",
                          e == EBADFD ? "fd " + std::to_string(fd) + " is /dev/net/tun but not bound to a device (TUNSETIFF)"
                                      : "fd " + std::to_string(fd) + " is not a TUN/TAP device fd");
  }
  const int flags = ifr.ifr_flags;
  std::string name(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
  const int ifindex = int(if_nametoindex(name.c_str()));
  if (ifindex == 0)
    return SysError::make(ENODEV, "if_nametoindex",
                          "'" + name + "' (the device of fd " + std::to_string(fd) +
                              ") is not in this network namespace");
  // TUNGETIFF is not to be trusted for IFF_NO_PI: Linux 6.18 reports it for an fd bound
  // without it, which then reads every packet behind a 4-byte header (measured). The tun
  // driver's rtnetlink attributes are right (IFLA_TUN_PI from tun_fill_info() in
  // drivers/net/tun.c, Linux 4.20 and later; no capability needed).
  bool pi = !(flags & IFF_NO_PI);
  {
    Rtnl nl;
    LinkInfo li;
    if (nl.open().ok() && nl.get_link(ifindex, &li).ok() && li.kind == "tun" && li.tun.present) pi = li.tun.pi;
  }
  if (pi)
    return SysError::make(EINVAL, "ioctl(TUNGETIFF)",
                          "'" + name + "' was opened without IFF_NO_PI: tunio reads packets without "
                          "the 4-byte packet information header; open it with IFF_NO_PI");
  const bool vnet = (flags & IFF_VNET_HDR) != 0;
  if (!vnet && offload == OffloadMode::kOn)
    return SysError::make(EINVAL, "ioctl(TUNGETIFF)",
                          "offload 'on' needs the fd opened with IFF_VNET_HDR ('" + name +
                              "' was not; only TUNSETIFF sets it)");
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0) return SysError::from_errno("fcntl(F_GETFL)");
  // Every queue is polled by an event loop: a blocking read would stall it. The flag belongs
  // to the open file description, which the sender may share; it only ever reads it polled too.
  if (!(fl & O_NONBLOCK) && ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return SysError::from_errno("fcntl(F_SETFL, O_NONBLOCK)");
  if (::fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) return SysError::from_errno("fcntl(F_SETFD, FD_CLOEXEC)");
  if (vnet) {
    int sz = int(kVirtioNetHdrLen);
    if (::ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) return SysError::from_errno("ioctl(TUNSETVNETHDRSZ)");
  }
  unsigned accepted = 0;
  bool drop_header = false;
  // A header we cannot take away (only TUNSETIFF could) stays; with no offload it carries
  // nothing, which read_raw/write handle.
  SysError e = negotiate_offload(fd, vnet ? offload : OffloadMode::kOff, vnet, &accepted, &drop_header);
  if (!e.ok()) return e;
  TunDevice dev;
  dev.mode_ = (flags & IFF_TAP) ? TunMode::kTap : TunMode::kTun;
  dev.multi_queue_ = (flags & IFF_MULTI_QUEUE) != 0;
  dev.name_ = name;
  dev.ifindex_ = ifindex;
  dev.offload_ = offload_for(accepted, vnet);
  dev.fds_.emplace_back(fd);
  *out = std::move(dev);
  return SysError::none();
}

ssize_t TunDevice::read_raw(int q, uint8_t* vnet_hdr10, uint8_t* buf, size_t cap) {
  int fd = queue_fd(q);
  if (fd < 0) return -EBADF;
  ssize_t n;
  if (offload_.vnet_hdr) {
    if (!vnet_hdr10) return -EINVAL;
    iovec iov[2] = {{vnet_hdr10, kVirtioNetHdrLen}, {buf, cap}};
    do { n = sys::readv(fd, iov, 2); } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    // The kernel always writes the whole header before any packet byte.
    if (size_t(n) < kVirtioNetHdrLen) return -EIO;
    return n - ssize_t(kVirtioNetHdrLen);
  }
  do { n = sys::read(fd, buf, cap); } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : n;
}

ssize_t TunDevice::write_raw(int q, const iovec* iov, int iovcnt) {
  int fd = queue_fd(q);
  if (fd < 0) return -EBADF;
  ssize_t n;
  do { n = sys::writev(fd, iov, iovcnt); } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : n;
}

namespace {

SysError set_queue(int fd, bool attach) {
  ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
  if (::ioctl(fd, TUNSETQUEUE, &ifr) < 0)
    return SysError::make(errno, attach ? "ioctl(TUNSETQUEUE, IFF_ATTACH_QUEUE)"
                                        : "ioctl(TUNSETQUEUE, IFF_DETACH_QUEUE)");
  return SysError::none();
}

}  // namespace

SysError TunDevice::set_read_offload(bool on) {
  if (fds_.empty()) return SysError::make(EBADF, "ioctl(TUNSETOFFLOAD)");
  if (!offload_.vnet_hdr) return SysError::make(ENOTSUP, "ioctl(TUNSETOFFLOAD)", "the device runs without the virtio header");
  unsigned mask = 0;
  if (on) {
    if (offload_.csum) mask |= TUN_F_CSUM;
    if (offload_.tso4) mask |= TUN_F_TSO4;
    if (offload_.tso6) mask |= TUN_F_TSO6;
    if (offload_.uso) mask |= kTunFUso4 | kTunFUso6;
  }
  if (::ioctl(fds_[0].get(), TUNSETOFFLOAD, mask) < 0) return SysError::from_errno("ioctl(TUNSETOFFLOAD)");
  read_offload_ = on && mask != 0;
  return SysError::none();
}

SysError TunDevice::detach_queue(int q) {
  int fd = queue_fd(q);
  if (fd < 0) return SysError::make(EBADF, "TunDevice::detach_queue", "no queue " + std::to_string(q));
  return set_queue(fd, false);
}

SysError TunDevice::attach_queue(int q) {
  int fd = queue_fd(q);
  if (fd < 0) return SysError::make(EBADF, "TunDevice::attach_queue", "no queue " + std::to_string(q));
  return set_queue(fd, true);
}

}  // namespace tunio
