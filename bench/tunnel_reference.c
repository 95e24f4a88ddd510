// C reference for bench/tunnel.js (issue 19): the echo tunnel's data path written directly
// against the kernel, single-threaded, so the benchmark can put tunio beside plain C in one run.
// Same offloads and batch sizes as examples/echo-tunnel.ts with its defaults:
//   TUN -> UDP: a TUN with IFF_VNET_HDR and TUNSETOFFLOAD CSUM|TSO4|TSO6|USO4|USO6 (without USO
//     when refused); up to 64 reads per batch, each superpacket split into IP packets with
//     complete checksums (IPv4 header checksum, full TCP/UDP checksum with pseudo-header), packed
//     back to back; runs of equal-size packets go out as one UDP_SEGMENT message (at most 64
//     segments and 65,507 bytes), all messages of a batch in sendmmsg calls of up to 64.
//   UDP -> TUN: recvmmsg of 64 messages into 64 KiB buffers with UDP_GRO, each GRO read cut into
//     its datagrams (one IP packet each); consecutive TCP segments of one flow (16 open flows,
//     at most 64 segments / 65,535 bytes) coalesced into one superpacket with a virtio header
//     (GSO_TCPV4/6, NEEDS_CSUM, pseudo-header sum in the checksum field), one writev each; other
//     packets written whole behind a zero virtio header.
// Socket buffers 4 MiB (SO_*BUFFORCE), IP_PMTUDISC_DONT, as tunio's defaults. Reads loop until
// EAGAIN before going back to epoll. The link (address, MTU, gso_max_size, up) is configured by
// the caller with `ip` (scripts/netns.js startCReference), as tunio's openTun does over rtnetlink.
// Differences kept on purpose (the reference is the fast path, not a product): no UDP (USO)
// coalescing on the TUN write, sends block instead of queueing, a refused write is counted and
// dropped. On SIGTERM/SIGINT it prints one JSON line of counters shaped like the echo tunnel's.
//   tunnel_reference <tun-name> <listen-port> <peer-ipv4> <peer-port>
#include "reference_common.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

enum {
  kBatch = 64,                  // TUN reads per batch, messages per recvmmsg / sendmmsg
  kReadCap = 65536,             // one superpacket
  kSplitRoom = 128 * 1024,      // one superpacket split (headers repeat per segment)
  kRecvSlot = 65536,            // one GRO read
  kMaxGsoSegments = 64,         // per UDP_SEGMENT message (tunio probes; superpackets are ~46)
  kMaxUdpPayload = 65507,
  kMaxPackets = kBatch * 128,   // datagrams of one recvmmsg batch
  kFlows = 16,                  // open coalescing groups
  kMaxGroup = 64,               // segments per coalesced write
  kMaxCoalesced = 65535,        // IP bytes of one coalesced write
  kVnetLen = sizeof(struct virtio_net_hdr),
};

static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static struct {
  uint64_t tun_read, tun_writev, recvmmsg, sendmmsg;
  uint64_t superpackets_in, segments_in, packets_in, bytes_in;
  uint64_t superpackets_out, packets_out, bytes_out, datagrams_in, datagrams_out, gso_sends;
  uint64_t drop_malformed, drop_write, drop_send;
} st;

