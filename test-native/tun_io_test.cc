// TunQueueIo against a real TUN device in a throwaway namespace: read_batch splits a USO
// superpacket the kernel hands over, write_batch coalesces datagrams into one writev the
// kernel delivers to a real socket, resumes a plan after EAGAIN without losing or repeating a
// packet, and falls back to one-by-one writes when a coalesced write is refused with EINVAL.
// (EAGAIN and EINVAL are injected at the write call; everything else is the kernel's.)
#include <doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "buffer_pool.h"
#include "io_checks.h"
#include "netlink.h"
#include "netns.h"
#include "packet_builders.h"
#include "tun_device.h"
#include "tun_io.h"
#include "tun_io_faults.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

using namespace tunio;

namespace {


// A TUN "tio0" with 10.88.0.1/24, up, in a throwaway namespace.
struct TioNetns : NetnsTun {
  TioNetns() : NetnsTun("io", "tio0") {
    Rtnl nl;
    REQUIRE(nl.open().ok());
    Cidr c;
    REQUIRE(parse_cidr("10.88.0.1/24", &c));
    REQUIRE(nl.add_address(tun.ifindex(), c).ok());
    REQUIRE(nl.set_up(tun.ifindex(), true).ok());
  }
  // Whether the kernel accepted USO on the TUN (UDP superpackets both ways); says what cannot
  // be tested when it did not.
  bool has_uso(const char* untestable) const {
    if (!tun.offload().uso) MESSAGE("kernel did not accept USO on TUN: " << untestable << " not testable here");
    return tun.offload().uso;
  }
};

// A UDP socket bound to 10.88.0.1:port (the kernel's side of the TUN).
int bound_udp(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, "10.88.0.1", &a.sin_addr);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

// Datagrams as the kernel would see them coming out of a peer: 10.88.0.2:5000 -> 10.88.0.1:port.
Packet udp_packet(BufferPool& pool, uint16_t port, uint8_t seed, size_t len) {
  tb::Ip ip;
  const uint8_t src[4] = {10, 88, 0, 2}, dst[4] = {10, 88, 0, 1};
  std::memcpy(ip.src4, src, 4);
  std::memcpy(ip.dst4, dst, 4);
  ip.id = static_cast<uint16_t>(0x100 + seed);
  tb::Bytes b = tb::build_udp(ip, 5000, port, tb::pattern(len, seed), tb::Csum::full);
  Slot* s = pool.acquire(b.size());
  REQUIRE(s != nullptr);
  std::memcpy(s->data, b.data(), b.size());
  Packet p;
  p.slot = SlotRef(s);
  p.length = static_cast<uint32_t>(b.size());
  return p;
}

// What one UDP GRO read of a tunnel hands over: `count` datagrams of one flow, back to back
// in one 64 KiB slot (each packet a view of it).
std::vector<Packet> gro_read_like(BufferPool& pool, uint16_t port, uint8_t seed, size_t count,
                                  size_t payload) {
  Slot* s = pool.acquire_large();
  REQUIRE(s != nullptr);
  std::vector<Packet> out;
  uint32_t off = 0;
  for (size_t i = 0; i < count; i++) {
    Packet one = udp_packet(pool, port, static_cast<uint8_t>(seed + i), payload);
    REQUIRE(off + one.length <= s->capacity);
    std::memcpy(s->data + off, one.data(), one.length);
    Packet p;
    p.slot = SlotRef::share(s);
    p.offset = off;
    p.length = one.length;
    off += one.length;
    out.push_back(std::move(p));
  }
  BufferPool::unref(s);
  return out;
}

// The same read as a native forward's views (view_batch.h): the datagrams in one large slot,
// whose one reference goes to `batch`.
void add_gro_read(ViewBatch& batch, BufferPool& pool, uint16_t port, uint8_t seed, uint32_t count,
                  size_t payload) {
  std::vector<Packet> pkts = gro_read_like(pool, port, seed, count, payload);
  Slot* s = pkts[0].slot.get();
  BufferPool::ref(s);
  const uint32_t seg = pkts[0].length;
  pkts.clear();
  batch.add_read(s, count, seg, seg * count);
}

// Everything the socket has now (waits up to 1 s for the first), as payloads.
std::vector<tb::Bytes> drain(int fd, size_t want) {
  std::vector<tb::Bytes> got;
  for (int i = 0; i < 100 && got.size() < want; i++) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10) <= 0) continue;
    uint8_t buf[2048];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) >= 0) got.emplace_back(buf, buf + n);
  }
  return got;
}

// `count` datagrams of `len` payload bytes: tb::pattern(len, first), then first + 1, ... (mod 256).
struct Payloads {
  size_t count;
  size_t len;
  uint8_t first;
};

