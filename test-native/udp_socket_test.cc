// UdpSocket against the real kernel on loopback (127.0.0.1, ::1): GSO/GRO, batching,
// addresses, ECN, the GSO fallback, ICMP errors and pool backpressure. Runs as root.
#include <doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include <cstring>
#include <memory>
#include <vector>

#include "buffer_pool.h"
#include "io_checks.h"
#include "packet.h"
#include "udp_features.h"
#include "test_endpoints.h"
#include "udp_socket.h"
#include "udp_socket_faults.h"

using namespace tunio;

namespace {

std::unique_ptr<UdpSocket> open_ok(UdpOptions o) {
  UdpOpenResult r = UdpSocket::open(o);
  INFO("open failed: ", errno_name(r.error.err), " in ", (r.error.call ? r.error.call : "?"));
  REQUIRE(r.socket);
  return std::move(r.socket);
}

std::unique_ptr<UdpSocket> open_at(const char* addr, uint16_t port = 0) {
  UdpOptions o;
  o.bind = endpoint(addr, port);
  o.recv_buffer = 8 << 20;  // many datagrams in flight on loopback without drops
  return open_ok(o);
}

uint8_t pattern(uint32_t tag, uint32_t i) { return static_cast<uint8_t>(tag * 131u + i * 7u + (i >> 8)); }

Packet make_packet(BufferPool& pool, uint32_t len, uint32_t tag) {
  Slot* s = pool.acquire(len == 0 ? 1 : len);
  REQUIRE(s != nullptr);
  for (uint32_t i = 0; i < len; i++) s->data[i] = pattern(tag, i);
  Packet p;
  p.slot = SlotRef(s);
  p.length = len;
  return p;
}

bool bytes_ok(const Packet& p, uint32_t tag) {
  for (uint32_t i = 0; i < p.length; i++) {
    if (p.data()[i] != pattern(tag, i)) return false;
  }
  return true;
}

bool wait_for(int fd, short events, int timeout_ms = 2000) {
  pollfd pfd{fd, events, 0};
  return ::poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & (events | POLLERR));
}

// Reads until `n` datagrams arrived (or 2 s of silence).
void recv_n(UdpSocket& s, BufferPool& pool, std::vector<Packet>& out, size_t n, RecvStats& st) {
  while (out.size() < n) {
    IoResult r = s.recv_batch(pool, out, 64, st);
    REQUIRE(r.status != IoStatus::kError);
    REQUIRE(r.status != IoStatus::kPoolExhausted);
    if (r.status == IoStatus::kWouldBlock && !wait_for(s.fd(), POLLIN)) break;
  }
}

// Reads `n` datagrams from `s`; REQUIREs that all of them arrived (recv_n's deadline).
std::vector<Packet> receive(UdpSocket& s, BufferPool& pool, size_t n, RecvStats& st) {
  std::vector<Packet> got;
  recv_n(s, pool, got, n, st);
  REQUIRE(got.size() == n);
  return got;
}

uint16_t closed_port() {
  auto s = open_at("127.0.0.1");
  return s->local_address().port;  // closed again when `s` goes
}

}  // namespace

TEST_CASE("udp socket: open binds, reports the real port, validates options") {
  auto s = open_at("127.0.0.1");
  CHECK(s->family() == AF_INET);
  CHECK(s->local_address().family == 4);
  CHECK(s->local_address().port != 0);
  CHECK(same_address(s->local_address(), endpoint("127.0.0.1", 0)));
  CHECK((::fcntl(s->fd(), F_GETFL) & O_NONBLOCK) != 0);
  CHECK((::fcntl(s->fd(), F_GETFD) & FD_CLOEXEC) != 0);
  // As root SO_RCVBUFFORCE passes net.core.rmem_max; the kernel reports double the request.
  CHECK(s->recv_buffer_size() >= 8 << 20);
  int pmtu = -1;
  socklen_t len = sizeof pmtu;
  REQUIRE(::getsockopt(s->fd(), IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, &len) == 0);
  CHECK(pmtu == IP_PMTUDISC_DONT);

  UdpOptions bad;
  bad.bind = endpoint("127.0.0.1", 0);
  bad.batch_size = 129;
  UdpOpenResult r = UdpSocket::open(bad);
  CHECK_FALSE(r.socket);
  CHECK(r.error.err == EINVAL);
  CHECK(std::strcmp(r.error.call, "options(batch_size)") == 0);
  UdpOptions nobind;
  r = UdpSocket::open(nobind);
  CHECK(r.error.err == EINVAL);

  // Same port twice: EADDRINUSE from bind, unless both ask for SO_REUSEPORT.
  UdpOptions again;
  again.bind = s->local_address();
  r = UdpSocket::open(again);
  CHECK(r.error.err == EADDRINUSE);
  CHECK(std::strcmp(r.error.call, "bind") == 0);
  UdpOptions rp;
  rp.bind = endpoint("127.0.0.1", 0);
  rp.reuse_port = true;
  rp.pmtu = PmtuMode::kDo;
  auto a = open_ok(rp);
  rp.bind = a->local_address();
  auto b = open_ok(rp);
  CHECK(b->local_address().port == a->local_address().port);
  REQUIRE(::getsockopt(a->fd(), IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, &len) == 0);
  CHECK(pmtu == IP_PMTUDISC_DO);
}

TEST_CASE("udp features: GSO, GRO and the probed segment limit of this kernel") {
  SysError err;
  const uint16_t probed = udp_probe_max_gso_segments(&err);
  CHECK(err.ok());
  CHECK((probed == 64 || probed == 128));
  CHECK(udp_max_gso_segments() == probed);
  MESSAGE("UDP_SEGMENT max segments on this kernel: ", probed);

  UdpOptions o;
  o.bind = endpoint("127.0.0.1", 0);
  o.gso = Offload::kOn;  // this kernel has both; "on" must then succeed
  o.gro = Offload::kOn;
  auto s = open_ok(o);
  CHECK(s->features().gso);
  CHECK(s->features().gro);
  CHECK(s->features().max_gso_segments == probed);
  o.gso = Offload::kOff;
  o.gro = Offload::kOff;
  auto off = open_ok(o);
  CHECK_FALSE(off->features().gso);
  CHECK_FALSE(off->features().gro);
  CHECK(off->features().max_gso_segments == 0);
}

// One table over the IP version: each row's loopback address, and the ECN bits its datagrams
// carry (set on send with IP_TOS / IPV6_TCLASS, read back per datagram of a GRO read).
struct LoopbackRow {
  const char* name;
  const char* address;
  int socket_family;
  uint8_t ecn;
};
const LoopbackRow kLoopbacks[] = {
    {"IPv4, not ECN-capable", "127.0.0.1", AF_INET, 0},
    {"IPv6, ECT(0)", "::1", AF_INET6, 2},
};