// ---- checksums --------------------------------------------------------------------------
// Host-order 32-bit words into 64-bit accumulators (no carries to handle until the fold); four
// independent lanes so the compiler vectorises the loop at -O2.
static uint64_t sum_bytes(const uint8_t* p, size_t n, uint64_t s) {
  uint64_t a[4] = {0, 0, 0, 0};
  for (; n >= 16; p += 16, n -= 16) {
    uint32_t w[4];
    memcpy(w, p, 16);
    for (int k = 0; k < 4; k++) a[k] += w[k];
  }
  s += a[0] + a[1] + a[2] + a[3];
  while (n >= 4) { uint32_t w; memcpy(&w, p, 4); s += w; p += 4; n -= 4; }
  if (n >= 2) { uint16_t w; memcpy(&w, p, 2); s += w; p += 2; n -= 2; }
  if (n) s += *p;  // little-endian host: the odd byte is the high byte of a big-endian word
  return s;
}
static uint16_t fold(uint64_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)s;
}
// Sum (host order of the summed words, i.e. ready to store with memcpy) of the pseudo-header.
static uint64_t pseudo_sum(const uint8_t* ip, int v6, uint8_t proto, uint32_t l4len) {
  uint64_t s = v6 ? sum_bytes(ip + 8, 32, 0) : sum_bytes(ip + 12, 8, 0);
  s += htons(proto);
  s += htons((uint16_t)(l4len >> 16)) + htons((uint16_t)l4len);
  return s;
}
static void put16(uint8_t* p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static uint16_t get16(const uint8_t* p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t* p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static void put32(uint8_t* p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = (uint8_t)v; }
static void ipv4_header_checksum(uint8_t* ip, int ihl) {
  ip[10] = ip[11] = 0;
  uint16_t c = ~fold(sum_bytes(ip, ihl, 0));
  memcpy(ip + 10, &c, 2);
}

// ---- TUN read side: split ---------------------------------------------------------------
// Where the packets of one batch go, back to back (equal sizes contiguous for UDP_SEGMENT).
typedef struct { uint8_t* data; uint32_t len; } pkt_t;
static uint8_t* arena;
static size_t arena_used;
static pkt_t out_pkts[kBatch * 256];
static size_t out_n;

static uint8_t* reserve(size_t len) {
  uint8_t* p = arena + arena_used;
  arena_used += len;
  out_pkts[out_n].data = p;
  out_pkts[out_n].len = (uint32_t)len;
  out_n++;
  return p;
}

// Splits a TSO/USO superpacket into packets with complete checksums. 0 on success.
static int split(const struct virtio_net_hdr* h, const uint8_t* pkt, size_t len) {
  const int gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
  const int v6 = (pkt[0] >> 4) == 6;
  if (len < 20 || (!v6 && (pkt[0] >> 4) != 4)) return -1;
  size_t iphl = v6 ? 40 : (size_t)(pkt[0] & 15) * 4;
  if (iphl < 20 || len < iphl) return -1;
  const uint8_t proto = v6 ? pkt[6] : pkt[9];
  const int tcp = gso == VIRTIO_NET_HDR_GSO_TCPV4 || gso == VIRTIO_NET_HDR_GSO_TCPV6;
  if (tcp ? proto != IPPROTO_TCP : (gso != VIRTIO_NET_HDR_GSO_UDP_L4 || proto != IPPROTO_UDP)) return -1;
  size_t l4hl = 8;
  if (tcp) {
    if (len < iphl + 20) return -1;
    l4hl = (size_t)(pkt[iphl + 12] >> 4) * 4;
    if (l4hl < 20) return -1;
  }
  const size_t hl = iphl + l4hl;
  if (len < hl || h->gso_size == 0) return -1;
  const size_t payload = len - hl;
  const size_t segments = payload == 0 ? 1 : (payload + h->gso_size - 1) / h->gso_size;
  if (segments > 128 || segments * hl + payload > kSplitRoom) return -1;  // bounded per read (arena)
  const uint32_t seq = tcp ? get32(pkt + iphl + 4) : 0;
  const uint16_t id = v6 ? 0 : get16(pkt + 4);
  const uint8_t flags = tcp ? pkt[iphl + 13] : 0;
  for (size_t off = 0, i = 0; off < payload || (payload == 0 && i == 0); off += h->gso_size, i++) {
    const size_t seg = payload - off < h->gso_size ? payload - off : h->gso_size;
    const int last = off + seg >= payload;
    uint8_t* d = reserve(hl + seg);
    memcpy(d, pkt, hl);
    memcpy(d + hl, pkt + hl + off, seg);
    if (v6) {
      put16(d + 4, (uint16_t)(l4hl + seg));
    } else {
      put16(d + 2, (uint16_t)(hl + seg));
      put16(d + 4, (uint16_t)(id + i));
      ipv4_header_checksum(d, (int)iphl);
    }
    uint8_t* l4 = d + iphl;
    uint8_t* csum;
    if (tcp) {
      put32(l4 + 4, seq + (uint32_t)off);
      uint8_t f = flags;
      if (!last) f &= (uint8_t)~(0x01 | 0x08);  // FIN, PSH only on the last segment
      if (i > 0) f &= (uint8_t)~0x80;           // CWR only on the first
      l4[13] = f;
      csum = l4 + 16;
    } else {
      put16(l4 + 4, (uint16_t)(8 + seg));
      csum = l4 + 6;
    }
    csum[0] = csum[1] = 0;
    uint16_t c = ~fold(sum_bytes(l4, l4hl + seg, pseudo_sum(d, v6, proto, (uint32_t)(l4hl + seg))));
    if (!tcp && c == 0) c = 0xffff;
    memcpy(csum, &c, 2);
    if (last) break;
  }
  return 0;
}

// ---- UDP send -----------------------------------------------------------------------------
static struct sockaddr_in peer;
static struct mmsghdr smsgs[kBatch * 256];
static struct iovec siovs[kBatch * 256];
static char sctrl[kBatch * 256][CMSG_SPACE(sizeof(uint16_t))];

static void send_all(int fd) {
  size_t m = 0;
  for (size_t i = 0; i < out_n;) {
    // A run: equal sizes, the last may be shorter; contiguous in the arena by construction.
    const uint32_t size = out_pkts[i].len;
    size_t j = i + 1, total = size;
    while (j < out_n && j - i < kMaxGsoSegments && out_pkts[j].len <= size && total + out_pkts[j].len <= kMaxUdpPayload &&
           out_pkts[j].data == out_pkts[j - 1].data + out_pkts[j - 1].len) {
      total += out_pkts[j].len;
      j++;
      if (out_pkts[j - 1].len < size) break;
    }
    struct msghdr* mh = &smsgs[m].msg_hdr;
    memset(mh, 0, sizeof *mh);
    siovs[m].iov_base = out_pkts[i].data;
    siovs[m].iov_len = total;
    mh->msg_name = &peer;
    mh->msg_namelen = sizeof peer;
    mh->msg_iov = &siovs[m];
    mh->msg_iovlen = 1;
    if (j - i > 1) {
      mh->msg_control = sctrl[m];
      mh->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
      struct cmsghdr* c = CMSG_FIRSTHDR(mh);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t g = (uint16_t)size;
      memcpy(CMSG_DATA(c), &g, sizeof g);
      st.gso_sends++;
    }
    st.datagrams_out += j - i;
    m++;
    i = j;
  }
  for (size_t k = 0; k < m;) {
    const unsigned n = m - k < kBatch ? (unsigned)(m - k) : kBatch;
    int r = sendmmsg(fd, smsgs + k, n, 0);
    st.sendmmsg++;
    if (r < 0) {
      if (errno == EINTR) continue;
      st.drop_send++;  // ENOBUFS, ECONNREFUSED (peer not up yet), ...: this message is lost
      k++;
      continue;
    }
    k += (size_t)r;
  }
}

static void tun_to_udp(int tun, int udp) {
  static uint8_t buf[kVnetLen + kReadCap];
  for (;;) {
    arena_used = 0;
    out_n = 0;
    int empty = 0;
    for (int i = 0; i < kBatch; i++) {
      ssize_t n = read(tun, buf, sizeof buf);
      st.tun_read++;
      if (n < 0) {
        if (errno == EINTR) continue;
        empty = 1;  // EAGAIN (or an error: epoll tells again)
        break;
      }
      if ((size_t)n < kVnetLen) { st.drop_malformed++; continue; }
      struct virtio_net_hdr h;
      memcpy(&h, buf, kVnetLen);
      uint8_t* pkt = buf + kVnetLen;
      size_t len = (size_t)n - kVnetLen;
      if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
        size_t before = out_n;
        if (split(&h, pkt, len) != 0) { st.drop_malformed++; out_n = before; continue; }
        st.superpackets_in++;
        st.segments_in += out_n - before;
        st.packets_in += out_n - before;
        st.bytes_in += len;
        continue;
      }
      if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        if ((size_t)h.csum_start + h.csum_offset + 2 > len) { st.drop_malformed++; continue; }
        uint8_t* f = pkt + h.csum_start + h.csum_offset;
        uint16_t c = ~fold(sum_bytes(pkt + h.csum_start, len - h.csum_start, 0));  // field holds the pseudo sum
        memcpy(f, &c, 2);
      }
      memcpy(reserve(len), pkt, len);
      st.packets_in++;
      st.bytes_in += len;
    }
    if (out_n) send_all(udp);
    if (empty || stopping) return;
  }
}

