// libFuzzer target for gso_split/complete_checksum. Input: 10-byte virtio_net_hdr, then the
// packet. When the split reports ok, every segment must be a consistent IP packet with valid
// checksums whose payloads concatenate to the input's payload; on failure nothing may have
// been committed unless the reason is no_memory.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_util.h"
#include "gso_split.h"
#include "virtio_net_hdr.h"

using namespace tunio;

namespace {

// Writes segments back to back like the real sink does into pool slots, with a byte budget
// so that huge segment counts end in no_memory instead of unbounded memory.
struct Sink : SegmentSink {
  std::vector<uint8_t> buf;
  std::vector<std::pair<size_t, size_t>> segs;  // offset, length
  size_t reserved = 0;
  size_t budget = 1 << 20;
  uint8_t* reserve(size_t len) override {
    if (buf.size() + len > budget) return nullptr;
    reserved = len;
    buf.resize(buf.size() + len, 0xEE);
    return buf.data() + buf.size() - len;
  }
  void commit(size_t len) override {
    fz::require(len == reserved);
    segs.push_back({buf.size() - len, len});
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  VirtioNetHdr h;
  if (!decode_virtio_net_hdr(data, size, &h)) return 0;
  // Exactly-sized copy of the packet so reads past its end are caught.
  std::vector<uint8_t> pkt(data + kVirtioNetHdrLen, data + size);
  const size_t len = pkt.size();
  const uint8_t* in = pkt.data();

  Sink sink;
  SplitStats st;
  const SplitResult r = gso_split(h, in, len, sink, &st);
  fz::require(split_result_name(r) != nullptr);
  fz::require(st.segments == sink.segs.size());
  if (r != SplitResult::ok && r != SplitResult::no_memory) fz::require(sink.segs.empty());

  // The in-place variant agrees with the copying one for GSO_NONE.
  std::vector<uint8_t> inplace = pkt;
  const SplitResult ri = complete_checksum(h, inplace.data(), inplace.size());
  if (h.gso_kind() == VIRTIO_NET_HDR_GSO_NONE) {
    fz::require(ri == r || (r == SplitResult::no_memory));
    if (r == SplitResult::ok) {
      fz::require(sink.segs.size() == 1 && sink.segs[0].second == len);
      fz::require(std::memcmp(sink.buf.data(), inplace.data(), len) == 0);
      if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        // The field held the pseudo-header sum P; after completion the bytes from csum_start
        // (now including the final checksum instead of P) plus P sum to all ones.
        const uint16_t p0 = tb::be16(pkt.data() + h.csum_start + h.csum_offset);
        fz::require(tb::naive_fold(tb::naive_sum(inplace.data() + h.csum_start, len - h.csum_start, p0)) == 0xffff);
      } else {
        fz::require(inplace == pkt);
      }
    }
    return 0;
  }
  fz::require(ri == SplitResult::needs_split);
  fz::require(inplace == pkt);
  if (r != SplitResult::ok) return 0;

  const bool tcp = h.gso_kind() != VIRTIO_NET_HDR_GSO_UDP_L4;
  const uint8_t proto = tcp ? 6 : 17;
  const size_t hdr_len = st.hdr_len;
  fz::require(hdr_len <= len);
  const size_t payload = len - hdr_len;
  const size_t gso = h.gso_size;
  fz::require(sink.segs.size() == (payload == 0 ? 1 : (payload + gso - 1) / gso));
  size_t off = 0;
  for (size_t i = 0; i < sink.segs.size(); i++) {
    const uint8_t* s = sink.buf.data() + sink.segs[i].first;
    const size_t n = sink.segs[i].second;
    size_t ihl = 0;
    const size_t l4_hdr = fz::check_l4_packet(s, n, proto, &ihl);
    fz::require(ihl + l4_hdr == hdr_len);
    const size_t seg_payload = n - hdr_len;
    fz::require(seg_payload <= gso);
    fz::require(i + 1 == sink.segs.size() || seg_payload == gso);
    fz::require(std::memcmp(s + hdr_len, in + hdr_len + off, seg_payload) == 0);
    if (tcp) {
      const uint8_t flags = s[ihl + 13];
      const uint8_t orig = in[ihl + 13];
      if (i + 1 != sink.segs.size()) fz::require((flags & 0x09) == 0);  // FIN/PSH only last
      else fz::require((flags & 0x09) == (orig & 0x09));
      if (i != 0) fz::require((flags & 0x80) == 0);  // CWR only first
      const uint32_t seq = tb::be32(s + ihl + 4);
      const uint32_t seq0 = tb::be32(in + ihl + 4);
      fz::require(seq == seq0 + static_cast<uint32_t>(off));
    }
    if ((s[0] >> 4) == 4) fz::require(tb::be16(s + 4) == static_cast<uint16_t>(tb::be16(in + 4) + i));
    off += seg_payload;
  }
  fz::require(off == payload);
  return 0;
}