TEST_CASE("udp socket: 64 equal datagrams go out as one GSO sendmsg and come back as one GRO read") {
  for (const LoopbackRow& row : kLoopbacks) {
    CAPTURE(row.name);
    BufferPool pool;
    auto tx = open_at(row.address);
    auto rx = open_at(row.address);
    CHECK(tx->family() == row.socket_family);
    REQUIRE(tx->features().gso);
    REQUIRE(rx->features().gro);
    std::vector<Packet> pkts;
    for (uint32_t i = 0; i < 64; i++) {
      pkts.push_back(make_packet(pool, 1000, i));
      pkts.back().ecn = row.ecn;
    }
    const IpEndpoint to = rx->local_address();
    SendStats st;
    IoResult r = tx->send_batch(pkts, &to, st);
    CHECK_ALL_SENT(r, pkts, 64u);
    CHECK(r.done == 64);
    CHECK(st.sendmsg_calls == 1);
    CHECK(st.sendmmsg_calls == 0);
    CHECK(st.gso_sends == 1);
    CHECK(st.gso_segments == 64);
    CHECK(st.datagrams == 64);
    CHECK(st.bytes == 64000);

    REQUIRE(wait_for(rx->fd(), POLLIN));
    std::vector<Packet> got;
    RecvStats rs;
    IoResult rr = rx->recv_batch(pool, got, 64, rs);
    CHECK(rr.status == IoStatus::kOk);
    CHECK(rs.recvmmsg_calls == 1);
    CHECK(rs.messages == 1);
    CHECK(rs.gro_reads == 1);
    REQUIRE(got.size() == 64);
    CHECK(rr.done == 64);
    const unsigned lo = if_nametoindex("lo");
    for (uint32_t i = 0; i < 64; i++) {
      CAPTURE(i);
      CHECK(got[i].slot.get() == got[0].slot.get());  // views of one 64 KiB slot
      CHECK(got[i].offset == i * 1000);
      CHECK(got[i].length == 1000);
      CHECK(bytes_ok(got[i], i));
      CHECK(got[i].remote.same_address_port(tx->local_address()));
      CHECK(same_address(got[i].local, endpoint(row.address)));
      CHECK(got[i].local.ifindex == lo);
      CHECK(got[i].ecn == row.ecn);
    }
    CHECK(got[0].slot.get()->refs == 64);
    const uint64_t before = pool.stats().slots_in_use;
    got.clear();  // the last view returns the slot
    CHECK(pool.stats().slots_in_use == before - 1);
    CHECK(rx->recv_batch(pool, got, 64, rs).status == IoStatus::kWouldBlock);
  }
}

TEST_CASE("udp socket: runs longer than the message batch are planned whole (one send per superpacket)") {
  // What a split TUN read hands over: superpackets of 45 MTU-size segments and a shorter last
  // one, 5 of them (230 packets) in one send_batch. Planning only batch_ (64) packets at a time
  // used to cut a run at every window edge: 9 GSO sends in 4 system calls instead of 5 in 1.
  BufferPool pool;
  auto tx = open_at("127.0.0.1");
  auto rx = open_at("127.0.0.1");
  REQUIRE(tx->features().gso);
  REQUIRE(tx->batch_size() == 64);
  std::vector<Packet> pkts;
  uint32_t tag = 0;
  for (int sp = 0; sp < 5; sp++) {
    for (int i = 0; i < 45; i++) pkts.push_back(make_packet(pool, 1420, tag++));
    pkts.push_back(make_packet(pool, 700, tag++));
  }
  const IpEndpoint to = rx->local_address();
  SendStats st;
  IoResult r = tx->send_batch(pkts, &to, st);
  CHECK_ALL_SENT(r, pkts, 230u);
  CHECK(st.gso_sends == 5);
  CHECK(st.gso_segments == 230);
  CHECK(st.sendmmsg_calls == 1);
  CHECK(st.sendmsg_calls == 0);

  RecvStats rs;
  std::vector<Packet> got = receive(*rx, pool, 230, rs);
  for (uint32_t i = 0; i < 230; i++) {
    CAPTURE(i);
    CHECK(got[i].length == (i % 46 == 45 ? 700u : 1420u));
    CHECK(bytes_ok(got[i], i));
  }
}

TEST_CASE("udp socket: more messages than the batch go out in several rounds, in order") {
  // 200 datagrams, each longer than the one before: no two make a run, so 200 messages in
  // rounds of 64.
  BufferPool pool;
  auto tx = open_at("127.0.0.1");
  auto rx = open_at("127.0.0.1");
  std::vector<Packet> pkts;
  for (uint32_t i = 0; i < 200; i++) pkts.push_back(make_packet(pool, 100 + i, i));
  const IpEndpoint to = rx->local_address();
  SendStats st;
  IoResult r = tx->send_batch(pkts, &to, st);
  CHECK_ALL_SENT(r, pkts, 200u);
  CHECK(st.sendmmsg_calls == 4);  // 64 + 64 + 64 + 8
  CHECK(st.gso_sends == 0);
  RecvStats rs;
  std::vector<Packet> got = receive(*rx, pool, 200, rs);
  for (uint32_t i = 0; i < 200; i++) {
    CAPTURE(i);
    CHECK(got[i].length == 100 + i);
    CHECK(bytes_ok(got[i], i));
  }
}

TEST_CASE("udp socket: a GRO read with a shorter last datagram; without GRO each arrives alone") {
  BufferPool pool;
  auto tx = open_at("127.0.0.1");
  UdpOptions o;
  o.bind = endpoint("127.0.0.1", 0);
  o.recv_buffer = 8 << 20;
  auto gro_rx = open_ok(o);
  o.gro = Offload::kOff;
  auto plain_rx = open_ok(o);
  for (UdpSocket* rx : {gro_rx.get(), plain_rx.get()}) {
    std::vector<Packet> pkts;
    for (uint32_t i = 0; i < 10; i++) pkts.push_back(make_packet(pool, 1200, 100 + i));
    pkts.push_back(make_packet(pool, 77, 110));
    const IpEndpoint to = rx->local_address();
    SendStats st;
    CHECK(tx->send_batch(pkts, &to, st).sent() == 11);
    CHECK(st.gso_sends == 1);
    RecvStats rs;
    std::vector<Packet> got = receive(*rx, pool, 11, rs);
    for (uint32_t i = 0; i < 11; i++) {
      CAPTURE(i);
      CHECK(got[i].length == (i < 10 ? 1200u : 77u));
      CHECK(bytes_ok(got[i], 100 + i));
    }
    if (rx == gro_rx.get()) {
      CHECK(rs.messages == 1);
      CHECK(got[10].slot.get() == got[0].slot.get());
      CHECK(got[0].slot.get()->refs == 11);  // one reference per datagram, no more
      Slot* shared = got[0].slot.get();
      const uint64_t in_use = pool.stats().slots_in_use;
      got.resize(10);
      CHECK(shared->refs == 10);
      got.clear();
      CHECK(pool.stats().slots_in_use == in_use - 1);  // the last reference returned the slot
    } else {
      CHECK(rs.messages == 11);  // the kernel segmented for a socket without UDP_GRO
      CHECK(rs.gro_reads == 0);
    }
  }
}