// ---- UDP receive, TUN write: GRO coalescing ---------------------------------------------
static uint8_t* rbufs;
static struct mmsghdr rmsgs[kBatch];
static struct iovec riovs[kBatch];
static char rctrl[kBatch][CMSG_SPACE(sizeof(int))];
static pkt_t in_pkts[kMaxPackets];

typedef struct {
  int used;
  uint32_t head;        // index into in_pkts
  uint32_t count;       // segments (head included)
  uint32_t total;       // IP bytes
  uint32_t gso_size;    // payload of the head
  uint32_t next_seq;
  uint32_t hl;          // IP + TCP header length
  uint32_t first_slice; // index into slices
  uint64_t age;
  int closed;
} group_t;
typedef struct { uint32_t kind; uint32_t idx; } write_t;  // kind 0: single packet, 1: group
static group_t groups[kMaxPackets];
static uint32_t ngroups;
static uint32_t open_flows[kFlows];  // group indices, UINT32_MAX: free
static write_t writes[kMaxPackets];
static uint32_t nwrites;
static uint32_t member_next[kMaxPackets]; // linked members of a group (UINT32_MAX ends)
static uint32_t member_last[kMaxPackets];

// 1 if p is TCP that may be coalesced (ACK or ACK|PSH, payload, no IPv4 options/fragments).
static int tcp_candidate(const uint8_t* p, uint32_t len, uint32_t* hl) {
  if (len < 40) return 0;
  const int v = p[0] >> 4;
  size_t iphl;
  if (v == 4) {
    if ((p[0] & 15) != 5 || p[9] != IPPROTO_TCP || get16(p + 2) != len || (get16(p + 6) & 0x3fff)) return 0;
    iphl = 20;
  } else if (v == 6) {
    if (len < 60 || p[6] != IPPROTO_TCP || get16(p + 4) + 40u != len) return 0;
    iphl = 40;
  } else {
    return 0;
  }
  const size_t l4hl = (size_t)(p[iphl + 12] >> 4) * 4;
  if (l4hl < 20 || iphl + l4hl >= len) return 0;  // no payload: not coalesced
  const uint8_t f = p[iphl + 13];
  if ((f & ~0x08) != 0x10) return 0;
  *hl = (uint32_t)(iphl + l4hl);
  return 1;
}

