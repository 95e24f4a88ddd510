// Inner-flow steering for SO_REUSEPORT groups; see reuseport_steering.h.
#include "reuseport_steering.h"

#include <netinet/in.h>
#include <netinet/ip.h>   // struct iphdr
#include <netinet/ip6.h>  // struct ip6_hdr
#include <sys/socket.h>

#include <cstddef>

#include <map>
#include <string>
#include <utility>

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

namespace tunio {

namespace {

// A tiny assembler with named jump targets: classic BPF jumps are relative forward offsets,
// which are easy to get wrong by hand.
class Asm {
 public:
  void op(uint16_t code, uint32_t k = 0) { code_.push_back({code, 0, 0, k}); }
  // Conditional jump on A (BPF_JEQ/BPF_JSET with K): to `yes` if true, else to `no` ("" = next).
  void jump(uint16_t cond, uint32_t k, const char* yes, const char* no = "") {
    fixups_.push_back({code_.size(), yes, no});
    code_.push_back({uint16_t(BPF_JMP | cond | BPF_K), 0, 0, k});
  }
  void jmp(const char* to) {
    fixups_.push_back({code_.size(), to, ""});
    code_.push_back({uint16_t(BPF_JMP | BPF_JA), 0, 0, 0});
  }
  void label(const char* name) { labels_[name] = code_.size(); }

  std::vector<sock_filter> finish() {
    for (const Fixup& f : fixups_) {
      sock_filter& ins = code_[f.at];
      auto offset = [&](const std::string& to) -> uint32_t {
        return to.empty() ? 0 : uint32_t(labels_.at(to) - f.at - 1);
      };
      if (BPF_OP(ins.code) == BPF_JA) {
        ins.k = offset(f.yes);
      } else {
        ins.jt = uint8_t(offset(f.yes));
        ins.jf = uint8_t(offset(f.no));
      }
    }
    return std::move(code_);
  }

 private:
  struct Fixup { size_t at; std::string yes, no; };
  std::vector<sock_filter> code_;
  std::vector<Fixup> fixups_;
  std::map<std::string, size_t> labels_;
};

constexpr uint32_t kFallBackToKernelHash = 0xffffffff;  // any index >= group size
constexpr uint32_t kGoldenRatio32 = 0x9e3779b1;  // 2^32 / phi, odd

// The header fields the program loads, as offsets into the packet (it starts with the IP
// header): the C library's layouts, as ip_headers.h has them.
constexpr uint32_t kIpv4Source = offsetof(struct iphdr, saddr);
constexpr uint32_t kIpv4Destination = offsetof(struct iphdr, daddr);
constexpr uint32_t kIpv4Fragment = offsetof(struct iphdr, frag_off);  // flags + fragment offset
constexpr uint32_t kIpv4Protocol = offsetof(struct iphdr, protocol);
constexpr uint32_t kIpv6NextHeader = offsetof(struct ip6_hdr, ip6_nxt);
constexpr uint32_t kIpv6Addresses = offsetof(struct ip6_hdr, ip6_src);  // source, then destination
constexpr uint32_t kIpv6HeaderEnd = sizeof(struct ip6_hdr);  // the addresses' end; the ports (no extension header)

}  // namespace

std::vector<sock_filter> inner_flow_steering_program(uint32_t sockets) {
  Asm a;
  a.op(BPF_LD | BPF_B | BPF_ABS, 0);  // version nibble
  a.op(BPF_ALU | BPF_RSH | BPF_K, 4);
  a.jump(BPF_JEQ, 4, "v4");
  a.jump(BPF_JEQ, 6, "v6", "other");

  a.label("v4");
  a.op(BPF_LD | BPF_W | BPF_ABS, kIpv4Source);
  a.op(BPF_MISC | BPF_TAX);
  a.op(BPF_LD | BPF_W | BPF_ABS, kIpv4Destination);
  a.op(BPF_ALU | BPF_XOR | BPF_X);
  a.op(BPF_ST, 0);                     // M[0] = saddr ^ daddr
  a.op(BPF_LD | BPF_H | BPF_ABS, kIpv4Fragment);
  a.jump(BPF_JSET, 0x3fff, "addresses_only");  // MF or an offset: a fragment, no ports
  a.op(BPF_LD | BPF_B | BPF_ABS, kIpv4Protocol);
  a.jump(BPF_JEQ, IPPROTO_TCP, "ports4");
  a.jump(BPF_JEQ, IPPROTO_UDP, "ports4", "addresses_only");
  a.label("ports4");
  a.op(BPF_LDX | BPF_B | BPF_MSH, 0);  // X = IHL * 4
  a.op(BPF_LD | BPF_W | BPF_IND, 0);   // A = sport << 16 | dport
  a.jmp("mix_ports");

  a.label("v6");
  a.op(BPF_LD | BPF_W | BPF_ABS, kIpv6Addresses);  // XOR of the eight words of both addresses
  for (uint32_t off = kIpv6Addresses + 4; off < kIpv6HeaderEnd; off += 4) {
    a.op(BPF_MISC | BPF_TAX);
    a.op(BPF_LD | BPF_W | BPF_ABS, off);
    a.op(BPF_ALU | BPF_XOR | BPF_X);
  }
  a.op(BPF_ST, 0);
  a.op(BPF_LD | BPF_B | BPF_ABS, kIpv6NextHeader);  // extension headers: addresses only
  a.jump(BPF_JEQ, IPPROTO_TCP, "ports6");
  a.jump(BPF_JEQ, IPPROTO_UDP, "ports6", "addresses_only");
  a.label("ports6");
  a.op(BPF_LD | BPF_W | BPF_ABS, kIpv6HeaderEnd);  // A = sport << 16 | dport

  a.label("mix_ports");
  a.op(BPF_LDX | BPF_MEM, 0);
  a.op(BPF_ALU | BPF_XOR | BPF_X);     // A = addresses ^ ports
  a.jmp("fold");
  a.label("addresses_only");
  a.op(BPF_LD | BPF_MEM, 0);

  a.label("fold");                     // A ^= A >> 16: both ports and address halves meet
  a.op(BPF_MISC | BPF_TAX);
  a.op(BPF_ALU | BPF_RSH | BPF_K, 16);
  a.op(BPF_ALU | BPF_XOR | BPF_X);
  a.op(BPF_ALU | BPF_AND | BPF_K, 0xffff);
  // Multiplicative (Fibonacci) hashing, then the high half: the low bits alone are no hash.
  // Linux gives connect() even ephemeral ports, so `% 2` of the XOR would send every flow
  // of one client to the same socket.
  a.op(BPF_ALU | BPF_MUL | BPF_K, kGoldenRatio32);
  a.op(BPF_ALU | BPF_RSH | BPF_K, 16);
  a.op(BPF_ALU | BPF_MOD | BPF_K, sockets);
  a.op(BPF_RET | BPF_A);

  a.label("other");
  a.op(BPF_RET | BPF_K, kFallBackToKernelHash);
  return a.finish();
}

SysError attach_inner_flow_steering(int fd, uint32_t sockets) {
  if (sockets == 0 || sockets > 0xffff) return SysError::make(EINVAL, "setsockopt(SO_ATTACH_REUSEPORT_CBPF)");
  std::vector<sock_filter> prog = inner_flow_steering_program(sockets);
  sock_fprog fprog{static_cast<unsigned short>(prog.size()), prog.data()};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog, sizeof fprog) != 0) {
    return SysError::from_errno("setsockopt(SO_ATTACH_REUSEPORT_CBPF)");
  }
  return SysError::none();
}

}  // namespace tunio
