// Write side of TUN offloads: plans how a batch of IP packets is written to a TUN with
// IFF_VNET_HDR, merging runs of consecutive TCP (and, when the kernel accepted USO, UDP)
// segments of one flow into superpackets so the kernel's stack sees fewer, larger packets
// (what wireguard-go's tcpGROTable/udpGROTable do).
//
// Nothing is copied: a coalesced write is the head packet (its headers modified IN PLACE)
// followed by the payload slices of the other members, for one writev():
//   [virtio hdr][head packet whole][member 2 payload]...[member k payload]
// Packets that do not coalesce are written whole with a zero virtio header (GSO_NONE,
// flags 0), unchanged.
//
// Coalescing is conservative: only ACK / ACK|PSH TCP segments with payload, same addresses,
// ports, ACK number, window, urgent pointer, TCP options, IP TOS/TTL/DF (IPv6: traffic class,
// flow label, hop limit), IPv4 without options or fragmentation, consistent lengths,
// consecutive sequence numbers, equal segment sizes with at most a shorter last one, PSH
// only on the last. Because all header bytes except the per-segment ones are equal, splitting
// a coalesced write (gso_split) gives back the member packets (IPv4 IDs are renumbered from
// the head's, checksums recomputed).
//
// Ordering: each flow has at most one open group; any other packet of that flow (or, for
// packets whose ports are unknown, of that address pair) closes it. Writes are emitted in the
// order of their first packet, so per-flow order is preserved.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ip_headers.h"
#include "virtio_net_hdr.h"

namespace tunio {

struct GroPacket {
  uint8_t* data = nullptr;  // IP packet, writable (heads are patched in place)
  uint32_t len = 0;
};

struct GroOptions {
  bool tcp = true;             // TUN_F_TSO4/6 accepted
  bool udp = false;            // TUN_F_USO4/6 accepted (probed)
  uint32_t max_segments = 64;  // per group; keep <= the kernel's UDP_MAX_SEGMENTS for USO
  uint32_t max_total_len = 65535;  // IP bytes of one coalesced packet (hard cap 65535)
};

// A payload slice of a non-head member: packet index, offset of its payload, length.
struct GroMember {
  uint32_t packet = 0;
  uint32_t offset = 0;
  uint32_t length = 0;
};

struct GroWrite {
  VirtioNetHdr hdr;            // zero (GSO_NONE, flags 0) for a packet written as is
  uint32_t packet = 0;         // index of the packet written whole (the head)
  uint32_t members_begin = 0;  // first index into GroPlan::members
  uint32_t members_count = 0;  // payload slices following the head (0: not coalesced)
  uint32_t total_len = 0;      // IP bytes of the write (head + slices), without virtio header
};

// Why a packet was not coalesced: the first rule it failed, one reason per packet. The first
// group (through kPshOnHead) keeps a packet out of every superpacket; the second keeps it out
// of its flow's open group, so it heads a new one. A packet that simply starts a flow's first
// group is not a refusal. The names (gro_refusal_name) are the keys of
// tun.stats().coalesceRefusals; the addon exports the list so TypeScript checks against it.
enum class GroRefusal : uint8_t {
  kNoPorts,              // not TCP/UDP, a fragment, IPv6 extension headers, or malformed L4
  kLengthMismatch,       // the IP total length is not the bytes handed over
  kNoPayload,            // pure ACK / empty datagram: nothing to merge
  kIpOptions,            // IPv4 options
  kTooLong,              // the packet alone exceeds max_total_len
  kSegmentLimit,         // max_segments < 2: no group can form
  kOffloadOff,           // TCP (TSO) or UDP (USO) coalescing is off for this TUN
  kTcpFlags,             // a flag other than ACK/PSH (SYN, FIN, RST, URG, CWR, ECE)
  kTcpReservedBits,      // reserved / AE bits set
  kUdpLengthMismatch,    // the UDP length disagrees with the IP payload length
  kPshOnHead,            // PSH ends a burst: as a head it would end its group at once
  kGroupFull,            // the flow's group reached max_segments
  kGroupTooLong,         // joining would exceed max_total_len
  kLargerThanSegment,    // payload larger than the group's segment size
  kHeaderLengthDiffers,  // IP+L4 header length differs from the head's (e.g. TCP options)
  kIpFieldsDiffer,       // TOS/ECN, TTL, DF (v6: traffic class, flow label, hop limit)
  kSeqNotAdjacent,       // TCP sequence number does not continue the group
  kTcpFieldsDiffer,      // ACK number, window, urgent pointer, options or flags differ
  kCount
};
constexpr size_t kGroRefusalCount = static_cast<size_t>(GroRefusal::kCount);
// camelCase name of a reason (the JS key); "unknown" outside the enum.
const char* gro_refusal_name(GroRefusal r);

struct GroStats {
  uint32_t packets = 0;    // input packets
  uint32_t writes = 0;     // planned writes
  uint32_t groups = 0;     // writes with at least one member slice
  uint32_t coalesced = 0;  // packets that went into such groups (heads included)
  uint32_t refused[kGroRefusalCount] = {};  // packets per GroRefusal
};

struct GroPlan {
  std::vector<GroWrite> writes;
  std::vector<GroMember> members;
  GroStats stats;
};

class GroCoalescer {
 public:
  static constexpr size_t kFlowTableSize = 16;  // open groups tracked at once (LRU-evicted)

