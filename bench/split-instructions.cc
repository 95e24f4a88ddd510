// Instructions per segment of the TSO split (gso_split: the copy, the checksums, the header
// edits) and per plain packet copied with its checksum completed (gso_split of GSO_NONE with
// NEEDS_CSUM, as the TUN read does for a packet that is not a superpacket), counted with
// callgrind; the TUN read side's user-space work of a forward or of tun.read() on TCP, which
// bench/datapath-instructions.js (UDP datagrams, no superpackets) does not reach. No Node, no
// kernel: the core's sources compiled as the addon compiles them (-O2). Beside them the C
// reference's split (bench/tunnel_reference.c through bench/split-reference.c, cc -O2 as the
// bench builds it) on the same superpackets: the side-by-side count of the sending end's split.
//   cc -O2 -c bench/split-reference.c -o /tmp/split-reference.o
//   g++ -std=c++17 -O2 -Isrc-native/core -Itest-native bench/split-instructions.cc
//     $(node scripts/sources.js core) /tmp/split-reference.o -o /tmp/split-instructions -lcrypto -ldl
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/split.cg --collect-atstart=no
//     '--toggle-collect=*run_*' /tmp/split-instructions
//   callgrind_annotate --inclusive=yes /tmp/split.cg | grep run_
// The program prints what each run_* function made; divide its inclusive count by that.
// run_reference_send is the C reference's send planning (send_all) of the 47 segments on fd -1.
// The superpackets: IPv4 + TCP with timestamps (52 bytes of headers), MSS 1,368 (segments of
// 1,420 bytes, as a TUN of MTU 1420 hands them over), NEEDS_CSUM set: 65,000 bytes (47
// segments, one stream's usual superpacket) and 8 segments (10,996 bytes: a superpacket of a
// stream that has a smaller share of the link, as with 8 or 32 streams; the per-superpacket
// work is then spread over fewer segments).
#include <cstdio>
#include <cstring>

#include "gso_split.h"
#include "packet_builders.h"

namespace {
class ArenaSink final : public tunio::SegmentSink {
 public:
  uint8_t* reserve(size_t len) override { return used_ + len <= sizeof buf_ ? buf_ + used_ : nullptr; }
  void commit(size_t len) override {
    used_ += len;
    segments++;
  }
  void reset() { used_ = 0; }
  const uint8_t* bytes() const { return buf_; }
  size_t used() const { return used_; }
  size_t segments = 0;

 private:
  alignas(64) uint8_t buf_[1 << 17];
  size_t used_ = 0;
};
ArenaSink sink;

// The C reference's split (bench/split-reference.c): segments made, or -1.
extern "C" int reference_split(const void* vnet_hdr, const uint8_t* pkt, size_t len);
extern "C" const uint8_t* reference_output(size_t* len);
extern "C" int reference_send();

// Not inlined nor merged (identical bodies): the functions callgrind counts.
__attribute__((noipa)) bool run_tso(const tunio::VirtioNetHdr& h, const tb::Bytes& sp) {
  sink.reset();
  return tunio::gso_split(h, sp.data(), sp.size(), sink) == tunio::SplitResult::ok;
}
__attribute__((noipa)) bool run_tso_small(const tunio::VirtioNetHdr& h, const tb::Bytes& sp) {
  sink.reset();
  return tunio::gso_split(h, sp.data(), sp.size(), sink) == tunio::SplitResult::ok;
}
__attribute__((noipa)) bool run_plain(const tunio::VirtioNetHdr& h, const tb::Bytes& p) {
  sink.reset();
  return tunio::gso_split(h, p.data(), p.size(), sink) == tunio::SplitResult::ok;
}
__attribute__((noipa)) int run_reference(const uint8_t* vnet, const tb::Bytes& sp) {
  return reference_split(vnet, sp.data(), sp.size());
}
__attribute__((noipa)) int run_reference_small(const uint8_t* vnet, const tb::Bytes& sp) {
  return reference_split(vnet, sp.data(), sp.size());
}
__attribute__((noipa)) int run_reference_send() { return reference_send(); }
}  // namespace

int main() {
  tb::Ip ip;
  tb::Tcp t;
  t.options = tb::Bytes(12, 1);  // timestamps
  const tb::Bytes sp = tb::build_tcp(ip, t, tb::pattern(65000 - 52, 7), tb::Csum::partial);
  const tb::Bytes small = tb::build_tcp(ip, t, tb::pattern(8 * 1368, 5), tb::Csum::partial);
  tunio::VirtioNetHdr h{};
  h.flags = tunio::VIRTIO_NET_HDR_F_NEEDS_CSUM;
  h.gso_type = tunio::VIRTIO_NET_HDR_GSO_TCPV4;
  h.gso_size = 1368;
  h.hdr_len = 52;
  h.csum_start = 20;
  h.csum_offset = 16;
  uint8_t vnet[tunio::kVirtioNetHdrLen];
  tunio::encode_virtio_net_hdr(h, vnet);
  size_t segments = 0, small_segments = 0, ref_segments = 0, ref_small_segments = 0, ref_sent = 0;
  for (int i = 0; i < 200; i++) {
    size_t before = sink.segments;
    if (!run_tso(h, sp)) return 1;
    segments += sink.segments - before;
    before = sink.segments;
    if (!run_tso_small(h, small)) return 1;
    small_segments += sink.segments - before;
    const int r = run_reference(vnet, sp);
    const int sent = run_reference_send();
    if (sent != r) return 1;
    ref_sent += static_cast<size_t>(sent);
    const int rs = run_reference_small(vnet, small);
    if (r < 0 || rs < 0) return 1;
    ref_segments += static_cast<size_t>(r);
    ref_small_segments += static_cast<size_t>(rs);
  }
  // Both made the same bytes (the same work counted): the small superpacket's segments.
  size_t ref_len = 0;
  const uint8_t* ref = reference_output(&ref_len);
  if (!run_tso_small(h, small) || ref_len != sink.used() || std::memcmp(ref, sink.bytes(), ref_len) != 0) {
    std::fprintf(stderr, "split-instructions: tunio's and the C reference's segments differ\n");
    return 1;
  }
  // A plain 1,420-byte TCP packet with a partial checksum (GSO_NONE, NEEDS_CSUM).
  const tb::Bytes one = tb::build_tcp(ip, t, tb::pattern(1420 - 52, 9), tb::Csum::partial);
  tunio::VirtioNetHdr n{};
  n.flags = tunio::VIRTIO_NET_HDR_F_NEEDS_CSUM;
  n.csum_start = 20;
  n.csum_offset = 16;
  size_t packets = 0;
  for (int i = 0; i < 10000; i++, packets++) {
    if (!run_plain(n, one)) return 1;
  }
  std::printf("run_tso %zu segments, run_tso_small %zu, run_reference %zu, run_reference_small %zu, "
              "run_reference_send %zu datagrams, run_plain %zu packets\n",
              segments, small_segments, ref_segments, ref_small_segments, ref_sent, packets);
  return 0;
}
