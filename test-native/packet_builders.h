// The one packet library of the native tests and the fuzz targets (fuzz/fuzz_util.h includes
// it): IPv4/IPv6 TCP/UDP packets built from named fields, and independent checks of the
// packets the core produces. Everything is computed with the naive arithmetic of
// naive_checksum.h, so the tests compare two independent implementations.
// Its JavaScript twin, for the tap tests, their fixtures and fuzz/make-seeds.js, is
// test/helpers/packets.js (same fields, same defaults). One library for both languages would
// mean compiling test code into the addon, so there are two; change them together.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include "gso_split.h"
#include "naive_checksum.h"

namespace tb {

using Bytes = std::vector<uint8_t>;

using naive::be16;
using naive::naive_fold;
using naive::naive_sum;

inline uint16_t naive_checksum(const uint8_t* p, size_t n) {
  return static_cast<uint16_t>(~naive_fold(naive_sum(p, n)));
}

inline uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}
inline void put16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }
inline void put32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24); p[1] = uint8_t(v >> 16); p[2] = uint8_t(v >> 8); p[3] = uint8_t(v);
}

struct Ip {
  int version = 4;
  uint8_t tos = 0;  // IPv4 TOS / IPv6 traffic class
  uint8_t ttl = 64; // IPv4 TTL / IPv6 hop limit
  uint16_t id = 0x1234;
  bool df = true;
  bool mf = false;
  uint16_t frag_offset = 0;  // in 8-byte units
  uint32_t flow_label = 0;
  Bytes v4_options;  // multiple of 4 bytes
  uint8_t src4[4] = {10, 0, 0, 1};
  uint8_t dst4[4] = {10, 0, 0, 2};
  uint8_t src6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  uint8_t dst6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
};

struct Tcp {
  uint16_t sport = 40000;
  uint16_t dport = 443;
  uint32_t seq = 1000;
  uint32_t ack = 5000;
  uint8_t flags = 0x10;  // ACK
  uint16_t window = 512;
  uint16_t urg = 0;
  Bytes options;  // multiple of 4 bytes
};

struct Udp {
  uint16_t sport = 40000;
  uint16_t dport = 443;
};

enum class Csum { full, partial, zero };

inline Bytes pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; i++) b[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 8));
  return b;
}

// Naive pseudo-header sum (unfolded).
inline uint64_t naive_pseudo(const uint8_t* pkt, uint8_t proto, uint32_t l4_len) {
  uint64_t s = 0;
  if ((pkt[0] >> 4) == 4) {
    s = naive_sum(&pkt[12], 8);
  } else {
    s = naive_sum(&pkt[8], 32);
    s += l4_len >> 16;
  }
  return s + proto + (l4_len & 0xffff);
}
inline uint64_t naive_pseudo(const Bytes& pkt, uint8_t proto, uint32_t l4_len) {
  return naive_pseudo(pkt.data(), proto, l4_len);
}

inline size_t ip_header_len(const Bytes& pkt) {
  return (pkt[0] >> 4) == 4 ? static_cast<size_t>(pkt[0] & 15) * 4 : 40;
}

// Fills in the L4 checksum of a finished packet according to `mode`.
inline void set_l4_checksum(Bytes& pkt, Csum mode) {
  size_t ihl = ip_header_len(pkt);
  uint8_t proto = (pkt[0] >> 4) == 4 ? pkt[9] : pkt[6];
  size_t off = ihl + (proto == 6 ? 16 : 6);
  uint32_t l4_len = static_cast<uint32_t>(pkt.size() - ihl);
  put16(&pkt[off], 0);
  if (mode == Csum::zero) return;
  uint64_t pseudo = naive_pseudo(pkt, proto, l4_len);
  if (mode == Csum::partial) {
    put16(&pkt[off], naive_fold(pseudo));
    return;
  }
  uint16_t c = static_cast<uint16_t>(~naive_fold(naive_sum(&pkt[ihl], l4_len, pseudo)));
  if (proto == 17 && c == 0) c = 0xffff;
  put16(&pkt[off], c);
}