  explicit GroCoalescer(GroOptions opts = {});
  const GroOptions& options() const { return opts_; }

  // Plans the writes of pkts[0..n). Heads of coalesced groups are modified in place (IPv4
  // total length + header checksum, IPv6 payload length, TCP PSH from the last member,
  // UDP length, L4 checksum field = pseudo-header partial sum). Reuses the capacity of `out`
  // and of internal scratch space: no allocation once they have grown to the batch size.
  void plan(const GroPacket* pkts, size_t n, GroPlan* out);

 private:
  // A flow's open group. `key` packs what identifies the flow besides its addresses (the
  // L4 header's two ports as loaded, the protocol, the IP version) with a bit that marks the
  // slot open, so finding a packet's group is one 64-bit compare and the addresses'.
  struct Flow {
    uint64_t key = 0;       // flow_key(); 0 when the slot is closed (free)
    uint64_t addrs[4] = {}; // source then destination address as loaded (IPv4: addrs[0] only)
    uint32_t write = 0;     // index into out->writes
    uint32_t head = 0;      // packet index of the head
    uint32_t tail = 0;      // packet index of the last member
    uint32_t next_seq = 0;  // TCP: sequence number the next member must carry
    uint32_t count = 0;     // packets in the group
    uint32_t total = 0;     // IP bytes of the coalesced packet so far
    uint16_t gso_size = 0;
    uint16_t hdr_len = 0;   // IP + L4 header bytes (equal for all members)
    uint16_t l4_offset = 0;
    uint32_t last_used = 0; // packet index of the last touch, for LRU eviction
    bool open() const { return key != 0; }
  };
  // What planning learned about a group's head, for laying the group out afterwards without
  // parsing the head again (heads_[packet index], set when the packet opens a group).
  struct Head {
    uint16_t hdr_len;   // IP + L4 header bytes
    uint16_t gso_size;  // the head's payload: every member's but the last
    uint8_t ihl;        // IP header bytes (20 or 40: no IPv4 options in a group)
    uint8_t version;
    uint8_t proto;
  };

  // Inline (forced, in gro_coalesce.cc, their only caller): they run for every packet planned.
  // `o` is plan()'s local copy of opts_.
  static inline GroRefusal check_coalescable(const GroOptions& o, const uint8_t* p, uint32_t len,
                                             const PacketInfo& pi, uint32_t max_total);
  static inline GroRefusal check_joins(const GroOptions& o, const Flow& f, const uint8_t* head,
                                       const uint8_t* p, const PacketInfo& pi, uint32_t max_total);
  inline Flow* find_flow(uint64_t key, const uint8_t* addrs);

  GroOptions opts_;
  Flow flows_[kFlowTableSize];
  uint32_t hint_ = 0;           // the flow slot the last packet found or opened: tried first
  std::vector<uint32_t> next_;  // member chain: next_[i] = next packet of i's group, or ~0
  std::vector<Head> heads_;     // by packet index, valid for the heads of groups
};

}  // namespace tunio
