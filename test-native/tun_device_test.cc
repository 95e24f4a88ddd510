// TunDevice tests against the real kernel (root, /dev/net/tun). Every case runs inside its
// own network namespace, so no host interface is ever touched.
#include <doctest.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "netlink.h"
#include "netns.h"
#include "tun_device.h"

using tunio::SysError;
using tunio::OffloadMode;
using tunio::TunDevice;
using tunio::TunOptions;

namespace {


#define REQUIRE_NETNS(ns) REQUIRE_MESSAGE((ns).ok(), "cannot create a test netns (need root)")
#define REQUIRE_OK(expr)                        \
  do {                                          \
    SysError e_ = (expr);                       \
    REQUIRE_MESSAGE(e_.ok(), e_.message());     \
  } while (0)

// Whether the kernel currently has TSO enabled on `name` (legacy ETHTOOL_GTSO): an
// independent view of what TUNSETOFFLOAD did to the device.
int tso_enabled(const std::string& name) {
  tunio::UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (s.get() < 0) return -1;
  ethtool_value ev{ETHTOOL_GTSO, 0};
  ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name.c_str(), name.size());
  ifr.ifr_data = reinterpret_cast<char*>(&ev);
  if (::ioctl(s.get(), SIOCETHTOOL, &ifr) < 0) return errno == ENOSYS ? -2 : -1;
  return int(ev.data);
}

// The ethtool cross-check. A kernel never answers SIOCETHTOOL with ENOSYS; qemu-user does (it
// does not translate the ioctl), so under `npm run test:arm64` only this check is skipped.
void check_tso(const std::string& name, int expected) {
  int got = tso_enabled(name);
  if (got == -2) {
    MESSAGE("SIOCETHTOOL: ENOSYS (qemu-user does not translate it); TSO cross-check skipped");
    return;
  }
  CHECK(got == expected);
}

void configure(const TunDevice& tun, const char* cidr_text) {
  tunio::Rtnl nl;
  REQUIRE_OK(nl.open());
  tunio::Cidr c;
  REQUIRE(tunio::parse_cidr(cidr_text, &c));
  REQUIRE_OK(nl.add_address(tun.ifindex(), c));
  REQUIRE_OK(nl.set_up(tun.ifindex(), true));
}

// Reads packets from queue 0 until `match` accepts one or 3 s pass. Other traffic (IPv6
// router solicitations and the like after link-up) is skipped. Returns the packet length.
template <typename Match>
ssize_t read_until(TunDevice& tun, uint8_t* hdr, uint8_t* buf, size_t cap, Match match) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{tun.queue_fd(0), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = tun.read_raw(0, hdr, buf, cap);
    if (n == -EAGAIN) continue;
    if (n < 0) return n;
    if (match(buf, size_t(n))) return n;
  }
  return -ETIMEDOUT;
}

uint16_t rd16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
void wr16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }

// RFC 1071 one's-complement sum; a local copy so this test does not depend on checksum.cc.
uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc = 0) {
  for (; n > 1; p += 2, n -= 2) acc += rd16(p);
  if (n) acc += uint32_t(p[0]) << 8;
  return acc;
}
uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return uint16_t(~acc);
}

// IPv4 + UDP with both checksums computed. `corrupt` flips the UDP checksum.
std::vector<uint8_t> build_udp4(const uint8_t src[4], const uint8_t dst[4], uint16_t sport,
                                uint16_t dport, const std::string& payload, bool corrupt) {
  std::vector<uint8_t> p(28 + payload.size(), 0);
  p[0] = 0x45;
  wr16(&p[2], uint16_t(p.size()));
  wr16(&p[4], 0x1234);
  p[8] = 64;
  p[9] = IPPROTO_UDP;
  memcpy(&p[12], src, 4);
  memcpy(&p[16], dst, 4);
  wr16(&p[10], fold(sum16(p.data(), 20)));
  uint8_t* u = &p[20];
  wr16(&u[0], sport);
  wr16(&u[2], dport);
  wr16(&u[4], uint16_t(8 + payload.size()));
  memcpy(&u[8], payload.data(), payload.size());
  uint32_t acc = sum16(src, 4) + sum16(dst, 4) + IPPROTO_UDP + uint32_t(8 + payload.size());
  uint16_t c = fold(sum16(u, 8 + payload.size(), acc));
  if (c == 0) c = 0xffff;  // 0 means "no checksum" in UDP over IPv4
  if (corrupt) c = uint16_t(c ^ 0x5a5a);
  wr16(&u[6], c);
  return p;
}

}  // namespace

