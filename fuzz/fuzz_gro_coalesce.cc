// libFuzzer target for the GRO write planner. Input layout:
//   byte 0: bit0 tcp, bit1 udp, bit2 "repair" (fix lengths and checksums of every packet so
//           the fuzzer reaches the coalescing logic instead of dying in validation)
//   byte 1: max_segments (0..69)
//   then packets as [u16 big-endian length][bytes], the last one cut to what is left.
// Invariants: every packet is written exactly once, per write order follows input order
// within a group, singles are untouched with a zero virtio header, groups are <= 65535
// bytes and <= max_segments, and gso_split of each group returns its members (apart from
// IPv4 ID, IPv4 header checksum and L4 checksum, which the split recomputes), and each
// superpacket, its partial checksum completed as the kernel would, is a valid IP packet.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_util.h"
#include "gro_coalesce.h"
#include "gso_split.h"

using namespace tunio;

namespace {

// Compares a split segment with the original member, ignoring what the split recomputes.
bool same_except_recomputed(const std::vector<uint8_t>& seg, const std::vector<uint8_t>& orig) {
  if (seg.size() != orig.size() || seg.empty()) return false;
  const size_t ihl = tb::ip_header_len(orig);
  const uint8_t proto = (orig[0] >> 4) == 4 ? orig[9] : orig[6];
  const size_t csum_at = ihl + (proto == 6 ? 16 : 6);
  for (size_t i = 0; i < seg.size(); i++) {
    if ((orig[0] >> 4) == 4 && (i == 4 || i == 5 || i == 10 || i == 11)) continue;
    if (i == csum_at || i == csum_at + 1) continue;
    if (seg[i] != orig[i]) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  GroOptions opts;
  opts.tcp = data[0] & 1;
  opts.udp = data[0] & 2;
  const bool fix = data[0] & 4;
  opts.max_segments = data[1] % 70;
  data += 2;
  size -= 2;

  std::vector<std::vector<uint8_t>> pkts;
  while (size > 0 && pkts.size() < 256) {
    size_t n = size >= 2 ? static_cast<size_t>(data[0] << 8 | data[1]) : 0;
    const size_t hdr = size >= 2 ? 2 : size;
    data += hdr;
    size -= hdr;
    if (n > size) n = size;
    pkts.emplace_back(data, data + n);
    data += n;
    size -= n;
    if (fix) tb::repair(pkts.back());
  }
  const std::vector<std::vector<uint8_t>> original = pkts;
  std::vector<GroPacket> views;
  for (auto& p : pkts) views.push_back({p.empty() ? nullptr : p.data(), static_cast<uint32_t>(p.size())});

  GroCoalescer gro(opts);
  GroPlan plan;
  gro.plan(views.data(), views.size(), &plan);

  std::vector<int> seen(pkts.size(), 0);
  size_t members_used = 0;
  for (const GroWrite& w : plan.writes) {
    fz::require(w.packet < pkts.size());
    seen[w.packet]++;
    if (w.members_count == 0) {
      fz::require(w.hdr == VirtioNetHdr{});
      fz::require(pkts[w.packet] == original[w.packet]);
      fz::require(w.total_len == pkts[w.packet].size());
      continue;
    }
    fz::require(w.members_begin == members_used);
    members_used += w.members_count;
    fz::require(members_used <= plan.members.size());
    fz::require(w.members_count + 1 <= opts.max_segments);
    std::vector<uint8_t> bytes = pkts[w.packet];
    uint32_t prev = w.packet;
    for (uint32_t k = 0; k < w.members_count; k++) {
      const GroMember& m = plan.members[w.members_begin + k];
      fz::require(m.packet < pkts.size() && m.packet > prev);  // input order within a group
      prev = m.packet;
      seen[m.packet]++;
      fz::require(static_cast<size_t>(m.offset) + m.length == pkts[m.packet].size());
      fz::require(pkts[m.packet] == original[m.packet]);  // members are never modified
      bytes.insert(bytes.end(), pkts[m.packet].begin() + m.offset, pkts[m.packet].end());
    }
    fz::require(bytes.size() == w.total_len);
    fz::require(bytes.size() <= 65535);
    // The superpacket as the kernel sees it: completing its CHECKSUM_PARTIAL (the field holds
    // the pseudo-header sum; sum from csum_start, complement) must give a consistent IP
    // packet, lengths and IPv4 header checksum included, whose L4 checksum verifies.
    {
      fz::require(w.hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
      std::vector<uint8_t> done = bytes;
      const size_t start = w.hdr.csum_start;
      const size_t at = start + w.hdr.csum_offset;
      fz::require(at + 2 <= done.size());
      const uint8_t proto = (done[0] >> 4) == 4 ? done[9] : done[6];
      uint16_t c = static_cast<uint16_t>(~tb::naive_fold(tb::naive_sum(done.data() + start, done.size() - start)));
      if (proto == 17 && c == 0) c = 0xffff;
      done[at] = static_cast<uint8_t>(c >> 8);
      done[at + 1] = static_cast<uint8_t>(c);
      size_t ihl = 0;
      fz::check_l4_packet(done.data(), done.size(), proto, &ihl);
      fz::require(ihl == start);
    }
    tb::VectorSink sink;
    SplitStats st;
    fz::require(gso_split(w.hdr, bytes.data(), bytes.size(), sink, &st) == SplitResult::ok);
    fz::require(st.hdr_len == w.hdr.hdr_len);
    fz::require(sink.segs.size() == w.members_count + 1);
    for (size_t k = 0; k < sink.segs.size(); k++) {
      const uint32_t idx = k == 0 ? w.packet : plan.members[w.members_begin + k - 1].packet;
      fz::require(same_except_recomputed(sink.segs[k], original[idx]));
    }
  }
  fz::require(members_used == plan.members.size());
  for (int s : seen) fz::require(s == 1);
  fz::require(plan.stats.writes == plan.writes.size());
  // A refused packet is written alone or heads a new write: never more refusals than writes.
  uint64_t refused = 0;
  for (uint32_t r : plan.stats.refused) refused += r;
  fz::require(refused <= plan.stats.writes);
  return 0;
}