TEST_CASE("udp socket: recv_views reads what recv_batch reads, as views with one slot reference per message") {
  BufferPool pool;
  auto tx = open_at("127.0.0.1");
  UdpOptions o;
  o.bind = endpoint("127.0.0.1", 0);
  o.recv_buffer = 8 << 20;
  auto gro_rx = open_ok(o);
  o.gro = Offload::kOff;
  auto plain_rx = open_ok(o);
  for (UdpSocket* rx : {gro_rx.get(), plain_rx.get()}) {
    CAPTURE(rx == gro_rx.get());
    std::vector<Packet> pkts;
    for (uint32_t i = 0; i < 10; i++) pkts.push_back(make_packet(pool, 1200, 100 + i));
    pkts.push_back(make_packet(pool, 77, 110));
    const IpEndpoint to = rx->local_address();
    SendStats st;
    REQUIRE(tx->send_batch(pkts, &to, st).sent() == 11);
    const uint64_t in_use = pool.stats().slots_in_use;
    RecvStats rs;
    ViewBatch views;
    for (int i = 0; i < 100 && views.size() < 11; i++) {
      const IoResult r = rx->recv_views(pool, views, 64, rs);
      REQUIRE(r.status != IoStatus::kError);
      REQUIRE(r.status != IoStatus::kPoolExhausted);
      if (r.status == IoStatus::kWouldBlock && !wait_for(rx->fd(), POLLIN)) break;
    }
    REQUIRE(views.size() == 11);
    CHECK(rs.datagrams == 11);
    CHECK(rs.bytes == 10 * 1200 + 77);
    CHECK(views.bytes() == 10 * 1200 + 77);
    for (uint32_t i = 0; i < 11; i++) {
      CAPTURE(i);
      const GroPacket& v = views.views()[i];
      REQUIRE(v.len == (i < 10 ? 1200u : 77u));
      bool same = true;
      for (uint32_t k = 0; k < v.len; k++) same = same && v.data[k] == pattern(100 + i, k);
      CHECK(same);
    }
    // One slot per message read, one reference each: a GRO read's 11 datagrams share one.
    const uint64_t messages = rx == gro_rx.get() ? 1 : 11;
    CHECK(rs.messages == messages);
    CHECK(pool.stats().slots_in_use == in_use + messages);
    if (rx == gro_rx.get()) CHECK(views.views()[10].data == views.views()[0].data + 10 * 1200);

    // As Packets: the same bytes at the same places, a reference per datagram.
    std::vector<Packet> got;
    views.to_packets(got);
    CHECK(views.empty());
    REQUIRE(got.size() == 11);
    for (uint32_t i = 0; i < 11; i++) {
      CAPTURE(i);
      CHECK(got[i].length == (i < 10 ? 1200u : 77u));
      CHECK(bytes_ok(got[i], 100 + i));
    }
    if (rx == gro_rx.get()) {
      CHECK(got[0].slot.get()->refs == 11);
      CHECK(got[10].offset == 10 * 1200);
    }
    CHECK(pool.stats().slots_in_use == in_use + messages);
    got.clear();
    CHECK(pool.stats().slots_in_use == in_use);
  }
}

TEST_CASE("udp socket: 0-byte and 65,507-byte datagrams") {
  BufferPool pool;
  auto tx = open_at("127.0.0.1");
  auto rx = open_at("127.0.0.1");
  std::vector<Packet> pkts;
  pkts.push_back(make_packet(pool, 0, 1));
  pkts.push_back(make_packet(pool, 65507, 2));
  pkts.push_back(make_packet(pool, 0, 3));
  pkts.push_back(make_packet(pool, 1, 4));
  const IpEndpoint to = rx->local_address();
  SendStats st;
  IoResult r = tx->send_batch(pkts, &to, st);
  CHECK_ALL_SENT(r, pkts, 4u);
  CHECK(st.sendmmsg_calls == 1);  // four messages, one syscall
  CHECK(st.sendmsg_calls == 0);
  CHECK(st.gso_sends == 0);
  CHECK(st.bytes == 65508);

  RecvStats rs;
  std::vector<Packet> got = receive(*rx, pool, 4, rs);
  CHECK(got[0].length == 0);
  CHECK(got[1].length == 65507);
  CHECK(bytes_ok(got[1], 2));
  CHECK(got[2].length == 0);
  CHECK(got[3].length == 1);
  CHECK(bytes_ok(got[3], 4));
  CHECK(rs.datagrams == 4);
  CHECK(rs.bytes == 65508);
  CHECK(rs.dropped_truncated == 0);
}

TEST_CASE("udp socket: mixed sizes to many peers arrive complete and in order") {
  BufferPool pool;
  auto tx = open_at("127.0.0.1");
  std::vector<std::unique_ptr<UdpSocket>> peers;
  for (int i = 0; i < 4; i++) peers.push_back(open_at("127.0.0.1"));
  // Runs of varying length and size per peer, interleaved; tags record the order per peer.
  std::vector<Packet> pkts;
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> expected(4);  // (tag, len)
  uint32_t seed = 12345, tag = 0;
  auto rnd = [&seed](uint32_t n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) % n;
  };
  while (pkts.size() < 300) {
    const uint32_t peer = rnd(4);
    const uint32_t run = 1 + rnd(12);
    const uint32_t size = 1 + rnd(1500);
    for (uint32_t k = 0; k < run; k++) {
      const uint32_t len = (k == run - 1 && rnd(2)) ? rnd(size) : size;  // maybe shorter last
      pkts.push_back(make_packet(pool, len, tag));
      pkts.back().remote = peers[peer]->local_address();
      expected[peer].push_back({tag, len});
      tag++;
    }
  }
  const size_t total = pkts.size();
  SendStats st;
  IoResult r = tx->send_batch(pkts, nullptr, st);
  CHECK_ALL_SENT(r, pkts, total);
  CHECK(st.datagrams == total);
  CHECK(st.gso_sends > 0);
  const uint64_t syscalls = st.sendmsg_calls + st.sendmmsg_calls;
  MESSAGE(total, " datagrams in ", syscalls, " syscalls, ", st.gso_sends, " GSO messages");
  CHECK(syscalls <= (total + 63) / 64);  // one syscall per 64-packet window

  for (int p = 0; p < 4; p++) {
    CAPTURE(p);
    RecvStats rs;
    std::vector<Packet> got = receive(*peers[p], pool, expected[p].size(), rs);
    for (size_t i = 0; i < got.size(); i++) {
      CAPTURE(i);
      CHECK(got[i].length == expected[p][i].second);
      CHECK(bytes_ok(got[i], expected[p][i].first));
      CHECK(got[i].remote.same_address_port(tx->local_address()));
    }
  }
}

