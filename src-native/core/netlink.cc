// rtnetlink client; see netlink.h and docs/netlink.md.
#include "netlink.h"

#include "netlink_message.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace tunio {

using nl::MsgIter;
using nl::Request;
using nl::attr_u32;
using nl::attr_u8;

// ---------------------------------------------------------------------------------------
// CIDR and name validation

bool parse_cidr(const std::string& text, Cidr* out, std::string* why) {
  auto fail = [&](const std::string& reason) {
    if (why) *why = "invalid address '" + text + "': " + reason;
    return false;
  };
  size_t slash = text.find('/');
  if (slash == std::string::npos) return fail("missing /prefix (e.g. 10.8.0.1/24)");
  if (text.find('/', slash + 1) != std::string::npos) return fail("more than one '/'");
  std::string addr = text.substr(0, slash);
  std::string pfx = text.substr(slash + 1);
  if (addr.empty()) return fail("empty address");
  // Only plain decimal digits: strtoul would accept " 24", "+24", "0x18".
  if (pfx.empty() || pfx.size() > 3) return fail("prefix must be 1 to 3 decimal digits");
  unsigned prefix = 0;
  for (char c : pfx) {
    if (c < '0' || c > '9') return fail("prefix must be decimal digits");
    prefix = prefix * 10 + unsigned(c - '0');
  }
  // A zone names the interface a link-local address is on; an address given to a device, or
  // a route's or rule's network, has its interface from elsewhere (the device, `dev`).
  if (addr.find('%') != std::string::npos) return fail("takes no zone (%interface): the device or route names the interface");
  // inet_pton reads up to a NUL, and a JavaScript string may hold one.
  if (addr.find('\0') != std::string::npos) return fail("not an IPv4 or IPv6 address");
  Cidr c;
  if (inet_pton(AF_INET, addr.c_str(), c.addr) == 1) {
    c.family = 4;
    if (prefix > 32) return fail("IPv4 prefix must be 0..32");
  } else if (inet_pton(AF_INET6, addr.c_str(), c.addr) == 1) {
    c.family = 6;
    if (prefix > 128) return fail("IPv6 prefix must be 0..128");
  } else {
    return fail("not an IPv4 or IPv6 address");
  }
  c.prefix = uint8_t(prefix);
  if (out) *out = c;
  return true;
}

std::string format_cidr(const Cidr& cidr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (cidr.family != 4 && cidr.family != 6) return "<none>";
  inet_ntop(cidr.family == 4 ? AF_INET : AF_INET6, cidr.addr, buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(cidr.prefix);
}

bool valid_ifname(const std::string& name, bool allow_template, std::string* why) {
  auto fail = [&](const std::string& reason) {
    if (why) *why = "invalid interface name '" + name + "': " + reason;
    return false;
  };
  if (name.empty()) return fail("empty");
  if (name.size() >= IFNAMSIZ)
    return fail("longer than " + std::to_string(IFNAMSIZ - 1) + " bytes");
  if (name == "." || name == "..") return fail("'.' and '..' are reserved");
  int percents = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char ch = static_cast<unsigned char>(name[i]);
    if (ch == '/' || ch == ':' || std::isspace(ch) || ch == 0)
      return fail("contains '/', ':', NUL or whitespace");
    if (ch == '%') {
      if (!allow_template) return fail("'%' is not allowed here");
      if (i + 1 >= name.size() || name[i + 1] != 'd')
        return fail("'%' must be followed by 'd' (a template like tun%d)");
      ++percents;
    }
  }
  if (percents > 1) return fail("at most one %d");
  return true;
}

// ---------------------------------------------------------------------------------------
// Message building