// The socket receives exactly these, in this order (the runs one after the other).
void check_received(int fd, std::initializer_list<Payloads> runs) {
  size_t want = 0;
  for (const Payloads& r : runs) want += r.count;
  std::vector<tb::Bytes> got = drain(fd, want);
  REQUIRE(got.size() == want);
  size_t i = 0;
  for (const Payloads& r : runs) {
    for (size_t k = 0; k < r.count; k++, i++) {
      CHECK_MESSAGE(got[i] == tb::pattern(r.len, static_cast<uint8_t>(r.first + k)), "datagram ", i);
    }
  }
}

}  // namespace

TEST_CASE("tun_io: read_batch splits a USO superpacket from the kernel into checked datagrams") {
  TioNetns t;
  if (!t.has_uso("split of UDP superpackets")) return;
  TunDevice& tun = t.tun;
  TunQueueIo io(&tun, 0, TunIoOptions());
  // One sendmsg with UDP_SEGMENT: 8 x 1000 bytes + a 300-byte tail toward the TUN's subnet.
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  REQUIRE(s.get() >= 0);
  int seg = 1000;
  REQUIRE(::setsockopt(s.get(), IPPROTO_UDP, UDP_SEGMENT, &seg, sizeof seg) == 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(9);
  inet_pton(AF_INET, "10.88.0.2", &to.sin_addr);
  const tb::Bytes payload = tb::pattern(8300, 7);
  REQUIRE(::sendto(s.get(), payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
          static_cast<ssize_t>(payload.size()));

  BufferPool pool;
  TunStats st;
  std::vector<Packet> out;
  std::vector<tb::Bytes> ours;  // UDP to port 9 (skip IPv6 chatter after link-up)
  for (int i = 0; i < 100 && ours.size() < 9; i++) {
    out.clear();
    const IoResult r = io.read_batch(pool, out, st);
    REQUIRE(r.status != IoStatus::kError);
    CHECK(r.done == out.size());
    for (const Packet& p : out) {
      tb::Bytes b(p.data(), p.data() + p.length);
      if (b.size() >= 28 && (b[0] >> 4) == 4 && b[9] == 17 && tb::be16(&b[22]) == 9) ours.push_back(b);
    }
    if (r.status == IoStatus::kWouldBlock) {
      pollfd p{tun.queue_fd(0), POLLIN, 0};
      ::poll(&p, 1, 10);
    }
  }
  REQUIRE(ours.size() == 9);
  CHECK(st.superpackets_in >= 1);
  CHECK(st.segments_in >= 9);
  tb::Bytes joined;
  for (size_t i = 0; i < ours.size(); i++) {
    CAPTURE(i);
    CHECK(ours[i].size() == 28 + (i < 8 ? 1000u : 300u));
    CHECK(tb::lengths_consistent(ours[i]));
    CHECK(tb::checksums_valid(ours[i]));
    joined.insert(joined.end(), ours[i].begin() + 28, ours[i].end());
  }
  CHECK(joined == payload);
}

TEST_CASE("tun_io: write_batch coalesce, EAGAIN resume and the EINVAL fallback through the kernel") {
  TioNetns t;
  if (!t.has_uso("UDP coalescing")) return;
  TunDevice& tun = t.tun;
  TunQueueIo io(&tun, 0, TunIoOptions());
  REQUIRE(io.coalescing_udp());
  UniqueFd rx1(bound_udp(7001)), rx2(bound_udp(7002));
  BufferPool pool;
  TunStats st;

  SUBCASE("coalesced: 10 equal datagrams of one flow are one writev, delivered as 10") {
    std::vector<Packet> pkts;
    for (uint8_t i = 0; i < 10; i++) pkts.push_back(udp_packet(pool, 7001, i, 1200));
    const IoResult r = io.write_batch(pkts, st);
    CHECK_ALL_SENT(r, pkts, 10u);
    CHECK(r.done == 10);
    CHECK(st.write_calls == 1);
    CHECK(st.superpackets_out == 1);
    CHECK(st.segments_out == 10);
    CHECK(st.packets_out == 10);
    check_received(rx1.get(), {{10, 1200, 0}});
  }

  SUBCASE("a batch longer than one plan is cut between GRO reads, not inside one") {
    // 25 reads of 45 datagrams (1,125 packets, more than one plan holds). 46 of these would
    // pass 65,535 bytes, so each read is exactly one coalesced write: 25 writev, where a
    // blind cut at packet 1,024 made 26.
    const int rcvbuf = 16 << 20;
    REQUIRE(::setsockopt(rx1.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) == 0);
    std::vector<Packet> pkts;
    for (int r = 0; r < 25; r++) {
      for (Packet& p : gro_read_like(pool, 7001, static_cast<uint8_t>(r * 45), 45, 1412)) pkts.push_back(std::move(p));
    }
    REQUIRE(pkts.size() == 1125);
    REQUIRE(io.write_batch(pkts, st).status == IoStatus::kOk);
    CHECK(pkts.empty());
    CHECK(st.superpackets_out == 25);
    CHECK(st.write_calls == 25);
    CHECK(st.packets_out == 1125);
    check_received(rx1.get(), {{1125, 1412, 0}});
  }

  SUBCASE("EAGAIN on the second write: the plan resumes there, nothing lost or repeated") {
    std::vector<Packet> pkts;
    for (uint8_t i = 0; i < 6; i++) pkts.push_back(udp_packet(pool, 7001, i, 800));
    for (uint8_t i = 0; i < 6; i++) pkts.push_back(udp_packet(pool, 7002, uint8_t(50 + i), 900));
    io.set_writer(std::make_unique<OneWriteFault>(&tun, 0, EAGAIN, false, 1));
    IoResult r = io.write_batch(pkts, st);
    REQUIRE(r.status == IoStatus::kWouldBlock);
    CHECK(r.error.err == EAGAIN);
    CHECK(r.done == 6);  // the first superpacket
    CHECK(pkts.size() == 12);  // the plan is kept whole until it completes
    CHECK(st.write_calls == 2);  // the second write was refused
    r = io.write_batch(pkts, st);
    REQUIRE(r.status == IoStatus::kOk);
    CHECK(r.done == 6);
    CHECK(pkts.empty());
    CHECK(st.write_calls == 3);
    CHECK(st.superpackets_out == 2);
    CHECK(st.packets_out == 12);
    check_received(rx1.get(), {{6, 800, 0}});
    check_received(rx2.get(), {{6, 900, 50}});
  }

  SUBCASE("a plan resumed after EAGAIN, with the vector grown meanwhile, writes its members' bytes") {
    // write_one takes the members' data from the plan's input (gro_in_), not from the packets'
    // vector: a forward appends to that vector between the two calls (it may move).
    std::vector<Packet> pkts;
    for (uint8_t i = 0; i < 5; i++) pkts.push_back(udp_packet(pool, 7001, i, 1000));
    for (uint8_t i = 0; i < 5; i++) pkts.push_back(udp_packet(pool, 7002, uint8_t(30 + i), 1100));
    io.set_writer(std::make_unique<OneWriteFault>(&tun, 0, EAGAIN, false, 1));
    REQUIRE(io.write_batch(pkts, st).status == IoStatus::kWouldBlock);
    REQUIRE(pkts.size() == 10);
    const Packet* before = pkts.data();
    for (uint8_t i = 0; i < 40; i++) pkts.push_back(udp_packet(pool, 7001, uint8_t(100 + i), 600));
    CHECK(pkts.data() != before);  // moved: the resumed write must not read the old vector
    REQUIRE(io.write_batch(pkts, st).status == IoStatus::kOk);
    CHECK(pkts.empty());
    check_received(rx1.get(), {{5, 1000, 0}, {40, 600, 100}});
    check_received(rx2.get(), {{5, 1100, 30}});
  }

  SUBCASE("ENOBUFS on the first write: kNoBuffers with the errno and call, nothing taken, then all of it") {
    std::vector<Packet> pkts;
    for (uint8_t i = 0; i < 3; i++) pkts.push_back(udp_packet(pool, 7001, uint8_t(90 + i), 700));
    io.set_writer(std::make_unique<OneWriteFault>(&tun, 0, ENOBUFS, false, 0));
    IoResult r = io.write_batch(pkts, st);
    REQUIRE(r.status == IoStatus::kNoBuffers);
    CHECK(r.blocked());
    CHECK(r.error.err == ENOBUFS);
    CHECK(std::string(r.error.call) == "writev");
    CHECK(r.done == 0);
    CHECK(pkts.size() == 3);
    r = io.write_batch(pkts, st);
    REQUIRE(r.status == IoStatus::kOk);
    CHECK(r.done == 3);
    CHECK(r.dropped == 0);
    check_received(rx1.get(), {{3, 700, 90}});
  }

  SUBCASE("EINVAL on a coalesced write: the same segments one by one, coalescing off, counted") {
    std::vector<Packet> pkts;
    for (uint8_t i = 0; i < 8; i++) pkts.push_back(udp_packet(pool, 7001, i, 1000));
    auto fault = std::make_unique<OneWriteFault>(&tun, 0, EINVAL, true, 0);
    const OneWriteFault* armed = fault.get();
    io.set_writer(std::move(fault));
    REQUIRE(io.write_batch(pkts, st).status == IoStatus::kOk);
    CHECK(armed->fired());
    CHECK(pkts.empty());
    CHECK(st.coalesce_fallbacks == 1);
    CHECK(st.superpackets_out == 0);
    CHECK(st.packets_out == 8);
    CHECK(st.write_calls == 9);  // the refused superpacket, then one writev per segment
    CHECK(st.drop_write_rejected == 0);
    CHECK_FALSE(io.coalescing_udp());
    CHECK_FALSE(io.coalescing_tcp());
    check_received(rx1.get(), {{8, 1000, 0}});
    // Later batches are written packet by packet, and still arrive.
    for (uint8_t i = 0; i < 4; i++) pkts.push_back(udp_packet(pool, 7001, uint8_t(20 + i), 1000));
    REQUIRE(io.write_batch(pkts, st).status == IoStatus::kOk);
    CHECK(st.coalesce_fallbacks == 1);
    CHECK(st.superpackets_out == 0);
    CHECK(st.write_calls == 13);
    check_received(rx1.get(), {{4, 1000, 20}});
  }
}

TEST_CASE("tun_io: write_views writes a forward's views as write_batch writes Packets; stopped, they become the queue") {
  TioNetns t;
  if (!t.has_uso("UDP coalescing")) return;
  TunDevice& tun = t.tun;
  TunQueueIo io(&tun, 0, TunIoOptions());
  REQUIRE(io.coalescing_udp());
  UniqueFd rx1(bound_udp(7001)), rx2(bound_udp(7002));
  BufferPool pool;
  TunStats st;
  const uint64_t in_use = pool.stats().slots_in_use;

  SUBCASE("written in full: one coalesced writev per read, the slots returned") {
    ViewBatch batch;
    add_gro_read(batch, pool, 7001, 0, 20, 1200);
    add_gro_read(batch, pool, 7002, 40, 7, 900);
    REQUIRE(batch.size() == 27);
    REQUIRE(io.can_write_views(batch.size()));
    std::vector<Packet> pkts;
    const IoResult r = io.write_views(batch, pkts, st);
    REQUIRE(r.status == IoStatus::kOk);
    CHECK(r.done == 27);
    CHECK(r.dropped == 0);
    CHECK(batch.empty());
    CHECK(pkts.empty());
    CHECK(io.done_in_plan() == 0);
    CHECK(st.write_calls == 2);
    CHECK(st.superpackets_out == 2);
    CHECK(st.packets_out == 27);
    CHECK(pool.stats().slots_in_use == in_use);
    check_received(rx1.get(), {{20, 1200, 0}});
    check_received(rx2.get(), {{7, 900, 40}});
  }

  SUBCASE("EAGAIN on the second write: the batch becomes Packets with the plan active, write_batch resumes it") {
    ViewBatch batch;
    add_gro_read(batch, pool, 7001, 0, 6, 800);
    add_gro_read(batch, pool, 7002, 50, 6, 900);
    io.set_writer(std::make_unique<OneWriteFault>(&tun, 0, EAGAIN, false, 1));
    std::vector<Packet> pkts;
    IoResult r = io.write_views(batch, pkts, st);
    REQUIRE(r.status == IoStatus::kWouldBlock);
    CHECK(r.error.err == EAGAIN);
    CHECK(std::string(r.error.call) == "writev");
    CHECK(r.done == 6);
    CHECK(batch.empty());
    REQUIRE(pkts.size() == 12);  // the plan's window, whole, as write_batch keeps it
    CHECK(io.done_in_plan() == 6);
    CHECK_FALSE(io.can_write_views(1));  // a plan waits: views would overtake it
    CHECK(pkts[6].offset == 0);
    CHECK(pkts[11].offset == pkts[6].length * 5);
    CHECK(pkts[0].slot.get()->refs == 6);
    CHECK(pool.stats().slots_in_use == in_use + 2);
    r = io.write_batch(pkts, st);
    REQUIRE(r.status == IoStatus::kOk);
    CHECK(r.done == 6);
    CHECK(pkts.empty());
    CHECK(st.write_calls == 3);
    CHECK(st.superpackets_out == 2);
    CHECK(st.packets_out == 12);
    CHECK(pool.stats().slots_in_use == in_use);
    check_received(rx1.get(), {{6, 800, 0}});
    check_received(rx2.get(), {{6, 900, 50}});
    CHECK(io.can_write_views(1));
  }

  SUBCASE("an empty datagram among the views is dropped as malformed, as a Packet of length 0 is") {
    ViewBatch batch;
    add_gro_read(batch, pool, 7001, 0, 3, 1000);
    Slot* empty = pool.acquire(64);
    REQUIRE(empty != nullptr);
    batch.add_read(empty, 1, 0, 0);
    std::vector<Packet> pkts;
    const IoResult r = io.write_views(batch, pkts, st);
    REQUIRE(r.status == IoStatus::kOk);
    CHECK(r.done == 4);
    CHECK(r.dropped == 1);
    CHECK(st.drop_malformed == 1);
    CHECK(st.packets_out == 3);
    CHECK(pool.stats().slots_in_use == in_use);
    check_received(rx1.get(), {{3, 1000, 0}});
  }
}
