// A small rtnetlink client of our own for configuring the TUN link: MTU, up/down, addresses,
// txqueuelen, gso_max_size, and reading the link back (including IFLA_STATS64 counters and
// the tun driver's IFLA_LINKINFO). See docs/netlink.md for why this is not libnl/libmnl.
//
// Every request carries NLM_F_ACK and waits for the kernel's NLMSG_ERROR answer, so a
// function that returns success means the kernel applied the change. Failures come back as
// a SysError naming the operation ("RTM_NEWLINK(IFLA_MTU)") with the errno and, when the
// kernel attached one (NETLINK_EXT_ACK), its human-readable reason as the detail.
//
// Namespaces: a netlink socket is bound to the network namespace of the thread that created
// it. Rtnl::open() therefore configures the namespace the calling thread is in *now*.
//
// No Node headers, no exceptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sys_error.h"
#include "unique_fd.h"

struct nlmsghdr;

namespace tunio {

// One rtnetlink request's name and the names of the socket calls made for it, all string
// literals (SysError::call owns no string): a failing sendto for RTM_NEWADDR is reported as
// "sendto(RTM_NEWADDR)". Made with TUNIO_NL_OP("RTM_NEWADDR").
struct NlOp {
  const char* name;
  const char* sendto;
  const char* poll;
  const char* recvfrom;
};
#define TUNIO_NL_OP(op) (::tunio::NlOp{op, "sendto(" op ")", "poll(" op ")", "recvfrom(" op ")"})

// An address with prefix length, as parsed from "10.8.0.1/24" or "fd08::1/64".
struct Cidr {
  uint8_t family = 0;   // 4 or 6
  uint8_t addr[16] = {};
  uint8_t prefix = 0;   // 0..32 or 0..128
};

// Parses "a.b.c.d/N" or "ipv6/N". The prefix is required (an address without one is
// ambiguous between a host route and a subnet, so the caller must say which). Rejects
// zones ("%eth0"), signs, leading/trailing junk and out-of-range prefixes. On failure returns
// false and, when `why` is given, a sentence saying what was wrong.
bool parse_cidr(const std::string& text, Cidr* out, std::string* why = nullptr);
// Inverse of parse_cidr ("10.8.0.1/24"); for messages and tests.
std::string format_cidr(const Cidr& cidr);

// The kernel's rules for an interface name (dev_valid_name): 1..15 bytes, not "." or "..",
// no '/', ':' or whitespace. `allow_template` additionally accepts exactly one "%d" (the
// kernel then picks the number) and rejects any other '%'.
bool valid_ifname(const std::string& name, bool allow_template, std::string* why = nullptr);

struct LinkStats {
  uint64_t rx_packets = 0, tx_packets = 0;
  uint64_t rx_bytes = 0, tx_bytes = 0;
  uint64_t rx_errors = 0, tx_errors = 0;
  uint64_t rx_dropped = 0, tx_dropped = 0;
};

// What the tun driver reports in IFLA_LINKINFO/IFLA_INFO_DATA (kernel >= 4.20).
struct TunLinkInfo {
  bool present = false;     // false when the link is not a tun/tap or the kernel is older
  uint8_t type = 0;         // IFF_TUN (1) or IFF_TAP (2)
  bool pi = false;
  bool vnet_hdr = false;
  bool persist = false;
  bool multi_queue = false;
  // The kernel reports these two only for multi-queue devices (0 otherwise).
  uint32_t num_queues = 0;           // attached queues (fds)
  uint32_t num_disabled_queues = 0;  // detached with IFF_DETACH_QUEUE
  int64_t owner = -1;
  int64_t group = -1;
};

struct LinkInfo {
  int ifindex = 0;
  std::string name;
  uint32_t flags = 0;          // IFF_UP, IFF_RUNNING, IFF_POINTOPOINT, ... (ifi_flags)
  uint32_t mtu = 0;
  uint32_t txqlen = 0;
  uint32_t gso_max_size = 0;   // 0 when the kernel does not report it
  uint32_t gso_max_segs = 0;
  uint8_t operstate = 0;       // IFLA_OPERSTATE (IF_OPER_UNKNOWN 0 ... IF_OPER_UP 6)
  std::string kind;            // IFLA_INFO_KIND, "tun" for tun and tap
  TunLinkInfo tun;
  LinkStats stats;
  bool has_stats = false;
};

struct AddressInfo {
  Cidr cidr;          // IFA_LOCAL (or IFA_ADDRESS when there is no local) with ifa_prefixlen
  uint32_t flags = 0; // IFA_F_* (IFA_FLAGS when present)
};

// One NETLINK_ROUTE socket. Move-only; closes its fd in the destructor.
class Rtnl {
 public:
  // Opens and binds the socket in the calling thread's current network namespace.
  SysError open();
  bool is_open() const { return bool(fd_); }
  void close() { fd_.reset(); }