TEST_CASE("udp socket: a dual-stack socket sees IPv4 peers as plain IPv4 and answers them") {
  BufferPool pool;
  UdpOptions o;
  o.bind = endpoint("::", 0);
  o.ipv6_only = false;
  auto dual = open_ok(o);
  CHECK(dual->family() == AF_INET6);
  CHECK(dual->local_address().family == 6);
  auto v4 = open_at("127.0.0.1");

  std::vector<Packet> pkts;
  pkts.push_back(make_packet(pool, 500, 1));
  pkts.back().ecn = 1;  // ECT(1): reported through IP_RECVTOS on the dual-stack socket
  const IpEndpoint to = endpoint("127.0.0.1", dual->local_address().port);
  SendStats st;
  CHECK(v4->send_batch(pkts, &to, st).sent() == 1);
  RecvStats rs;
  std::vector<Packet> got = receive(*dual, pool, 1, rs);
  CHECK(bytes_ok(got[0], 1));
  CHECK(got[0].remote.family == 4);  // not ::ffff:127.0.0.1
  CHECK(got[0].remote.same_address_port(v4->local_address()));
  CHECK(got[0].local.family == 4);
  CHECK(same_address(got[0].local, endpoint("127.0.0.1", 0)));
  CHECK(got[0].local.ifindex == if_nametoindex("lo"));
  CHECK(got[0].ecn == 1);

  // Answer from the address it came in on, with ECN, the way a server replies: ten equal
  // datagrams, so the IPv4 path of the IPv6 socket also carries UDP_SEGMENT + IP_PKTINFO + IP_TOS.
  std::vector<Packet> reply;
  for (uint32_t i = 0; i < 10; i++) {
    reply.push_back(make_packet(pool, 300, 20 + i));
    reply.back().remote = got[0].remote;
    reply.back().local = got[0].local;
    reply.back().ecn = 2;
  }
  SendStats dst;
  IoResult r = dual->send_batch(reply, nullptr, dst);
  CHECK_ALL_SENT(r, reply, 10u);
  CHECK(dst.gso_sends == 1);
  CHECK(dst.sendmsg_calls == 1);
  std::vector<Packet> back = receive(*v4, pool, 10, rs);
  for (uint32_t i = 0; i < 10; i++) {
    CAPTURE(i);
    CHECK(bytes_ok(back[i], 20 + i));
    CHECK(back[i].ecn == 2);
    CHECK(back[i].remote.family == 4);
    CHECK(back[i].remote.port == dual->local_address().port);
  }

  // IPv6 peers on the same socket stay IPv6.
  auto v6 = open_at("::1");
  std::vector<Packet> six;
  six.push_back(make_packet(pool, 10, 3));
  const IpEndpoint to6 = endpoint("::1", dual->local_address().port);
  CHECK(v6->send_batch(six, &to6, st).sent() == 1);
  std::vector<Packet> got6 = receive(*dual, pool, 1, rs);
  CHECK(got6[0].remote.family == 6);
  CHECK(same_address(got6[0].local, endpoint("::1", 0)));
}

// Packet.local picks each datagram's source (IP_PKTINFO / IPV6_PKTINFO), one rule a row:
// the sources the packets ask for, and the source each arrives from ("" = any: the route's).
struct SourceRow {
  const char* rule;
  const char* bind;
  std::vector<const char*> sources;
  std::vector<const char*> arrives_from;
  uint64_t source_fallbacks;
};

TEST_CASE("udp socket: per-packet source addresses") {
  const SourceRow rows[] = {
      {"a wildcard socket sends each datagram from its own source", "0.0.0.0",
       {"127.0.0.2", "127.0.0.3", "127.0.0.2"}, {"127.0.0.2", "127.0.0.3", "127.0.0.2"}, 0},
      // 192.0.2.1 (TEST-NET-1) is no address of this host: the kernel refuses it as a source.
      {"a source that is not ours is dropped from the send, not the datagram", "0.0.0.0",
       {"192.0.2.1", "192.0.2.1", "127.0.0.2", "127.0.0.2"}, {"", "", "127.0.0.2", "127.0.0.2"}, 2},
      {"a source of the other family is left out (dual-stack socket, IPv4 peer)", "::", {"::1"}, {""}, 0},
  };
  for (const SourceRow& row : rows) {
    CAPTURE(row.rule);
    BufferPool pool;
    auto tx = open_at(row.bind);
    auto rx = open_at("127.0.0.1");
    std::vector<Packet> pkts;
    for (uint32_t i = 0; i < row.sources.size(); i++) {
      pkts.push_back(make_packet(pool, 200, i));
      pkts.back().local = endpoint(row.sources[i]);
    }
    const IpEndpoint to = rx->local_address();
    SendStats st;
    IoResult r = tx->send_batch(pkts, &to, st);
    CHECK(r.sent() == row.sources.size());
    CHECK(r.dropped == 0);
    CHECK(st.source_fallbacks == row.source_fallbacks);
    RecvStats rs;
    std::vector<Packet> got = receive(*rx, pool, row.sources.size(), rs);
    for (uint32_t i = 0; i < got.size(); i++) {
      CAPTURE(i);
      CHECK(bytes_ok(got[i], i));
      CHECK(got[i].remote.port == tx->local_address().port);
      if (*row.arrives_from[i]) CHECK(same_address(got[i].remote, endpoint(row.arrives_from[i])));
    }
  }
}