namespace {

void parse_tun_info(const rtattr* data, int len, TunLinkInfo* tun) {
  tun->present = true;
  for (const rtattr* a = data; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    switch (a->rta_type) {
      case IFLA_TUN_TYPE: tun->type = attr_u8(a); break;
      case IFLA_TUN_PI: tun->pi = attr_u8(a) != 0; break;
      case IFLA_TUN_VNET_HDR: tun->vnet_hdr = attr_u8(a) != 0; break;
      case IFLA_TUN_PERSIST: tun->persist = attr_u8(a) != 0; break;
      case IFLA_TUN_MULTI_QUEUE: tun->multi_queue = attr_u8(a) != 0; break;
      case IFLA_TUN_NUM_QUEUES: attr_u32(a, &tun->num_queues); break;
      case IFLA_TUN_NUM_DISABLED_QUEUES: attr_u32(a, &tun->num_disabled_queues); break;
      case IFLA_TUN_OWNER: { uint32_t v; if (attr_u32(a, &v)) tun->owner = int64_t(v); break; }
      case IFLA_TUN_GROUP: { uint32_t v; if (attr_u32(a, &v)) tun->group = int64_t(v); break; }
      default: break;
    }
  }
  // tun_fill_info() (drivers/net/tun.c, Linux 4.20+) sends IFLA_TUN_OWNER/GROUP only when
  // set; (uid_t)-1, what TUNSETOWNER takes for "none", is read as none too.
  if (tun->owner == int64_t(UINT32_MAX)) tun->owner = -1;
  if (tun->group == int64_t(UINT32_MAX)) tun->group = -1;
}

}  // namespace

bool parse_link_message(const uint8_t* msg, size_t len, LinkInfo* out) {
  const nlmsghdr* h = nl::message_of_type(msg, len, RTM_NEWLINK, sizeof(ifinfomsg));
  if (!h) return false;
  const ifinfomsg* ifi = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
  LinkInfo li;
  li.ifindex = ifi->ifi_index;
  li.flags = ifi->ifi_flags;
  int alen = int(h->nlmsg_len - NLMSG_LENGTH(sizeof(ifinfomsg)));
  for (const rtattr* a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
    switch (a->rta_type) {
      case IFLA_IFNAME:
        li.name.assign(static_cast<const char*>(RTA_DATA(a)),
                       strnlen(static_cast<const char*>(RTA_DATA(a)), RTA_PAYLOAD(a)));
        break;
      case IFLA_MTU: attr_u32(a, &li.mtu); break;
      case IFLA_TXQLEN: attr_u32(a, &li.txqlen); break;
      case IFLA_GSO_MAX_SIZE: attr_u32(a, &li.gso_max_size); break;
      case IFLA_GSO_MAX_SEGS: attr_u32(a, &li.gso_max_segs); break;
      case IFLA_OPERSTATE: li.operstate = attr_u8(a); break;
      case IFLA_STATS64: {
        // Copy out: the attribute is only 4-byte aligned inside the message.
        rtnl_link_stats64 s;
        memset(&s, 0, sizeof s);
        memcpy(&s, RTA_DATA(a), std::min(sizeof s, size_t(RTA_PAYLOAD(a))));
        li.stats.rx_packets = s.rx_packets;
        li.stats.tx_packets = s.tx_packets;
        li.stats.rx_bytes = s.rx_bytes;
        li.stats.tx_bytes = s.tx_bytes;
        li.stats.rx_errors = s.rx_errors;
        li.stats.tx_errors = s.tx_errors;
        li.stats.rx_dropped = s.rx_dropped;
        li.stats.tx_dropped = s.tx_dropped;
        li.has_stats = true;
        break;
      }
      case IFLA_LINKINFO: {
        int nlen = int(RTA_PAYLOAD(a));
        const rtattr* info_data = nullptr;
        int info_data_len = 0;
        for (const rtattr* n = static_cast<const rtattr*>(RTA_DATA(a)); RTA_OK(n, nlen);
             n = RTA_NEXT(n, nlen)) {
          if (n->rta_type == IFLA_INFO_KIND) {
            li.kind.assign(static_cast<const char*>(RTA_DATA(n)),
                           strnlen(static_cast<const char*>(RTA_DATA(n)), RTA_PAYLOAD(n)));
          } else if (n->rta_type == IFLA_INFO_DATA) {
            info_data = static_cast<const rtattr*>(RTA_DATA(n));
            info_data_len = int(RTA_PAYLOAD(n));
          }
        }
        if (li.kind == "tun" && info_data) parse_tun_info(info_data, info_data_len, &li.tun);
        break;
      }
      default: break;
    }
  }
  *out = std::move(li);
  return true;
}

// ---------------------------------------------------------------------------------------
// Socket