TEST_CASE("tun: kernel-chosen name, non-blocking cloexec fd, gone on close") {
  TestNetns ns("t");
  REQUIRE_NETNS(ns);
  TunDevice tun;
  REQUIRE_OK(TunDevice::open(TunOptions(), &tun));
  CHECK(tun.name().rfind("tun", 0) == 0);
  CHECK(tun.queues() == 1);
  CHECK_FALSE(tun.multi_queue());
  CHECK(tun.ifindex() > 0);
  CHECK(int(if_nametoindex(tun.name().c_str())) == tun.ifindex());
  const int fd = tun.queue_fd(0);
  REQUIRE(fd >= 0);
  CHECK(tun.queue_fd(1) == -1);
  CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
  CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);

  uint8_t hdr[10], buf[2048];
  CHECK(tun.read_raw(0, hdr, buf, sizeof buf) == -EAGAIN);  // empty, and never blocks
  CHECK(tun.read_raw(3, hdr, buf, sizeof buf) == -EBADF);
  CHECK(tun.read_raw(0, nullptr, buf, sizeof buf) == -EINVAL);  // vnet hdr is on in auto

  const std::string name = tun.name();
  TunDevice moved(std::move(tun));
  CHECK_FALSE(tun.is_open());
  CHECK(moved.queue_fd(0) == fd);
  moved.close();
  CHECK(fcntl(fd, F_GETFD) == -1);  // the fd really was closed
  CHECK(if_nametoindex(name.c_str()) == 0);  // not persistent: the device went with it
}

TEST_CASE("tun: name validation and templates") {
  TestNetns ns("t");
  REQUIRE_NETNS(ns);
  TunDevice tun;
  TunOptions o;
  o.name = "abcdefghijklmnop";  // 16 bytes: does not fit IFNAMSIZ with its NUL
  SysError e = TunDevice::open(o, &tun);
  CHECK(e.err == EINVAL);
  CHECK(e.message().find("longer than 15") != std::string::npos);
  CHECK_FALSE(tun.is_open());
  o.name = "bad/name";
  CHECK(TunDevice::open(o, &tun).err == EINVAL);
  o.name = "tunio%d";
  o.owner = 65534;
  o.group = 65533;
  REQUIRE_OK(TunDevice::open(o, &tun));
  CHECK(tun.name() == "tunio0");
  {
    tunio::Rtnl nl;
    REQUIRE_OK(nl.open());
    tunio::LinkInfo li;
    REQUIRE_OK(nl.get_link(tun.ifindex(), &li));
    CHECK(li.tun.owner == 65534);  // TUNSETOWNER / TUNSETGROUP reached the device
    CHECK(li.tun.group == 65533);
  }
  o.owner = -2;
  CHECK(TunDevice::open(o, &tun).err == EINVAL);
  o.owner = -1;
  o.group = -1;
  o.queues = 0;
  CHECK(TunDevice::open(o, &tun).err == EINVAL);
  CHECK_FALSE(tun.is_open());  // a failed open leaves the target closed
  o.queues = 1;
  o.attach = true;
  o.name = "tunio%d";
  CHECK(TunDevice::open(o, &tun).err == EINVAL);  // attach needs a real name
  o.name.clear();
  CHECK(TunDevice::open(o, &tun).err == EINVAL);
}

TEST_CASE("tun: offload auto and on report what the kernel accepted") {
  TestNetns ns("t");
  REQUIRE_NETNS(ns);
  for (OffloadMode m : {OffloadMode::kAuto, OffloadMode::kOn}) {
    TunDevice tun;
    TunOptions o;
    o.offload = m;
    REQUIRE_OK(TunDevice::open(o, &tun));
    const tunio::TunOffload& off = tun.offload();
    MESSAGE("offload: vnet_hdr=" << off.vnet_hdr << " csum=" << off.csum << " tso4=" << off.tso4
                                 << " tso6=" << off.tso6 << " uso=" << off.uso);
    CHECK(off.vnet_hdr);
    CHECK(off.csum);
    CHECK(off.tso4);
    CHECK(off.tso6);
    CHECK(off.uso);  // Linux >= 6.2 accepts TUN_F_USO4|TUN_F_USO6
    check_tso(tun.name(), 1);
    tunio::Rtnl nl;
    REQUIRE_OK(nl.open());
    tunio::LinkInfo li;
    REQUIRE_OK(nl.get_link(tun.ifindex(), &li));
    CHECK(li.tun.vnet_hdr);
  }
}