// Same flow (addresses, ports).
static int same_flow(const uint8_t* a, const uint8_t* b) {
  if ((a[0] >> 4) != (b[0] >> 4)) return 0;
  if ((a[0] >> 4) == 4) return memcmp(a + 12, b + 12, 8) == 0 && memcmp(a + 20, b + 20, 4) == 0;
  return memcmp(a + 8, b + 8, 32) == 0 && memcmp(a + 40, b + 40, 4) == 0;
}

// Everything but lengths, IPv4 ID/checksum, sequence, PSH and TCP checksum equal.
static int same_headers(const uint8_t* a, const uint8_t* b, uint32_t hl) {
  const size_t iphl = (a[0] >> 4) == 4 ? 20 : 40;
  if (iphl == 20) {
    if (a[1] != b[1] || a[6] != b[6] || a[7] != b[7] || a[8] != b[8]) return 0;
  } else {
    if (memcmp(a, b, 4) != 0 || a[7] != b[7]) return 0;
  }
  const uint8_t *ta = a + iphl, *tb = b + iphl;
  return memcmp(ta + 8, tb + 8, 5) == 0 && (ta[13] & ~0x08) == (tb[13] & ~0x08) && memcmp(ta + 14, tb + 14, 2) == 0 &&
         memcmp(ta + 18, tb + 18, hl - iphl - 18) == 0;
}