TEST_CASE("udp socket: forced GSO EIO falls back to sendmmsg and loses nothing") {
  BufferPool pool;
  UdpOptions o;
  o.bind = endpoint("127.0.0.1", 0);
  auto tx = open_ok(o);
  UdpSocketFaults kernel;  // refuses the first UDP_SEGMENT message with EIO
  kernel.fail_next_gso(EIO);
  tx->set_send_calls(&kernel);
  auto rx = open_at("127.0.0.1");
  auto other = open_at("127.0.0.1");
  REQUIRE(tx->features().gso);
  std::vector<Packet> pkts;
  // One datagram to another peer first: it goes out before the failing GSO message.
  pkts.push_back(make_packet(pool, 99, 1000));
  pkts.back().remote = other->local_address();
  for (uint32_t i = 0; i < 64; i++) {
    pkts.push_back(make_packet(pool, 1000, i));
    pkts.back().remote = rx->local_address();
  }
  SendStats st;
  IoResult r = tx->send_batch(pkts, nullptr, st);
  CHECK_ALL_SENT(r, pkts, 65u);
  CHECK(st.gso_fallbacks == 1);
  CHECK(st.gso_sends == 0);
  CHECK(st.datagrams == 65);
  CHECK(tx->features().gso);  // the socket keeps GSO: only the path is suspended
  std::vector<GsoPathEvent> ev = tx->gso_backoff().take_events();
  REQUIRE(ev.size() == 1);
  CHECK_FALSE(ev[0].enabled);
  CHECK(ev[0].err == EIO);
  CHECK(ev[0].fault == GsoFault::kNoOffload);
  CHECK(ev[0].retry_ms == GsoBackoff::kNoOffloadFirstMs);
  std::vector<SocketError> errors = tx->take_errors();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].err == EIO);
  CHECK(errors[0].remote.same_address_port(rx->local_address()));
  CHECK(tx->take_errors().empty());

  RecvStats rs;
  std::vector<Packet> got = receive(*rx, pool, 64, rs);
  for (uint32_t i = 0; i < 64; i++) CHECK(bytes_ok(got[i], i));
  std::vector<Packet> got_other = receive(*other, pool, 1, rs);
  CHECK(bytes_ok(got_other[0], 1000));

  // While the path is suspended, equal datagrams to it go out one message each.
  for (uint32_t i = 0; i < 8; i++) {
    pkts.push_back(make_packet(pool, 1000, i));
    pkts.back().remote = rx->local_address();
  }
  SendStats st2;
  CHECK(tx->send_batch(pkts, nullptr, st2).sent() == 8);
  CHECK(st2.gso_sends == 0);
  CHECK(st2.sendmmsg_calls == 1);
  got.clear();
  recv_n(*rx, pool, got, 8, rs);

  // After the back-off the next run is a probe: it goes out with GSO and the path comes back.
  ::usleep((GsoBackoff::kNoOffloadFirstMs + 50) * 1000);
  for (uint32_t i = 0; i < 8; i++) {
    pkts.push_back(make_packet(pool, 1000, i));
    pkts.back().remote = rx->local_address();
  }
  SendStats st3;
  CHECK(tx->send_batch(pkts, nullptr, st3).sent() == 8);
  CHECK(st3.gso_sends == 1);
  ev = tx->gso_backoff().take_events();
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].enabled);
  CHECK(ev[0].err == EIO);
  CHECK(tx->gso_backoff().empty());
  CHECK(tx->gso_backoff().stats().restores == 1);
}

TEST_CASE("gso back-off: suspend per path, double on refused probes, come back on a sent probe") {
  GsoBackoff b;
  const IpEndpoint a = endpoint("10.0.0.1", 5000), a2 = endpoint("10.0.0.1", 6000), c = endpoint("10.0.0.2", 5000);
  CHECK(b.allowed(a, 0));
  b.on_refused(a, EMSGSIZE, 1000);
  CHECK_FALSE(b.allowed(a, 1000));
  CHECK_FALSE(b.allowed(a2, 1050));  // the path is the address: other ports too
  CHECK(b.allowed(c, 1000));         // other destinations keep GSO
  CHECK(b.allowed(a, 1000 + GsoBackoff::kPathMtuFirstMs));  // the probe may go
  CHECK(b.suspended(1000) == 1);
  // Refused probes double the back-off up to the maximum.
  uint64_t now = 1000;
  uint32_t expect = GsoBackoff::kPathMtuFirstMs;
  for (int i = 0; i < 8; i++) {
    now += expect;
    b.on_refused(a, EMSGSIZE, now);
    expect = std::min<uint32_t>(expect * 2, GsoBackoff::kPathMtuMaxMs);
    CHECK_FALSE(b.allowed(a, now + expect - 1));
    CHECK(b.allowed(a, now + expect));
  }
  CHECK(b.stats().probe_failures == 8);
  CHECK(b.stats().suspensions == 1);
  b.on_sent(c);  // not suspended: nothing happens
  CHECK_FALSE(b.empty());
  b.on_sent(a2);
  CHECK(b.empty());
  std::vector<GsoPathEvent> ev = b.take_events();
  REQUIRE(ev.size() == 2);
  CHECK_FALSE(ev[0].enabled);
  CHECK(ev[0].fault == GsoFault::kPathMtu);
  CHECK(ev[0].dest.port == 0);
  CHECK(ev[1].enabled);
  CHECK(b.stats().restores == 1);
  // EIO: the long back-off.
  b.on_refused(c, EIO, 0);
  CHECK_FALSE(b.allowed(c, GsoBackoff::kNoOffloadFirstMs - 1));
  CHECK(b.allowed(c, GsoBackoff::kNoOffloadFirstMs));
}

TEST_CASE("gso segment limit: EINVAL on a long run puts 64 on trial, a 64-run lowers it, probed upward after a back-off") {
  GsoSegmentLimit l;
  l.reset(128);
  CHECK(l.limit(0) == 128);
  CHECK(l.steady());
  // A refusal of a run within 64 segments, or with another errno, says nothing about the limit.
  CHECK_FALSE(l.on_einval(64));
  CHECK(l.current() == 128);
  // EINVAL on 128 segments: 64 on trial.
  CHECK(l.on_einval(128));
  CHECK(l.current() == 64);
  CHECK_FALSE(l.steady());
  CHECK_FALSE(l.on_einval(128));  // nothing longer than 64 is planned on trial: no second trial
  // A 64-run goes out at t=1000: lowered; the full limit is probed kProbeFirstMs later.
  l.on_sent(64, 1000);
  CHECK(l.stats().lowered == 1);
  CHECK(l.waiting_for_probe());
  CHECK(l.limit(1000 + GsoSegmentLimit::kProbeFirstMs - 1) == 64);
  CHECK(l.limit(1000 + GsoSegmentLimit::kProbeFirstMs) == 128);  // the probe
  CHECK(l.stats().probes == 1);
  // The probe's long run is refused again: on trial, and a 64-run lowers it with the back-off doubled.
  uint64_t now = 1000 + GsoSegmentLimit::kProbeFirstMs;
  uint32_t expect = GsoSegmentLimit::kProbeFirstMs;
  for (int i = 0; i < 8; i++) {
    CHECK(l.on_einval(100));
    l.on_sent(50, now);
    expect = std::min<uint32_t>(expect * 2, GsoSegmentLimit::kProbeMaxMs);
    CHECK(l.backoff_ms() == expect);
    CHECK(l.limit(now + expect - 1) == 64);
    now += expect;
    CHECK(l.limit(now) == 128);
  }
  CHECK(expect == GsoSegmentLimit::kProbeMaxMs);
  CHECK(l.stats().probe_failures == 8);
  CHECK(l.stats().lowered == 1);
  // A probe's run of at most 64 changes nothing; a longer one that goes out restores the limit.
  l.on_sent(64, now);
  CHECK(l.current() == 128);
  CHECK_FALSE(l.steady());
  l.on_sent(65, now);
  CHECK(l.steady());
  CHECK_FALSE(l.waiting_for_probe());
  CHECK(l.stats().restores == 1);
  CHECK(l.limit(now + 10 * GsoSegmentLimit::kProbeMaxMs) == 128);
  // The next lowering starts from the first back-off again.
  CHECK(l.on_einval(128));
  l.on_sent(64, now);
  CHECK(l.backoff_ms() == GsoSegmentLimit::kProbeFirstMs);
  CHECK(l.stats().lowered == 2);
}