SysError Rtnl::open() {
  close();
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) return SysError::from_errno("socket(AF_NETLINK)");
  sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;  // nl_pid 0: the kernel assigns a unique port id
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) return SysError::from_errno("bind(AF_NETLINK)");
  socklen_t slen = sizeof sa;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &slen) < 0)
    return SysError::from_errno("getsockname(AF_NETLINK)");
  // Best effort: extended acks give a reason string ("too big gso_max_size"); CAP_ACK stops
  // the kernel from echoing our whole request back inside every error.
  int one = 1;
  (void)setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  (void)setsockopt(fd.get(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  fd_ = std::move(fd);
  port_id_ = sa.nl_pid;
  // A seed that differs between sockets keeps a stale answer from matching by accident.
  seq_ = uint32_t(getpid()) << 8;
  return SysError::none();
}

namespace {

// Extracts NLMSGERR_ATTR_MSG from an extended ack, if present.
std::string extack_message(const nlmsghdr* h) {
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return std::string();
  const nlmsgerr* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
  size_t off = NLMSG_LENGTH(sizeof(nlmsgerr));
  // Without NLM_F_CAPPED the original request follows the nlmsgerr and precedes the TLVs.
  if (!(h->nlmsg_flags & NLM_F_CAPPED)) off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
  if (off >= h->nlmsg_len) return std::string();
  int len = int(h->nlmsg_len - off);
  for (const rtattr* a = reinterpret_cast<const rtattr*>(reinterpret_cast<const uint8_t*>(h) + off);
       RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == NLMSGERR_ATTR_MSG) {
      const char* s = static_cast<const char*>(RTA_DATA(a));
      return std::string(s, strnlen(s, RTA_PAYLOAD(a)));
    }
  }
  return std::string();
}

}  // namespace

SysError Rtnl::send_request(void* msg, size_t len, uint16_t flags, const NlOp& op) {
  if (!fd_) return SysError::make(EBADF, op.name, "netlink socket not open");
  nlmsghdr* h = static_cast<nlmsghdr*>(msg);
  if (h->nlmsg_len != len) return SysError::make(EMSGSIZE, op.name, "request did not fit");
  h->nlmsg_seq = ++seq_;
  h->nlmsg_pid = 0;
  h->nlmsg_flags |= flags;
  sockaddr_nl kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  ssize_t n;
  do {
    n = ::sendto(fd_.get(), msg, len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return SysError::from_errno(op.sendto);
  return SysError::none();
}

SysError Rtnl::receive_answers(uint32_t seq, const NlOp& op, const char* silence,
                               const std::function<bool(const nlmsghdr*, SysError*)>& on_answer) {
  // RTM_GETLINK replies can exceed 4 KiB with many attributes; 32 KiB is plenty for one link.
  std::vector<uint8_t> buf(32768);
  for (;;) {
    // A bounded wait: the kernel always answers, so silence means something is badly wrong
    // and we must not hang the caller forever.
    pollfd p{fd_.get(), POLLIN, 0};
    int pr;
    do { pr = ::poll(&p, 1, 5000); } while (pr < 0 && errno == EINTR);
    if (pr < 0) return SysError::from_errno(op.poll);
    if (pr == 0) return SysError::make(ETIMEDOUT, op.name, silence);
    sockaddr_nl from;
    socklen_t flen = sizeof from;
    const ssize_t n = ::recvfrom(fd_.get(), buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &flen);
    if (n < 0) {
      if (errno == EINTR) continue;
      return SysError::from_errno(op.recvfrom);
    }
    if (from.nl_pid != 0) continue;  // only the kernel may answer
    for (MsgIter it(buf.data(), size_t(n)); const nlmsghdr* m = it.next();) {
      if (m->nlmsg_seq != seq || m->nlmsg_pid != port_id_) continue;  // stale
      if (m->nlmsg_type == NLMSG_ERROR) {
        if (m->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr)))
          return SysError::make(EPROTO, op.name, "truncated NLMSG_ERROR");
        const nlmsgerr* e = static_cast<const nlmsgerr*>(NLMSG_DATA(m));
        if (e->error != 0) return SysError::make(-e->error, op.name, extack_message(m));
      }
      SysError result;
      if (on_answer(m, &result)) return result;
    }
  }
}