static void close_flow(int k) { groups[open_flows[k]].closed = 1; open_flows[k] = UINT32_MAX; }

static void plan(size_t n) {
  ngroups = nwrites = 0;
  for (int k = 0; k < kFlows; k++) open_flows[k] = UINT32_MAX;
  uint64_t clock = 0;
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t* p = in_pkts[i].data;
    const uint32_t len = in_pkts[i].len;
    uint32_t hl = 0;
    const int cand = tcp_candidate(p, len, &hl);
    const int is_tcp = len >= 40 && (((p[0] >> 4) == 4 && (p[0] & 15) >= 5 && p[9] == IPPROTO_TCP && (p[0] & 15) * 4u + 20 <= len) ||
                                     ((p[0] >> 4) == 6 && len >= 60 && p[6] == IPPROTO_TCP));
    int slot = -1;
    if (is_tcp) {
      for (int k = 0; k < kFlows; k++) {
        if (open_flows[k] != UINT32_MAX && same_flow(in_pkts[groups[open_flows[k]].head].data, p)) { slot = k; break; }
      }
    }
    if (slot >= 0 && cand) {
      group_t* g = &groups[open_flows[slot]];
      const uint8_t* hp = in_pkts[g->head].data;
      const uint32_t iphl = (p[0] >> 4) == 4 ? 20 : 40;
      const uint32_t pay = len - hl;
      if (hl == g->hl && same_headers(hp, p, hl) && get32(p + iphl + 4) == g->next_seq && pay <= g->gso_size &&
          g->count < kMaxGroup && g->total + pay <= kMaxCoalesced) {
        const uint32_t gi = open_flows[slot];
        member_next[i] = UINT32_MAX;
        if (g->count == 1) g->first_slice = i; else member_next[member_last[gi]] = i;
        member_last[gi] = i;
        g->count++;
        g->total += pay;
        g->next_seq += pay;
        g->age = ++clock;
        if (pay < g->gso_size || (p[iphl + 13] & 0x08)) close_flow(slot);  // short or PSH: the last
        continue;
      }
    }
    if (slot >= 0) close_flow(slot);  // any other packet of the flow ends its group
    if (!cand) {
      writes[nwrites++] = (write_t){0, i};
      continue;
    }
    // A new group; evict the least recently used open flow when the table is full.
    int free_k = -1;
    for (int k = 0; k < kFlows; k++) if (open_flows[k] == UINT32_MAX) { free_k = k; break; }
    if (free_k < 0) {
      free_k = 0;
      for (int k = 1; k < kFlows; k++) if (groups[open_flows[k]].age < groups[open_flows[free_k]].age) free_k = k;
      close_flow(free_k);
    }
    const uint32_t iphl = (p[0] >> 4) == 4 ? 20 : 40;
    group_t* g = &groups[ngroups];
    *g = (group_t){.used = 1, .head = i, .count = 1, .total = len, .gso_size = len - hl, .next_seq = get32(p + iphl + 4) + (len - hl),
                   .hl = hl, .first_slice = UINT32_MAX, .age = ++clock, .closed = 0};
    open_flows[free_k] = ngroups;
    writes[nwrites++] = (write_t){1, ngroups};
    ngroups++;
    if (p[iphl + 13] & 0x08) close_flow(free_k);
  }
}