TEST_CASE("gso segment limit: a trial refused again was something else, the limit comes back") {
  GsoSegmentLimit l;
  l.reset(128);
  CHECK(l.on_einval(128));
  l.on_other_refusal();  // the 64-run was refused too (EINVAL from a blackhole route, say)
  CHECK(l.current() == 128);
  CHECK(l.steady());
  CHECK(l.stats().lowered == 0);
  // From a probe, a wrong trial goes back to probing (the full limit).
  CHECK(l.on_einval(128));
  l.on_sent(64, 0);
  CHECK(l.limit(GsoSegmentLimit::kProbeFirstMs) == 128);
  CHECK(l.on_einval(128));
  l.on_other_refusal();
  CHECK(l.current() == 128);
  CHECK(l.stats().probe_failures == 0);
  l.on_sent(128, 5000);
  CHECK(l.stats().restores == 1);
  // A kernel limit of 64 (no GSO above it) is never raised.
  GsoSegmentLimit old;
  old.reset(64);
  CHECK_FALSE(old.on_einval(128));
  CHECK(old.limit(1u << 30) == 64);
}

TEST_CASE("udp socket: a kernel that takes 64 segments lowers the limit, nothing is lost, probed upward again") {
  BufferPool pool;
  UdpOptions o;
  o.bind = endpoint("127.0.0.1", 0);
  auto tx = open_ok(o);
  auto rx = open_at("127.0.0.1");
  REQUIRE(tx->features().gso);
  if (tx->features().max_gso_segments <= kLegacyMaxGsoSegments) {
    MESSAGE("this kernel takes only " << tx->features().max_gso_segments << " segments: nothing to lower");
    return;
  }
  const uint16_t full = tx->features().max_gso_segments;
  // Behave as a kernel before 6.9: a UDP_SEGMENT send of more than 64 segments is EINVAL.
  UdpSocketFaults kernel;
  kernel.set_gso_segment_limit(kLegacyMaxGsoSegments);
  tx->set_send_calls(&kernel);
  auto send_run = [&](uint32_t n, SendStats& st) {
    std::vector<Packet> pkts;
    for (uint32_t i = 0; i < n; i++) {
      pkts.push_back(make_packet(pool, 400, i));
      pkts.back().remote = rx->local_address();
    }
    IoResult r = tx->send_batch(pkts, nullptr, st);
    CHECK_ALL_SENT(r, pkts, n);
    RecvStats rs;
    std::vector<Packet> got = receive(*rx, pool, n, rs);
    for (uint32_t i = 0; i < n; i++) CHECK(bytes_ok(got[i], i));
  };
  SendStats st;
  send_run(full, st);
  CHECK(st.gso_fallbacks == 1);
  CHECK(st.segment_limit.lowered == 1);
  CHECK(tx->features().max_gso_segments == kLegacyMaxGsoSegments);
  CHECK(tx->features().gso);
  CHECK(tx->gso_backoff().empty());  // no path suspended: it was the limit, not the path
  CHECK(st.gso_sends == (full + kLegacyMaxGsoSegments - 1) / kLegacyMaxGsoSegments);
  // Lowered: runs of 64, no refusal.
  SendStats st2;
  send_run(full, st2);
  CHECK(st2.gso_fallbacks == 0);
  // After the back-off the full limit is probed; still refused: lowered again, back-off doubled.
  ::usleep((GsoSegmentLimit::kProbeFirstMs + 50) * 1000);
  SendStats st3;
  send_run(full, st3);
  CHECK(st3.gso_fallbacks == 1);
  CHECK(st3.segment_limit.probes == 1);
  CHECK(st3.segment_limit.probe_failures == 1);
  CHECK(tx->segment_limit().backoff_ms() == 2 * GsoSegmentLimit::kProbeFirstMs);
  CHECK(tx->features().max_gso_segments == kLegacyMaxGsoSegments);
  // The kernel takes the full limit again (say the refusals had another cause): the next probe
  // goes out and the limit is back.
  kernel.set_gso_segment_limit(0);
  ::usleep((2 * GsoSegmentLimit::kProbeFirstMs + 50) * 1000);
  SendStats st4;
  send_run(full, st4);
  CHECK(st4.gso_fallbacks == 0);
  CHECK(st4.gso_sends == 1);
  CHECK(st4.segment_limit.restores == 1);
  CHECK(tx->features().max_gso_segments == full);
}

// Errors the entries stand for: repeats of one error within a second are merged into one
// entry with their count (the first is always an entry of its own).
size_t counted(const std::vector<SocketError>& errors) {
  size_t n = 0;
  for (const SocketError& e : errors) n += e.count;
  return n;
}

// Collects every error the socket reports until `n` were counted or 3 s passed, draining the
// error queue whenever the fd polls POLLERR (what the addon does from its poll callback).
std::vector<SocketError> collect_errors(UdpSocket& s, size_t n) {
  std::vector<SocketError> all;
  for (int i = 0; i < 300 && counted(all) < n; i++) {
    std::vector<SocketError> got = s.take_errors();
    all.insert(all.end(), got.begin(), got.end());
    if (counted(all) >= n) break;
    pollfd pfd{s.fd(), 0, 0};
    if (::poll(&pfd, 1, 10) == 1 && (pfd.revents & POLLERR)) s.drain_error_queue();
  }
  return all;
}

