// Instructions per segment of the TSO split (gso_split: the copy, the checksums, the header
// edits) and per plain packet copied with its checksum completed (gso_split of GSO_NONE with
// NEEDS_CSUM, as the TUN read does for a packet that is not a superpacket), counted with
// callgrind; the TUN read side's user-space work of a forward or of tun.read() on TCP, which
// bench/datapath-instructions.js (UDP datagrams, no superpackets) does not reach. No Node, no
// kernel: the core's sources compiled as the addon compiles them (-O2).
//   g++ -std=c++17 -O2 -Isrc-native/core -Itest-native bench/split-instructions.cc \
//     $(node scripts/sources.js core) -o /tmp/split-instructions -lcrypto -ldl
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/split.cg --collect-atstart=no \
//     '--toggle-collect=run_tso(*' '--toggle-collect=run_plain(*' /tmp/split-instructions
//   callgrind_annotate --inclusive=yes /tmp/split.cg | grep -E 'run_tso|run_plain'
// The program prints the segments and packets it made; divide the inclusive counts by them.
// The superpacket: IPv4 + TCP with timestamps (52 bytes of headers), 65,000 bytes, MSS 1,368
// (47 segments of 1,420 bytes, as a TUN of MTU 1420 hands them over), NEEDS_CSUM set.
#include <cstdio>

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
  size_t segments = 0;

 private:
  alignas(64) uint8_t buf_[1 << 17];
  size_t used_ = 0;
};
ArenaSink sink;

// Not inlined nor merged (identical bodies): the functions callgrind counts.
__attribute__((noipa)) bool run_tso(const tunio::VirtioNetHdr& h, const tb::Bytes& sp) {
  sink.reset();
  return tunio::gso_split(h, sp.data(), sp.size(), sink) == tunio::SplitResult::ok;
}
__attribute__((noipa)) bool run_plain(const tunio::VirtioNetHdr& h, const tb::Bytes& p) {
  sink.reset();
  return tunio::gso_split(h, p.data(), p.size(), sink) == tunio::SplitResult::ok;
}
}  // namespace

int main() {
  tb::Ip ip;
  tb::Tcp t;
  t.options = tb::Bytes(12, 1);  // timestamps
  const tb::Bytes sp = tb::build_tcp(ip, t, tb::pattern(65000 - 52, 7), tb::Csum::partial);
  tunio::VirtioNetHdr h{};
  h.flags = tunio::VIRTIO_NET_HDR_F_NEEDS_CSUM;
  h.gso_type = tunio::VIRTIO_NET_HDR_GSO_TCPV4;
  h.gso_size = 1368;
  h.hdr_len = 52;
  h.csum_start = 20;
  h.csum_offset = 16;
  for (int i = 0; i < 200; i++) {
    if (!run_tso(h, sp)) return 1;
  }
  const size_t segments = sink.segments;
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
  std::printf("segments %zu packets %zu\n", segments, packets);
  return 0;
}