static void write_tun(int tun) {
  static struct iovec iov[kMaxGroup + 2];
  for (uint32_t w = 0; w < nwrites; w++) {
    struct virtio_net_hdr h;
    memset(&h, 0, sizeof h);
    uint32_t head, count = 1, total;
    int niov = 0;
    iov[niov++] = (struct iovec){&h, kVnetLen};
    if (writes[w].kind == 0) {
      head = writes[w].idx;
      total = in_pkts[head].len;
      iov[niov++] = (struct iovec){in_pkts[head].data, total};
    } else {
      group_t* g = &groups[writes[w].idx];
      head = g->head;
      total = g->total;
      count = g->count;
      uint8_t* p = in_pkts[head].data;
      iov[niov++] = (struct iovec){p, in_pkts[head].len};
      if (count > 1) {
        const int v6 = (p[0] >> 4) == 6;
        const uint32_t iphl = v6 ? 40 : 20;
        uint8_t psh = 0;
        for (uint32_t m = g->first_slice; m != UINT32_MAX; m = member_next[m]) {
          const uint8_t* q = in_pkts[m].data;
          psh |= q[iphl + 13] & 0x08;
          iov[niov++] = (struct iovec){(void*)(q + g->hl), in_pkts[m].len - g->hl};
        }
        p[iphl + 13] |= psh;
        if (v6) {
          put16(p + 4, (uint16_t)(total - 40));
        } else {
          put16(p + 2, (uint16_t)total);
          ipv4_header_checksum(p, 20);
        }
        // The kernel finishes the checksum from csum_start: the field holds the pseudo-header sum.
        uint16_t ps = fold(pseudo_sum(p, v6, IPPROTO_TCP, total - iphl));
        memcpy(p + iphl + 16, &ps, 2);
        h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h.gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
        h.hdr_len = (uint16_t)g->hl;
        h.gso_size = (uint16_t)g->gso_size;
        h.csum_start = (uint16_t)iphl;
        h.csum_offset = 16;
      }
    }
    ssize_t r = writev(tun, iov, niov);
    st.tun_writev++;
    if (r < 0) { st.drop_write += count; continue; }
    st.packets_out += count;
    st.bytes_out += total;
    if (count > 1) st.superpackets_out++;
  }
}

static void udp_to_tun(int udp, int tun) {
  for (;;) {
    prepare_recvmmsg(rmsgs, riovs, kBatch, rbufs, kRecvSlot, rctrl[0], sizeof rctrl[0]);
    int r = recvmmsg(udp, rmsgs, kBatch, MSG_DONTWAIT, NULL);
    st.recvmmsg++;
    if (r <= 0) {
      if (r < 0 && errno == EINTR && !stopping) continue;
      return;  // EAGAIN, or a pending ICMP error (peer not up yet): back to epoll
    }
    size_t n = 0;
    for (int i = 0; i < r; i++) {
      uint8_t* d = riovs[i].iov_base;
      uint32_t len = rmsgs[i].msg_len;
      int seg = 0;
      for (struct cmsghdr* c = CMSG_FIRSTHDR(&rmsgs[i].msg_hdr); c; c = CMSG_NXTHDR(&rmsgs[i].msg_hdr, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) memcpy(&seg, CMSG_DATA(c), sizeof seg);
      }
      if (seg <= 0) seg = (int)len;
      for (uint32_t off = 0; off < len && n < kMaxPackets; off += (uint32_t)seg) {
        in_pkts[n].data = d + off;
        in_pkts[n].len = len - off < (uint32_t)seg ? len - off : (uint32_t)seg;
        n++;
      }
    }
    st.datagrams_in += n;
    plan(n);
    write_tun(tun);
    if (r < kBatch || stopping) return;
  }
}