TEST_CASE("udp socket: ICMP port unreachable on a connected socket: reported in full, nothing dropped") {
  BufferPool pool;
  const uint16_t port = closed_port();
  UdpOptions o;
  o.bind = endpoint("127.0.0.1", 0);
  o.connect = endpoint("127.0.0.1", port);
  auto c = open_ok(o);
  CHECK(c->peer().same_address_port(endpoint("127.0.0.1", port)));

  std::vector<Packet> pkts;
  pkts.push_back(make_packet(pool, 100, 1));
  SendStats st;
  CHECK(c->send_batch(pkts, nullptr, st).sent() == 1);  // connected: no destination needed
  // The ICMP error is queued (IP_RECVERR) and left pending: POLLERR.
  REQUIRE(wait_for(c->fd(), 0));

  // The next send is refused with that pending error; the socket reads the error queue and
  // sends the same datagrams again: nothing is dropped.
  pkts.push_back(make_packet(pool, 100, 2));
  pkts.push_back(make_packet(pool, 200, 3));
  IoResult r = c->send_batch(pkts, nullptr, st);
  CHECK_ALL_SENT(r, pkts, 2u);
  CHECK(st.dropped.total() == 0);
  CHECK(st.pending_errors >= 1);

  // Each of the three datagrams drew exactly one port unreachable (loopback: no ICMP rate
  // limit), each read from the error queue with its details.
  std::vector<SocketError> errors = collect_errors(*c, 3);
  std::vector<Packet> got;
  RecvStats rs;
  CHECK(c->recv_batch(pool, got, 64, rs).status == IoStatus::kWouldBlock);
  std::vector<SocketError> more = c->take_errors();
  errors.insert(errors.end(), more.begin(), more.end());
  REQUIRE(counted(errors) == 3);
  CHECK(errors[0].count == 1);  // the first one on its own, its repeats merged after it
  for (const SocketError& e : errors) {
    CHECK(e.err == ECONNREFUSED);
    CHECK(e.origin == ErrorOrigin::kIcmp);
    CHECK(e.icmp_type == 3);  // destination unreachable
    CHECK(e.icmp_code == 3);  // port unreachable
    CHECK(e.remote.same_address_port(c->peer()));
    CHECK(same_address(e.offender, endpoint("127.0.0.1", 0)));
  }
  CHECK(c->error_queue_stats().icmp == 3);
  CHECK(c->reported_errors().conn_refused == 3);

  // Now something listens on the port: the same socket sends and receives again.
  auto server = open_at("127.0.0.1", port);
  pkts.push_back(make_packet(pool, 321, 4));
  r = c->send_batch(pkts, nullptr, st);
  CHECK(r.sent() == 1);
  CHECK(r.dropped == 0);
  std::vector<Packet> at_server = receive(*server, pool, 1, rs);
  CHECK(bytes_ok(at_server[0], 4));
  std::vector<Packet> reply;
  reply.push_back(make_packet(pool, 12, 5));
  reply.back().remote = at_server[0].remote;
  CHECK(server->send_batch(reply, nullptr, st).sent() == 1);
  recv_n(*c, pool, got, 1, rs);
  REQUIRE(got.size() == 1);
  CHECK(bytes_ok(got[0], 5));
}

// An unconnected socket talking to many peers, one of them closed: only that one is reported,
// with its address and port, and every datagram to the open peers arrives.
void many_peers_one_closed(const char* any, const char* loop) {
  BufferPool pool;
  auto s = open_at(any);
  std::vector<std::unique_ptr<UdpSocket>> peers;
  for (int i = 0; i < 6; i++) peers.push_back(open_at(loop));
  uint16_t dead_port = 0;
  {
    auto gone = open_at(loop);
    dead_port = gone->local_address().port;
  }
  const IpEndpoint dead = endpoint(loop, dead_port);
  SendStats st;
  const int rounds = 3;
  uint32_t tag = 0;
  for (int round = 0; round < rounds; round++) {
    std::vector<Packet> pkts;
    for (size_t i = 0; i <= peers.size(); i++) {
      pkts.push_back(make_packet(pool, 40 + static_cast<uint32_t>(i), tag++));
      pkts.back().remote = i == 3 ? dead : peers[i < 3 ? i : i - 1]->local_address();
    }
    IoResult r = s->send_batch(pkts, nullptr, st);
    CHECK_ALL_SENT(r, pkts, peers.size() + 1);
  }
  RecvStats rs;
  for (auto& p : peers) {
    std::vector<Packet> got;
    recv_n(*p, pool, got, rounds, rs);
    CHECK(got.size() == static_cast<size_t>(rounds));
  }
  std::vector<SocketError> errors = collect_errors(*s, rounds);
  std::vector<Packet> none;
  CHECK(s->recv_batch(pool, none, 64, rs).status == IoStatus::kWouldBlock);
  std::vector<SocketError> more = s->take_errors();
  errors.insert(errors.end(), more.begin(), more.end());
  CHECK(counted(errors) == static_cast<size_t>(rounds));
  CHECK(errors.size() == 2);  // the first, then its repeats merged into one entry
  for (const SocketError& e : errors) {
    CHECK(e.err == ECONNREFUSED);
    CHECK(e.remote.same_address_port(dead));
    CHECK(e.origin == (dead.family == 4 ? ErrorOrigin::kIcmp : ErrorOrigin::kIcmp6));
    CHECK(e.icmp_type == (dead.family == 4 ? 3 : 1));  // dest unreachable (ICMPv4 3, ICMPv6 1)
    CHECK(e.icmp_code == (dead.family == 4 ? 3 : 4));  // port unreachable (3 / 4)
  }
  CHECK(st.dropped.total() == 0);
}

TEST_CASE("udp socket: unconnected, many peers, one closed: only it is reported (IPv4)") {
  many_peers_one_closed("127.0.0.1", "127.0.0.1");
}

TEST_CASE("udp socket: unconnected, many peers, one closed: only it is reported (IPv6)") {
  many_peers_one_closed("::1", "::1");
}

TEST_CASE("udp socket: unconnected dual-stack socket: ICMPv4 errors for IPv4 peers come out as IPv4") {
  many_peers_one_closed("::", "127.0.0.1");
}

TEST_CASE("udp socket: a local EMSGSIZE is reported once, with the MTU and the destination port") {
  BufferPool pool;
  auto s = open_at("127.0.0.1");
  auto rx = open_at("127.0.0.1");
  std::vector<Packet> pkts;
  pkts.push_back(make_packet(pool, 65508, 1));  // one byte over the IPv4 UDP payload limit
  pkts.back().remote = rx->local_address();
  pkts.push_back(make_packet(pool, 10, 2));
  pkts.back().remote = rx->local_address();
  SendStats st;
  IoResult r = s->send_batch(pkts, nullptr, st);
  CHECK(r.sent() == 1);
  CHECK(r.dropped == 1);
  CHECK(st.dropped.msg_size == 1);
  std::vector<SocketError> errors = s->take_errors();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].err == EMSGSIZE);
  CHECK(errors[0].origin == ErrorOrigin::kLocal);
  CHECK(errors[0].remote.same_address_port(rx->local_address()));
  CHECK(errors[0].info > 0);  // the MTU the kernel held against it
  CHECK(s->error_queue_stats().local == 1);
  // ... which is also the path MTU towards that peer, as an event of its own.
  std::vector<PathMtuEvent> mtus = s->path_mtu().take_events();
  REQUIRE(mtus.size() == 1);
  CHECK(mtus[0].mtu == errors[0].info);
  CHECK(mtus[0].source == MtuSource::kLocal);
  CHECK(mtus[0].dest.port == 0);
  RecvStats rs;
  std::vector<Packet> got = receive(*rx, pool, 1, rs);
  CHECK(bytes_ok(got[0], 2));
}