TEST_CASE("tun: offload off has no vnet header; a TCP SYN reads as a bare IP packet") {
  TestNetns ns("t");
  REQUIRE_NETNS(ns);
  TunDevice tun;
  TunOptions o;
  o.name = "tunio-off";
  o.offload = OffloadMode::kOff;
  REQUIRE_OK(TunDevice::open(o, &tun));
  CHECK_FALSE(tun.offload().vnet_hdr);
  CHECK_FALSE(tun.offload().csum);
  CHECK_FALSE(tun.offload().tso4);
  check_tso("tunio-off", 0);
  configure(tun, "10.78.0.1/24");

  tunio::UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  REQUIRE(s.get() >= 0);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(80);
  inet_pton(AF_INET, "10.78.0.2", &dst.sin_addr);
  int rc = ::connect(s.get(), reinterpret_cast<sockaddr*>(&dst), sizeof dst);
  REQUIRE((rc == 0 || errno == EINPROGRESS));

  uint8_t buf[65536];
  ssize_t n = read_until(tun, nullptr, buf, sizeof buf, [](const uint8_t* p, size_t len) {
    return len >= 40 && (p[0] >> 4) == 4 && p[9] == IPPROTO_TCP;
  });
  REQUIRE(n > 0);
  // No header in front: the very first byte is the IPv4 version/IHL and the IP total length
  // accounts for every byte read.
  CHECK(buf[0] == 0x45);
  CHECK(rd16(&buf[2]) == n);
  CHECK(memcmp(&buf[16], &dst.sin_addr, 4) == 0);
  const uint8_t* tcp = buf + 20;
  CHECK(rd16(&tcp[2]) == 80);
  CHECK((tcp[13] & 0x02) != 0);  // SYN
}

TEST_CASE("tun: offload off clears the mask a persistent device kept") {
  TestNetns ns("t");
  REQUIRE_NETNS(ns);
  {
    TunDevice tun;
    TunOptions o;
    o.name = "tunio-pers";
    o.persist = true;
    REQUIRE_OK(TunDevice::open(o, &tun));
    CHECK(tun.offload().tso4);
  }
  // Still there after close, with TSO still on: the state a later reader inherits.
  REQUIRE(if_nametoindex("tunio-pers") != 0);
  check_tso("tunio-pers", 1);

  TunDevice tun;
  TunOptions o;
  o.name = "tunio-pers";
  o.offload = OffloadMode::kOff;
  // Without attach, an existing name is refused rather than silently joined.
  SysError e = TunDevice::open(o, &tun);
  CHECK(e.err == EEXIST);
  o.attach = true;
  REQUIRE_OK(TunDevice::open(o, &tun));
  CHECK_FALSE(tun.offload().vnet_hdr);
  check_tso("tunio-pers", 0);
  tunio::Rtnl nl;
  REQUIRE_OK(nl.open());
  tunio::LinkInfo li;
  REQUIRE_OK(nl.get_link(tun.ifindex(), &li));
  CHECK_FALSE(li.tun.vnet_hdr);
  CHECK(li.tun.persist);  // attach with persist=false leaves the owner's choice alone
  // The namespace's deletion removes the persistent device.
}