// ---- set-up -------------------------------------------------------------------------------
static int open_tun(const char* name) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) { perror("open /dev/net/tun"); exit(1); }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); exit(1); }
  const unsigned base = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
  if (ioctl(fd, TUNSETOFFLOAD, base | TUN_F_USO4 | TUN_F_USO6) < 0 && ioctl(fd, TUNSETOFFLOAD, base) < 0) {
    perror("TUNSETOFFLOAD");
    exit(1);
  }
  return fd;
}

static int open_udp(int port) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) { perror("socket"); exit(1); }
  int buf = 4 << 20, one = 1, dont = IP_PMTUDISC_DONT;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf);
  setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &dont, sizeof dont);
  if (setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) != 0) { perror("UDP_GRO"); exit(1); }
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (bind(fd, (struct sockaddr*)&a, sizeof a) != 0) { perror("bind"); exit(1); }
  return fd;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s <tun-name> <listen-port> <peer-ipv4> <peer-port>\n", argv[0]);
    return 2;
  }
  peer.sin_family = AF_INET;
  peer.sin_port = htons((uint16_t)atoi(argv[4]));
  if (inet_pton(AF_INET, argv[3], &peer.sin_addr) != 1) { fprintf(stderr, "bad peer address\n"); return 2; }
  arena = malloc((size_t)kBatch * kSplitRoom);
  rbufs = malloc((size_t)kBatch * kRecvSlot);
  if (!arena || !rbufs) { perror("malloc"); return 1; }
  const int tun = open_tun(argv[1]);
  const int udp = open_udp(atoi(argv[2]));
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;  // no SA_RESTART: epoll_wait returns EINTR
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = tun};
  epoll_ctl(ep, EPOLL_CTL_ADD, tun, &ev);
  ev.data.fd = udp;
  epoll_ctl(ep, EPOLL_CTL_ADD, udp, &ev);
  printf("tunnel_reference: %s ready\n", argv[1]);
  fflush(stdout);
  uint64_t wakeups = 0;
  while (!stopping) {
    struct epoll_event evs[2];
    int n = epoll_wait(ep, evs, 2, -1);
    if (n < 0) continue;  // EINTR: the signal
    wakeups++;
    for (int i = 0; i < n; i++) {
      if (evs[i].data.fd == tun) tun_to_udp(tun, udp);
      else udp_to_tun(udp, tun);
    }
  }
  printf("{\"signal\":\"SIGTERM\",\"wakeups\":%llu,"
         "\"tun\":{\"syscalls\":{\"read\":%llu,\"writev\":%llu},\"superpacketsIn\":%llu,\"segmentsIn\":%llu,\"packetsIn\":%llu,"
         "\"bytesIn\":%llu,\"superpacketsOut\":%llu,\"packetsOut\":%llu,\"bytesOut\":%llu,"
         "\"drops\":{\"malformed\":%llu,\"writeRejected\":%llu}},"
         "\"udp\":{\"syscalls\":{\"recvmmsg\":%llu,\"sendmsg\":0,\"sendmmsg\":%llu},\"datagramsIn\":%llu,\"datagramsOut\":%llu,"
         "\"gsoSends\":%llu,\"drops\":{\"send\":%llu}}}\n",
         (unsigned long long)wakeups, (unsigned long long)st.tun_read, (unsigned long long)st.tun_writev,
         (unsigned long long)st.superpackets_in, (unsigned long long)st.segments_in, (unsigned long long)st.packets_in,
         (unsigned long long)st.bytes_in, (unsigned long long)st.superpackets_out, (unsigned long long)st.packets_out,
         (unsigned long long)st.bytes_out, (unsigned long long)st.drop_malformed, (unsigned long long)st.drop_write,
         (unsigned long long)st.recvmmsg, (unsigned long long)st.sendmmsg, (unsigned long long)st.datagrams_in,
         (unsigned long long)st.datagrams_out, (unsigned long long)st.gso_sends, (unsigned long long)st.drop_send);
  fflush(stdout);
  return 0;
}