SysError Rtnl::request(void* msg, size_t len, const NlOp& op, uint16_t reply_type,
                       std::vector<uint8_t>* reply, bool reply_optional) {
  SysError e = send_request(msg, len, NLM_F_REQUEST | NLM_F_ACK, op);
  if (!e.ok()) return e;
  bool got_reply = reply_type == 0 || reply_optional;
  bool have_reply = false;
  return receive_answers(static_cast<nlmsghdr*>(msg)->nlmsg_seq, op, "no netlink ack within 5 s",
                         [&](const nlmsghdr* m, SysError* result) {
                           if (m->nlmsg_type == NLMSG_ERROR) {  // the ack (errors returned above)
                             if (!got_reply) *result = SysError::make(ENODATA, op.name, "kernel acked without a reply");
                             return true;
                           }
                           if (reply_type != 0 && m->nlmsg_type == reply_type && !have_reply) {
                             const uint8_t* p8 = reinterpret_cast<const uint8_t*>(m);
                             if (reply) reply->assign(p8, p8 + m->nlmsg_len);
                             got_reply = true;
                             have_reply = true;
                           }
                           return false;
                         });
}

// ---------------------------------------------------------------------------------------
// Link operations

namespace {

ifinfomsg link_header(int ifindex) {
  ifinfomsg ifi;
  memset(&ifi, 0, sizeof ifi);
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = ifindex;
  return ifi;
}

}  // namespace

// RTM_NEWLINK without NLM_F_CREATE on an existing ifindex modifies that link (what
// `ip link set` sends); RTM_SETLINK would work too but NEWLINK is the path that is kept
// feature-complete in the kernel.
SysError Rtnl::set_link_u32(int ifindex, uint16_t attr, uint32_t value, const NlOp& op) {
  ifinfomsg ifi = link_header(ifindex);
  Request r(RTM_NEWLINK, 0, &ifi, sizeof ifi);
  r.u32(attr, value);
  return request(r.buf, r.len, op);
}

SysError Rtnl::set_mtu(int ifindex, uint32_t mtu) {
  return set_link_u32(ifindex, IFLA_MTU, mtu, TUNIO_NL_OP("RTM_NEWLINK(IFLA_MTU)"));
}

SysError Rtnl::set_up(int ifindex, bool up) {
  ifinfomsg ifi = link_header(ifindex);
  ifi.ifi_change = IFF_UP;  // only touch IFF_UP
  ifi.ifi_flags = up ? IFF_UP : 0;
  Request r(RTM_NEWLINK, 0, &ifi, sizeof ifi);
  return request(r.buf, r.len, up ? TUNIO_NL_OP("RTM_NEWLINK(IFF_UP)") : TUNIO_NL_OP("RTM_NEWLINK(down)"));
}

SysError Rtnl::set_txqlen(int ifindex, uint32_t txqlen) {
  return set_link_u32(ifindex, IFLA_TXQLEN, txqlen, TUNIO_NL_OP("RTM_NEWLINK(IFLA_TXQLEN)"));
}

SysError Rtnl::set_gso_max_size(int ifindex, uint32_t size) {
  SysError e = set_link_u32(ifindex, IFLA_GSO_MAX_SIZE, size, TUNIO_NL_OP("RTM_NEWLINK(IFLA_GSO_MAX_SIZE)"));
  if (!e.ok() && e.detail.empty() && (e.err == EOPNOTSUPP || e.err == EINVAL))
    e.detail = "this kernel may only accept gso_max_size at link creation, or the value "
               "exceeds the device's tso_max_size";
  return e;
}

namespace {

Request address_request(uint16_t type, uint16_t flags, int ifindex, const Cidr& c) {
  ifaddrmsg ifa;
  memset(&ifa, 0, sizeof ifa);
  ifa.ifa_family = c.family == 4 ? AF_INET : AF_INET6;
  ifa.ifa_prefixlen = c.prefix;
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = uint32_t(ifindex);
  if (c.family == 6) ifa.ifa_flags = IFA_F_NODAD;
  Request r(type, flags, &ifa, sizeof ifa);
  size_t alen = c.family == 4 ? 4 : 16;
  // IPv4 needs both: IFA_LOCAL is the interface's own address, IFA_ADDRESS the peer (equal
  // to local unless point-to-point with a distinct peer). IPv6 uses IFA_ADDRESS alone.
  if (c.family == 4) r.attr(IFA_LOCAL, c.addr, alen);
  r.attr(IFA_ADDRESS, c.addr, alen);
  if (c.family == 6) r.u32(IFA_FLAGS, IFA_F_NODAD);
  return r;
}

}  // namespace

SysError Rtnl::add_address(int ifindex, const Cidr& cidr) {
  if (cidr.family != 4 && cidr.family != 6)
    return SysError::make(EAFNOSUPPORT, "RTM_NEWADDR", "address family must be 4 or 6");
  Request r = address_request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, cidr);
  return request(r.buf, r.len, TUNIO_NL_OP("RTM_NEWADDR")).prefix_detail(format_cidr(cidr));
}