TEST_CASE("tun: multi-queue, attach semantics, queue detach/attach") {
  TestNetns ns("t");
  REQUIRE_NETNS(ns);
  TunDevice a;
  TunOptions o;
  o.name = "tunio-mq";
  o.queues = 2;
  REQUIRE_OK(TunDevice::open(o, &a));
  CHECK(a.multi_queue());
  REQUIRE(a.queues() == 2);
  CHECK(a.queue_fd(0) != a.queue_fd(1));
  for (int q = 0; q < 2; ++q) {
    CHECK((fcntl(a.queue_fd(q), F_GETFL) & O_NONBLOCK) != 0);
    CHECK((fcntl(a.queue_fd(q), F_GETFD) & FD_CLOEXEC) != 0);
  }
  tunio::Rtnl nl;
  REQUIRE_OK(nl.open());
  tunio::LinkInfo li;
  REQUIRE_OK(nl.get_link(a.ifindex(), &li));
  CHECK(li.tun.multi_queue);
  CHECK(li.tun.num_queues == 2);

  // Same name, no attach: the kernel would silently join; we refuse with EEXIST.
  TunDevice b;
  SysError e = TunDevice::open(o, &b);
  CHECK(e.err == EEXIST);
  CHECK(e.message().find("already exists") != std::string::npos);
  CHECK_FALSE(b.is_open());
  REQUIRE_OK(nl.get_link(a.ifindex(), &li));
  CHECK(li.tun.num_queues == 2);  // the refused open attached nothing

  // With attach: two more queues on the same device.
  o.attach = true;
  REQUIRE_OK(TunDevice::open(o, &b));
  CHECK(b.ifindex() == a.ifindex());
  CHECK(b.offload().vnet_hdr == a.offload().vnet_hdr);
  CHECK(b.offload().tso4 == a.offload().tso4);
  REQUIRE_OK(nl.get_link(a.ifindex(), &li));
  CHECK(li.tun.num_queues == 4);

  // Attach with 'off' would strip the header from the queues already reading: refused.
  TunOptions off = o;
  off.offload = OffloadMode::kOff;
  off.queues = 1;
  TunDevice c;
  e = TunDevice::open(off, &c);
  CHECK(e.err == EINVAL);
  CHECK(e.message().find("virtio header") != std::string::npos);
  REQUIRE_OK(nl.get_link(a.ifindex(), &li));
  CHECK(li.tun.vnet_hdr);

  // Attach to a name that does not exist.
  TunOptions missing = o;
  missing.name = "tunio-none";
  e = TunDevice::open(missing, &c);
  CHECK(e.err == ENODEV);

  // Detach and re-attach one queue.
  REQUIRE_OK(a.detach_queue(1));
  REQUIRE_OK(nl.get_link(a.ifindex(), &li));
  CHECK(li.tun.num_queues == 3);
  CHECK(li.tun.num_disabled_queues == 1);
  REQUIRE_OK(a.attach_queue(1));
  REQUIRE_OK(nl.get_link(a.ifindex(), &li));
  CHECK(li.tun.num_queues == 4);
  CHECK(li.tun.num_disabled_queues == 0);
  CHECK(a.detach_queue(7).err == EBADF);

  b.close();
  REQUIRE_OK(nl.get_link(a.ifindex(), &li));
  CHECK(li.tun.num_queues == 2);

  // A single-queue device cannot take several queues.
  TunDevice s;
  TunOptions so;
  so.name = "tunio-sq";
  REQUIRE_OK(TunDevice::open(so, &s));
  so.attach = true;
  so.queues = 2;
  e = TunDevice::open(so, &c);
  CHECK(e.err == EINVAL);
  CHECK(e.message().find("single-queue") != std::string::npos);
  so.queues = 1;
  e = TunDevice::open(so, &c);
  CHECK(e.err == EBUSY);  // the kernel: a single-queue device has exactly one reader
  CHECK(std::string(e.call) == "ioctl(TUNSETIFF)");
}

TEST_CASE("tun: tap mode") {
  TestNetns ns("t");
  REQUIRE_NETNS(ns);
  TunDevice tap;
  TunOptions o;
  o.mode = tunio::TunMode::kTap;
  REQUIRE_OK(TunDevice::open(o, &tap));
  CHECK(tap.name().rfind("tap", 0) == 0);
  CHECK(tap.mode() == tunio::TunMode::kTap);
  tunio::Rtnl nl;
  REQUIRE_OK(nl.open());
  tunio::LinkInfo li;
  REQUIRE_OK(nl.get_link(tap.ifindex(), &li));
  CHECK(li.tun.type == IFF_TAP);
  // Attaching to a tap as a tun is refused before touching it.
  TunDevice t;
  TunOptions wrong;
  wrong.name = tap.name();
  wrong.attach = true;
  SysError e = TunDevice::open(wrong, &t);
  CHECK(e.err == EINVAL);
  CHECK(e.message().find("tap") != std::string::npos);
}

