// A Linux TUN/TAP device: one non-blocking fd per queue, virtio-net offloads negotiated by
// probing the kernel, raw per-queue I/O. The caller (gso split / gro coalesce / the addon)
// does all packet surgery; this file only owns the fds and the kernel handshake.
//
// Device-wide vs per-fd state (matters for multi-queue and `attach`): IFF_VNET_HDR, the
// vnet header size, the TUNSETOFFLOAD mask, owner/group and persist belong to the *device*,
// not to one fd. Whoever opens a queue last sets them for every queue. open() therefore
// refuses to attach with a vnet-header setting that differs from the queues already attached.
//
// No Node headers, no exceptions: every failure is a SysError {errno, failing call, detail}.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sys_error.h"
#include "unique_fd.h"
#include "virtio_net_hdr.h"  // kVirtioNetHdrLen: the header length set with TUNSETVNETHDRSZ

namespace tunio {

enum class TunMode : uint8_t { kTun, kTap };

// auto: the best the kernel accepts (USO+TSO+CSUM, else TSO+CSUM, else none without vnet hdr).
// on:   like auto but fail if TSO is refused (USO stays optional).
// off:  no vnet header and an explicit TUNSETOFFLOAD 0 (the mask survives on a persistent
//       device, and a reader that did not ask for superpackets must never get one).
enum class OffloadMode : uint8_t { kAuto, kOn, kOff };

struct TunOptions {
  // Empty: the kernel picks "tun%d"/"tap%d". A template with one "%d" is also accepted.
  // The real name is reported by TunDevice::name().
  std::string name;
  TunMode mode = TunMode::kTun;
  OffloadMode offload = OffloadMode::kAuto;
  // > 1 creates the device with IFF_MULTI_QUEUE and opens one fd per queue.
  int queues = 1;
  // IFF_MULTI_QUEUE even with queues == 1: a device whose other queues are attached later
  // (by worker threads or other processes opening it with attach). Implied by queues > 1.
  bool multi_queue = false;
  // false: create a new device; fail with EEXIST if the name is taken (the kernel would
  //        otherwise silently attach us to someone else's device).
  // true:  open queues on an existing device (e.g. from another worker or a persistent one);
  //        fail with ENODEV if it does not exist. Multi-queue-ness must match the device.
  bool attach = false;
  // Applied when we create the device (TUNSETPERSIST 0 explicitly by default). When attaching,
  // only `true` is applied: un-persisting someone else's device behind their back is wrong.
  bool persist = false;
  int64_t owner = -1;  // uid for TUNSETOWNER, -1 = leave unset
  int64_t group = -1;  // gid for TUNSETGROUP, -1 = leave unset
};

// What the kernel accepted. uso means both TUN_F_USO4 and TUN_F_USO6.
struct TunOffload {
  bool vnet_hdr = false;
  bool csum = false;
  bool tso4 = false;
  bool tso6 = false;
  bool uso = false;
};

// TUN_F_USO4/6 arrived in Linux 6.2 UAPI; Debian 12's headers predate them.
constexpr unsigned kTunFUso4 = 0x20;
constexpr unsigned kTunFUso6 = 0x40;

class TunDevice {
 public:
  // Queues of one device: the kernel's MAX_TAP_QUEUES (drivers/net/tun.c). lib/tun.ts reads it
  // as binding.limits.tunQueues.
  static constexpr int kMaxQueues = 256;

  TunDevice() = default;
  TunDevice(TunDevice&& o) noexcept = default;
  TunDevice& operator=(TunDevice&& o) noexcept = default;

  // Opens (creates or attaches to) the device into `*out`. On failure `*out` is left closed
  // and nothing we created survives (fds closed; a device we created disappears with them
  // unless persist was already applied, which happens last).
  static SysError open(const TunOptions& opts, TunDevice* out);

  // Adopts a queue fd someone else opened and bound with TUNSETIFF (typically a privileged
  // helper that passed it over a Unix socket, so this process needs no CAP_NET_ADMIN). Reads
  // the device's name and flags with TUNGETIFF. The fd must have been opened with IFF_NO_PI;
  // offloads need IFF_VNET_HDR, which only TUNSETIFF can set: without it `auto` runs without
  // offloads and `on` fails. The same TUNSETOFFLOAD probing as open() applies (it needs no
  // capability). The device must be visible in this network namespace (its ifindex is looked
  // up by name). On success the fd is owned by `*out` (made non-blocking and close-on-exec);
  // on failure it is left open and untouched apart from those two flags.
  static SysError adopt(int fd, OffloadMode offload, TunDevice* out);

  void close() { fds_.clear(); }
  bool is_open() const { return !fds_.empty(); }

  const std::string& name() const { return name_; }
  int ifindex() const { return ifindex_; }
  int queues() const { return int(fds_.size()); }
  int queue_fd(int q) const { return q >= 0 && size_t(q) < fds_.size() ? fds_[size_t(q)].get() : -1; }
  const TunOffload& offload() const { return offload_; }
  TunMode mode() const { return mode_; }
  bool multi_queue() const { return multi_queue_; }

  // One packet from queue q. With the vnet header on, the first 10 bytes the kernel gives
  // go to `vnet_hdr10` and the packet to `buf` (readv, no copy); otherwise `vnet_hdr10` may
  // be null and is untouched. Returns the packet length (without the header), or -errno:
  // -EAGAIN when the queue is empty, -EBADF for a bad queue. A packet larger than `cap`
  // is not delivered whole; pass a 64 KiB buffer when offloads are on (superpackets).
  ssize_t read_raw(int q, uint8_t* vnet_hdr10, uint8_t* buf, size_t cap);
  // Writes one packet (the caller includes the 10-byte vnet header as the first bytes when
  // offload().vnet_hdr is true). Returns bytes written (including the header) or -errno.
  ssize_t write_raw(int q, const iovec* iov, int iovcnt);

  // TUNSETQUEUE: a detached queue stops receiving packets (the kernel steers to the others)
  // but keeps its fd, so it still holds the device (and can still write); attach puts it
  // back. Only for multi-queue devices. The kernel drops whatever was queued for reading on
  // it at detach time, so detaching is not a way to drain a queue before closing it.
  SysError detach_queue(int q);
  SysError attach_queue(int q);

  // Superpackets on read switched off or on at run time (an operator's switch): TUNSETOFFLOAD
  // 0, or back to what open() negotiated. The device then stops (or starts again) handing
  // over TSO/USO superpackets; the virtio header stays, so what was already queued (still
  // superpackets) is read and split as before. Only with the vnet header on.
  SysError set_read_offload(bool on);
  bool read_offload() const { return read_offload_; }

 private:
  std::vector<UniqueFd> fds_;  // one per queue
  std::string name_;
  int ifindex_ = 0;
  TunOffload offload_;
  bool read_offload_ = false;  // the negotiated TUNSETOFFLOAD mask is in force (set_read_offload)
  TunMode mode_ = TunMode::kTun;
  bool multi_queue_ = false;
};

}  // namespace tunio
