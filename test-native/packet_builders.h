// Hand-built IPv4/IPv6 TCP/UDP packets for the packet-surgery tests, checksummed with the
// naive arithmetic of naive_checksum.h (shared with the fuzz targets) so the tests compare two
// independent implementations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
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

enum class Csum { full, partial, zero };

inline Bytes pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; i++) b[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 8));
  return b;
}

// Naive pseudo-header sum (unfolded).
inline uint64_t naive_pseudo(const Bytes& pkt, uint8_t proto, uint32_t l4_len) {
  uint64_t s = 0;
  if ((pkt[0] >> 4) == 4) {
    s = naive_sum(&pkt[12], 8);
  } else {
    s = naive_sum(&pkt[8], 32);
    s += l4_len >> 16;
  }
  return s + proto + (l4_len & 0xffff);
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

inline Bytes build_udp(const Ip& ip, uint16_t sport, uint16_t dport, const Bytes& payload,
                       Csum mode = Csum::full) {
  Bytes l4(8, 0);
  put16(&l4[0], sport);
  put16(&l4[2], dport);
  put16(&l4[4], static_cast<uint16_t>(8 + payload.size()));
  l4.insert(l4.end(), payload.begin(), payload.end());
  Bytes pkt = build_ip(ip, 17, l4);
  set_l4_checksum(pkt, mode);
  return pkt;
}

// True when the packet's IPv4 header checksum (if any) and TCP/UDP checksum verify with the
// naive implementation, and all length fields agree with the buffer.
inline bool lengths_consistent(const Bytes& p) {
  if (p.empty()) return false;
  size_t ihl = ip_header_len(p);
  if (p.size() < ihl) return false;
  uint8_t proto = (p[0] >> 4) == 4 ? p[9] : p[6];
  if ((p[0] >> 4) == 4 && be16(&p[2]) != p.size()) return false;
  if ((p[0] >> 4) == 6 && be16(&p[4]) + 40u != p.size()) return false;
  if (proto == 17 && (p.size() < ihl + 8 || be16(&p[ihl + 4]) != p.size() - ihl)) return false;
  if (proto == 6 && (p.size() < ihl + 20 || static_cast<size_t>(p[ihl + 12] >> 4) * 4 + ihl > p.size()))
    return false;
  return true;
}
inline bool checksums_valid(const Bytes& p) {
  size_t ihl = ip_header_len(p);
  if ((p[0] >> 4) == 4 && naive_fold(naive_sum(p.data(), ihl)) != 0xffff) return false;
  uint8_t proto = (p[0] >> 4) == 4 ? p[9] : p[6];
  uint32_t l4_len = static_cast<uint32_t>(p.size() - ihl);
  uint64_t s = naive_sum(&p[ihl], l4_len, naive_pseudo(p, proto, l4_len));
  return naive_fold(s) == 0xffff;
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