TEST_CASE("udp socket: an exhausted pool stops reading and leaves datagrams queued") {
  BufferPool senders;
  BufferPool pool(256 * 1024);  // exactly four 64 KiB slots
  std::vector<SlotRef> held;
  for (int i = 0; i < 4; i++) {
    held.emplace_back(pool.acquire_large());
    REQUIRE(held.back());
  }
  REQUIRE(pool.acquire_large() == nullptr);
  auto tx = open_at("127.0.0.1");
  auto rx = open_at("127.0.0.1");
  std::vector<Packet> pkts;
  for (uint32_t i = 0; i < 3; i++) pkts.push_back(make_packet(senders, 100 + i, i));  // 3 messages
  const IpEndpoint to = rx->local_address();
  SendStats st;
  CHECK(tx->send_batch(pkts, &to, st).sent() == 3);
  REQUIRE(wait_for(rx->fd(), POLLIN));

  std::vector<Packet> got;
  RecvStats rs;
  IoResult r = rx->recv_batch(pool, got, 64, rs);
  CHECK(r.status == IoStatus::kPoolExhausted);
  CHECK(rs.pool_exhausted == 1);
  CHECK(rs.recvmmsg_calls == 0);  // nothing read, nothing dropped: still in the kernel queue
  CHECK(got.empty());

  held.pop_back();  // one slot back: one message per call
  r = rx->recv_batch(pool, got, 64, rs);
  CHECK(r.status == IoStatus::kOk);
  REQUIRE(got.size() == 1);
  CHECK(bytes_ok(got[0], 0));
  CHECK(rx->recv_batch(pool, got, 64, rs).status == IoStatus::kPoolExhausted);
  got.clear();
  held.clear();
  r = rx->recv_batch(pool, got, 64, rs);
  REQUIRE(got.size() == 2);
  CHECK(bytes_ok(got[0], 1));
  CHECK(bytes_ok(got[1], 2));
  CHECK(pool.stats().slots_in_use == 2);  // unused slots of the batch went straight back
  CHECK(rx->recv_batch(pool, got, 64, rs).status == IoStatus::kWouldBlock);
}

TEST_CASE("udp socket: invalid packets are dropped and counted, the rest is sent") {
  BufferPool pool;
  auto tx = open_at("127.0.0.1");
  auto rx = open_at("127.0.0.1");
  std::vector<Packet> pkts;
  pkts.push_back(make_packet(pool, 10, 1));
  Packet bad;
  bad.length = 10;  // a length but no memory
  pkts.push_back(std::move(bad));
  pkts.push_back(make_packet(pool, 10, 3));
  const IpEndpoint to = rx->local_address();
  SendStats st;
  IoResult r = tx->send_batch(pkts, &to, st);
  CHECK(r.sent() == 2);
  CHECK(r.dropped == 1);
  CHECK(r.done == 3);
  CHECK(st.dropped_invalid == 1);
  RecvStats rs;
  std::vector<Packet> got = receive(*rx, pool, 2, rs);
  CHECK(bytes_ok(got[0], 1));
  CHECK(bytes_ok(got[1], 3));
}

namespace {

// A throw-away network namespace with a veth whose root qdisc is a 1 kbit/s token bucket:
// datagrams routed out of it stay queued (charged to the sender's send buffer) for seconds,
// which is how a real congested uplink fills a socket. Deleted in the destructor.
struct SlowNetns {
  std::string name = "tunio-udp-" + std::to_string(::getpid());
  bool ok = false;
  SlowNetns() {
    const std::string n = name;
    const std::string cmd =
        "ip netns add " + n + " && ip -n " + n + " link add v0 type veth peer name v1" +
        " && ip -n " + n + " link set v0 up && ip -n " + n + " link set v1 up" +
        " && ip -n " + n + " addr add 10.99.0.1/24 dev v0" +
        // a static neighbour: no ARP resolution queue in the way
        " && ip -n " + n + " neigh add 10.99.0.2 lladdr 02:00:00:00:00:02 dev v0 nud permanent" +
        " && ip netns exec " + n + " tc qdisc add dev v0 root tbf rate 1kbit burst 1600 limit 1000000";
    ok = std::system(cmd.c_str()) == 0;
  }
  ~SlowNetns() { std::system(("ip netns del " + name + " 2>/dev/null").c_str()); }
};

// Runs `fn` with this thread inside the namespace (sockets keep the namespace they were
// created in), and always comes back.
template <typename Fn>
void in_netns(const std::string& name, Fn fn) {
  const int self = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  const int target = ::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(self >= 0);
  REQUIRE(target >= 0);
  REQUIRE(::setns(target, CLONE_NEWNET) == 0);
  fn();
  const int back = ::setns(self, CLONE_NEWNET);
  ::close(target);
  ::close(self);
  REQUIRE(back == 0);
}

}  // namespace

TEST_CASE("udp socket: a full send buffer returns would_block and keeps the rest in order") {
  SlowNetns ns;
  REQUIRE(ns.ok);
  BufferPool pool;
  std::unique_ptr<UdpSocket> tx;
  in_netns(ns.name, [&] {
    UdpOptions o;
    o.bind = endpoint("10.99.0.1", 0);
    o.send_buffer = 4096;  // the kernel's minimum (~4.6 KiB): two or three datagrams
    o.gso = Offload::kOff;
    UdpOpenResult r = UdpSocket::open(o);
    tx = std::move(r.socket);
  });
  REQUIRE(tx);
  std::vector<Packet> pkts;
  for (uint32_t i = 0; i < 64; i++) pkts.push_back(make_packet(pool, 1400, i));
  const IpEndpoint to = endpoint("10.99.0.2", 9);
  SendStats st;
  IoResult r = tx->send_batch(pkts, &to, st);
  CHECK(r.status == IoStatus::kWouldBlock);
  CHECK(st.would_block == 1);
  CHECK(r.sent() > 0);
  CHECK(r.sent() < 64);
  CHECK(r.done == r.sent());
  REQUIRE(pkts.size() == 64 - r.done);
  CHECK(bytes_ok(pkts[0], static_cast<uint32_t>(r.done)));  // the rest, still in order
  CHECK_FALSE(wait_for(tx->fd(), POLLOUT, 0));  // the caller waits for writability
  // Trying again while full consumes nothing and loses nothing.
  IoResult again = tx->send_batch(pkts, &to, st);
  CHECK(again.status == IoStatus::kWouldBlock);
  CHECK(again.done == 0);
  CHECK(pkts.size() == 64 - r.done);
}