SysError Rtnl::del_address(int ifindex, const Cidr& cidr) {
  if (cidr.family != 4 && cidr.family != 6)
    return SysError::make(EAFNOSUPPORT, "RTM_DELADDR", "address family must be 4 or 6");
  Request r = address_request(RTM_DELADDR, 0, ifindex, cidr);
  return request(r.buf, r.len, TUNIO_NL_OP("RTM_DELADDR")).prefix_detail(format_cidr(cidr));
}

SysError Rtnl::get_link_impl(void* req, size_t len, LinkInfo* out) {
  std::vector<uint8_t> reply;
  SysError e = request(req, len, TUNIO_NL_OP("RTM_GETLINK"), RTM_NEWLINK, &reply);
  if (!e.ok()) return e;
  if (!parse_link_message(reply.data(), reply.size(), out))
    return SysError::make(EPROTO, "RTM_GETLINK", "malformed RTM_NEWLINK reply");
  return SysError::none();
}

SysError Rtnl::get_link(int ifindex, LinkInfo* out) {
  ifinfomsg ifi = link_header(ifindex);
  Request r(RTM_GETLINK, 0, &ifi, sizeof ifi);
  return get_link_impl(r.buf, r.len, out);
}

SysError Rtnl::get_link_by_name(const std::string& name, LinkInfo* out) {
  std::string why;
  if (!valid_ifname(name, false, &why)) return SysError::make(EINVAL, "RTM_GETLINK", why);
  ifinfomsg ifi = link_header(0);
  Request r(RTM_GETLINK, 0, &ifi, sizeof ifi);
  r.attr(IFLA_IFNAME, name.c_str(), name.size() + 1);
  SysError e = get_link_impl(r.buf, r.len, out);
  if (!e.ok() && e.detail.empty()) e.detail = name;
  return e;
}

SysError Rtnl::dump(void* msg, size_t len, const NlOp& op, const std::function<void(const nlmsghdr*)>& each) {
  SysError e = send_request(msg, len, NLM_F_REQUEST | NLM_F_DUMP, op);
  if (!e.ok()) return e;
  return receive_answers(static_cast<nlmsghdr*>(msg)->nlmsg_seq, op, "dump did not finish in 5 s",
                         [&](const nlmsghdr* m, SysError*) {
                           if (m->nlmsg_type == NLMSG_DONE) return true;
                           if (m->nlmsg_type != NLMSG_ERROR) each(m);  // an error 0 is no entry
                           return false;
                         });
}

SysError Rtnl::list_addresses(int ifindex, std::vector<AddressInfo>* out) {
  out->clear();
  ifaddrmsg ifa;
  memset(&ifa, 0, sizeof ifa);
  ifa.ifa_family = AF_UNSPEC;
  Request r(RTM_GETADDR, 0, &ifa, sizeof ifa);
  return dump(r.buf, r.len, TUNIO_NL_OP("RTM_GETADDR"), [&](const nlmsghdr* m) {
    if (m->nlmsg_type != RTM_NEWADDR || m->nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) return;
    const ifaddrmsg* a = static_cast<const ifaddrmsg*>(NLMSG_DATA(m));
    if (int(a->ifa_index) != ifindex) return;
    if (a->ifa_family != AF_INET && a->ifa_family != AF_INET6) return;
    AddressInfo info;
    info.cidr.family = a->ifa_family == AF_INET ? 4 : 6;
    info.cidr.prefix = a->ifa_prefixlen;
    info.flags = a->ifa_flags;
    size_t alen = info.cidr.family == 4 ? 4 : 16;
    bool have_local = false;
    int arem = int(m->nlmsg_len - NLMSG_LENGTH(sizeof(ifaddrmsg)));
    for (const rtattr* at = IFA_RTA(a); RTA_OK(at, arem); at = RTA_NEXT(at, arem)) {
      if ((at->rta_type == IFA_LOCAL || (at->rta_type == IFA_ADDRESS && !have_local)) &&
          RTA_PAYLOAD(at) >= alen) {
        memcpy(info.cidr.addr, RTA_DATA(at), alen);
        if (at->rta_type == IFA_LOCAL) have_local = true;
      } else if (at->rta_type == IFA_FLAGS) {
        attr_u32(at, &info.flags);
      }
    }
    out->push_back(info);
  });
}

}  // namespace tunio