TEST_CASE("tun: end-to-end UDP through the tun with the virtio header") {
  TestNetns ns("t");
  REQUIRE_NETNS(ns);
  TunDevice tun;
  TunOptions o;
  o.name = "tunio-e2e";
  REQUIRE_OK(TunDevice::open(o, &tun));
  REQUIRE(tun.offload().vnet_hdr);
  configure(tun, "10.77.0.1/24");

  tunio::UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  REQUIRE(s.get() >= 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, "10.77.0.1", &local.sin_addr);
  REQUIRE(::bind(s.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
  socklen_t llen = sizeof local;
  REQUIRE(::getsockname(s.get(), reinterpret_cast<sockaddr*>(&local), &llen) == 0);
  const uint16_t port = ntohs(local.sin_port);

  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(9999);
  inet_pton(AF_INET, "10.77.0.2", &peer.sin_addr);
  const std::string hello = "hello tunio";
  REQUIRE(::sendto(s.get(), hello.data(), hello.size(), 0, reinterpret_cast<sockaddr*>(&peer),
                   sizeof peer) == ssize_t(hello.size()));

  uint8_t hdr[10];
  memset(hdr, 0xee, sizeof hdr);
  static uint8_t buf[65536];
  ssize_t n = read_until(tun, hdr, buf, sizeof buf, [](const uint8_t* p, size_t len) {
    return len >= 28 && (p[0] >> 4) == 4 && p[9] == IPPROTO_UDP;
  });
  REQUIRE(n == ssize_t(28 + hello.size()));
  // virtio_net_hdr: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset (LE).
  const uint8_t flags = hdr[0];
  CHECK(hdr[1] == 0);  // VIRTIO_NET_HDR_GSO_NONE: one plain packet
  CHECK(uint16_t(hdr[6] | hdr[7] << 8) <= 20);  // csum_start: 0, or the UDP header
  if (flags & 1) {  // NEEDS_CSUM: the kernel left the UDP checksum to us (TUN_F_CSUM)
    CHECK(uint16_t(hdr[6] | hdr[7] << 8) == 20);
    CHECK(uint16_t(hdr[8] | hdr[9] << 8) == 6);
  }
  MESSAGE("vnet hdr flags=" << int(flags) << " gso_type=" << int(hdr[1]));
  CHECK(memcmp(&buf[12], &local.sin_addr, 4) == 0);
  CHECK(memcmp(&buf[16], &peer.sin_addr, 4) == 0);
  CHECK(rd16(&buf[20]) == port);
  CHECK(rd16(&buf[22]) == 9999);
  CHECK(std::string(reinterpret_cast<char*>(&buf[28]), hello.size()) == hello);

  // Reply from 10.77.0.2:9999. First with a wrong UDP checksum: the kernel must drop it,
  // which proves the header we hand over does not claim the checksum was verified.
  const uint8_t* me = reinterpret_cast<const uint8_t*>(&local.sin_addr);
  const uint8_t* them = reinterpret_cast<const uint8_t*>(&peer.sin_addr);
  uint8_t zero_hdr[10] = {};
  auto send_reply = [&](const std::string& text, bool corrupt) {
    std::vector<uint8_t> pkt = build_udp4(them, me, 9999, port, text, corrupt);
    iovec iov[2] = {{zero_hdr, sizeof zero_hdr}, {pkt.data(), pkt.size()}};
    return tun.write_raw(0, iov, 2) == ssize_t(sizeof zero_hdr + pkt.size());
  };
  auto receive = [&](int timeout_ms, std::string* text, sockaddr_in* from) {
    pollfd p{s.get(), POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return false;
    char rb[2048];
    socklen_t flen = sizeof *from;
    ssize_t r = ::recvfrom(s.get(), rb, sizeof rb, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(from),
                           &flen);
    if (r < 0) return false;
    text->assign(rb, size_t(r));
    return true;
  };
  std::string got;
  sockaddr_in from{};
  REQUIRE(send_reply("corrupt", true));
  CHECK_FALSE(receive(300, &got, &from));
  REQUIRE(send_reply("hello back", false));
  REQUIRE(receive(2000, &got, &from));
  CHECK(got == "hello back");
  CHECK(from.sin_addr.s_addr == peer.sin_addr.s_addr);
  CHECK(ntohs(from.sin_port) == 9999);

  // Counters agree: we read at least one packet the stack sent (tx) and wrote two (rx).
  tunio::Rtnl nl;
  REQUIRE_OK(nl.open());
  tunio::LinkInfo li;
  REQUIRE_OK(nl.get_link(tun.ifindex(), &li));
  CHECK(li.has_stats);
  CHECK(li.stats.tx_packets >= 1);
  CHECK(li.stats.tx_bytes >= uint64_t(n));
  CHECK(li.stats.rx_packets == 2);
}