  SysError set_mtu(int ifindex, uint32_t mtu);
  SysError set_up(int ifindex, bool up);
  SysError set_txqlen(int ifindex, uint32_t txqlen);
  // Older kernels only accept IFLA_GSO_MAX_SIZE at creation time (EOPNOTSUPP/EINVAL): in
  // net/core/rtnetlink.c only rtnl_create_link() read it until do_setlink() learned it with
  // the BIG TCP work (Linux 5.19). Since then validate_linkmsg() refuses a value above the
  // device's tso_max_size (EINVAL, extack "too big gso_max_size"); the error carries the reason.
  SysError set_gso_max_size(int ifindex, uint32_t size);
  // IPv4: IFA_LOCAL and IFA_ADDRESS both set to the address (a /32 is a plain host address).
  // IPv6: IFA_ADDRESS with IFA_F_NODAD, so the address is usable at once instead of after
  // duplicate address detection (a point-to-point tunnel has no one to collide with).
  // EEXIST when the address is already there.
  SysError add_address(int ifindex, const Cidr& cidr);
  SysError del_address(int ifindex, const Cidr& cidr);

  SysError get_link(int ifindex, LinkInfo* out);
  SysError get_link_by_name(const std::string& name, LinkInfo* out);
  SysError list_addresses(int ifindex, std::vector<AddressInfo>* out);

  // One request built with nl::Request (NLM_F_REQUEST | NLM_F_ACK are added), answered by
  // its ack; the link functions above and routes and rules (route_rule.h) use it. With
  // `reply_type` the first message of that type answering it (a GET reply, an NLM_F_ECHO
  // echo) is copied into `reply`; `reply_optional` accepts an ack without one (a kernel that
  // does not echo).
  SysError request(void* msg, size_t len, const NlOp& op, uint16_t reply_type = 0,
                   std::vector<uint8_t>* reply = nullptr, bool reply_optional = false);
  // An NLM_F_DUMP request: `each` sees every message of the answer until NLMSG_DONE.
  SysError dump(void* msg, size_t len, const NlOp& op,
                const std::function<void(const nlmsghdr*)>& each);

 private:
  // Sends one request with `flags` added (its sequence number and port filled in).
  SysError send_request(void* msg, size_t len, uint16_t flags, const NlOp& op);
  // Reads the kernel's answers to the request just sent and hands each to `on_answer` until it
  // returns true (done; its SysError is the result). `silence` is the detail of the
  // ETIMEDOUT returned when the kernel says nothing for 5 s.
  SysError receive_answers(uint32_t seq, const NlOp& op, const char* silence,
                           const std::function<bool(const nlmsghdr*, SysError*)>& on_answer);
  SysError get_link_impl(void* req, size_t len, LinkInfo* out);
  // RTM_NEWLINK setting one u32 attribute of the link (IFLA_MTU, IFLA_TXQLEN, ...).
  SysError set_link_u32(int ifindex, uint16_t attr, uint32_t value, const NlOp& op);

  UniqueFd fd_;
  uint32_t seq_ = 0;
  uint32_t port_id_ = 0;
};

// Parses one RTM_NEWLINK message (header included). Exposed for tests with canned bytes.
bool parse_link_message(const uint8_t* msg, size_t len, LinkInfo* out);

}  // namespace tunio