inline Bytes build_ip(const Ip& ip, uint8_t proto, const Bytes& l4) {
  Bytes pkt;
  if (ip.version == 4) {
    size_t ihl = 20 + ip.v4_options.size();
    pkt.assign(ihl, 0);
    pkt[0] = static_cast<uint8_t>(0x40 | (ihl / 4));
    pkt[1] = ip.tos;
    put16(&pkt[2], static_cast<uint16_t>(ihl + l4.size()));
    put16(&pkt[4], ip.id);
    put16(&pkt[6], static_cast<uint16_t>((ip.df ? 0x4000 : 0) | (ip.mf ? 0x2000 : 0) |
                                          (ip.frag_offset & 0x1fff)));
    pkt[8] = ip.ttl;
    pkt[9] = proto;
    std::memcpy(&pkt[12], ip.src4, 4);
    std::memcpy(&pkt[16], ip.dst4, 4);
    if (!ip.v4_options.empty()) std::memcpy(&pkt[20], ip.v4_options.data(), ip.v4_options.size());
    put16(&pkt[10], naive_checksum(pkt.data(), ihl));
  } else {
    pkt.assign(40, 0);
    pkt[0] = static_cast<uint8_t>(0x60 | (ip.tos >> 4));
    pkt[1] = static_cast<uint8_t>((ip.tos << 4) | ((ip.flow_label >> 16) & 15));
    put16(&pkt[2], static_cast<uint16_t>(ip.flow_label));
    put16(&pkt[4], static_cast<uint16_t>(l4.size()));
    pkt[6] = proto;
    pkt[7] = ip.ttl;
    std::memcpy(&pkt[8], ip.src6, 16);
    std::memcpy(&pkt[24], ip.dst6, 16);
  }
  pkt.insert(pkt.end(), l4.begin(), l4.end());
  return pkt;
}

inline Bytes build_tcp(const Ip& ip, const Tcp& t, const Bytes& payload, Csum mode = Csum::full) {
  Bytes l4(20 + t.options.size(), 0);
  put16(&l4[0], t.sport);
  put16(&l4[2], t.dport);
  put32(&l4[4], t.seq);
  put32(&l4[8], t.ack);
  l4[12] = static_cast<uint8_t>((l4.size() / 4) << 4);
  l4[13] = t.flags;
  put16(&l4[14], t.window);
  put16(&l4[18], t.urg);
  if (!t.options.empty()) std::memcpy(&l4[20], t.options.data(), t.options.size());
  l4.insert(l4.end(), payload.begin(), payload.end());
  Bytes pkt = build_ip(ip, 6, l4);
  set_l4_checksum(pkt, mode);
  return pkt;
}

inline Bytes build_udp(const Ip& ip, const Udp& u, const Bytes& payload, Csum mode = Csum::full) {
  Bytes l4(8, 0);
  put16(&l4[0], u.sport);
  put16(&l4[2], u.dport);
  put16(&l4[4], static_cast<uint16_t>(8 + payload.size()));
  l4.insert(l4.end(), payload.begin(), payload.end());
  Bytes pkt = build_ip(ip, 17, l4);
  set_l4_checksum(pkt, mode);
  return pkt;
}
inline Bytes build_udp(const Ip& ip, uint16_t sport, uint16_t dport, const Bytes& payload,
                       Csum mode = Csum::full) {
  Udp u;
  u.sport = sport;
  u.dport = dport;
  return build_udp(ip, u, payload, mode);
}

// A whole packet as named fields, each defaulting as above (IPv4 TCP ACK 10.0.0.1:40000 ->
// 10.0.0.2:443, full checksums, no payload). packet() builds one from the defaults after a
// callback changed what the test is about, as wireguard-go's tun/offload_linux_test.go builds
// its packets:  tb::packet([](tb::Spec& p) { p.tcp.seq = 2000; p.payload = tb::pattern(100, 1); })
struct Spec {
  Ip ip;
  uint8_t proto = 6;  // 6: TCP with `tcp`, 17: UDP with `udp`
  Tcp tcp;
  Udp udp;
  Bytes payload;
  Csum csum = Csum::full;
};
using Change = std::function<void(Spec&)>;

inline Bytes build(const Spec& s) {
  return s.proto == 17 ? build_udp(s.ip, s.udp, s.payload, s.csum) : build_tcp(s.ip, s.tcp, s.payload, s.csum);
}
inline Bytes packet(const Change& change = nullptr) {
  Spec s;
  if (change) change(s);
  return build(s);
}

// What an IP packet's headers say once its length fields are checked against the buffer.
// Safe on any bytes (the fuzz targets check the core's output with it).
struct Layout {
  bool consistent = false;  // every length field agrees with the buffer
  size_t ihl = 0;           // IP header length
  uint8_t proto = 0;
  size_t l4_hdr = 0;        // TCP/UDP header length (0 for other protocols)
};

inline Layout layout_of(const uint8_t* p, size_t n) {
  Layout l;
  if (n < 1) return l;
  const int version = p[0] >> 4;
  if (version == 4) {
    if (n < 20) return l;
    l.ihl = static_cast<size_t>(p[0] & 15) * 4;
    if (l.ihl < 20 || l.ihl > n || be16(p + 2) != n) return l;
    l.proto = p[9];
  } else if (version == 6) {
    if (n < 40 || be16(p + 4) + 40u != n) return l;
    l.ihl = 40;
    l.proto = p[6];
  } else {
    return l;
  }
  const uint8_t* l4 = p + l.ihl;
  const size_t l4_len = n - l.ihl;
  if (l.proto == 6) {
    if (l4_len < 20) return l;
    l.l4_hdr = static_cast<size_t>(l4[12] >> 4) * 4;
    if (l.l4_hdr < 20 || l.l4_hdr > l4_len) return l;
  } else if (l.proto == 17) {
    if (l4_len < 8 || be16(l4 + 4) != l4_len) return l;
    l.l4_hdr = 8;
  }
  l.consistent = true;
  return l;
}

// True when the packet's IP version, header lengths and all length fields agree with the buffer.
inline bool lengths_consistent(const Bytes& p) { return layout_of(p.data(), p.size()).consistent; }

// True when a consistent packet's IPv4 header checksum (if any) and TCP/UDP checksum (with the
// pseudo-header) verify, and a UDP checksum is not 0 (0 means none; the core always writes one).
inline bool checksums_valid(const uint8_t* p, size_t n) {
  const Layout l = layout_of(p, n);
  if (!l.consistent || (l.proto != 6 && l.proto != 17)) return false;
  if ((p[0] >> 4) == 4 && naive_fold(naive_sum(p, l.ihl)) != 0xffff) return false;
  if (l.proto == 17 && be16(p + l.ihl + 6) == 0) return false;
  const uint32_t l4_len = static_cast<uint32_t>(n - l.ihl);
  return naive_fold(naive_sum(p + l.ihl, l4_len, naive_pseudo(p, l.proto, l4_len))) == 0xffff;
}
inline bool checksums_valid(const Bytes& p) { return checksums_valid(p.data(), p.size()); }

// Makes any bytes that start like an IPv4/IPv6 TCP/UDP packet consistent: length fields from
// the buffer size, the IPv4 header checksum, a full L4 checksum; leaves everything else (and
// anything it cannot place) as it is. The GRO fuzz target repairs its inputs with it so the
// fuzzer reaches the coalescing rules instead of dying in validation.
inline void repair(Bytes& p) {
  const size_t n = p.size();
  if (n < 1) return;
  size_t ihl;
  uint8_t proto;
  if ((p[0] >> 4) == 4) {
    if (n < 20 || n > 65535) return;
    ihl = static_cast<size_t>(p[0] & 15) * 4;
    if (ihl < 20 || ihl > n) return;
    put16(&p[2], static_cast<uint16_t>(n));
    put16(&p[10], 0);
    put16(&p[10], naive_checksum(p.data(), ihl));
    proto = p[9];
  } else if ((p[0] >> 4) == 6) {
    if (n < 40 || n - 40 > 65535) return;
    ihl = 40;
    put16(&p[4], static_cast<uint16_t>(n - 40));
    proto = p[6];
  } else {
    return;
  }
  const size_t l4_len = n - ihl;
  if (proto == 17 && l4_len >= 8) {
    put16(&p[ihl + 4], static_cast<uint16_t>(l4_len));
  } else if (proto != 6 || l4_len < 20) {
    return;
  }
  set_l4_checksum(p, Csum::full);
}

// Collects segments; can be told to run out of memory after `budget` reservations.
struct VectorSink : tunio::SegmentSink {
  std::vector<Bytes> segs;
  Bytes pending;
  size_t budget = static_cast<size_t>(-1);
  uint8_t* reserve(size_t len) override {
    if (budget == 0) return nullptr;
    budget--;
    pending.assign(len, 0xEE);  // poison: every byte must be written by the splitter
    return pending.data();
  }
  void commit(size_t len) override {
    pending.resize(len);
    segs.push_back(pending);
  }
};

}  // namespace tb
