// Building and walking rtnetlink messages: shared by the link code (netlink.cc), routes and
// rules (route_rule.cc) and the link monitor (link_monitor.cc). Internal to src-native/core.
// No Node headers, no exceptions.
#pragma once

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace tunio {
namespace nl {

// A request buffer: nlmsghdr + family header + attributes. 512 bytes is more than any of our
// requests need (the largest, a route with destination, gateway and source: about 120 bytes).
struct Request {
  alignas(NLMSG_ALIGNTO) uint8_t buf[512];
  size_t len = 0;

  nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf); }

  Request(uint16_t type, uint16_t flags, const void* body, size_t body_len) {
    memset(buf, 0, sizeof buf);
    len = NLMSG_LENGTH(body_len);
    hdr()->nlmsg_type = type;
    hdr()->nlmsg_flags = flags;
    if (body_len) memcpy(NLMSG_DATA(hdr()), body, body_len);
    len = NLMSG_ALIGN(len);
    hdr()->nlmsg_len = uint32_t(len);
  }

  void attr(uint16_t type, const void* data, size_t data_len) {
    size_t need = RTA_SPACE(data_len);
    // Cannot happen with the attributes we send (names and addresses are bounded), but if it
    // ever did, a zero nlmsg_len makes Rtnl refuse the request instead of sending a
    // truncated one.
    if (len + need > sizeof buf) { hdr()->nlmsg_len = 0; len = sizeof buf; return; }
    rtattr* rta = reinterpret_cast<rtattr*>(buf + len);
    rta->rta_type = type;
    rta->rta_len = uint16_t(RTA_LENGTH(data_len));
    memcpy(RTA_DATA(rta), data, data_len);
    len += need;
    if (hdr()->nlmsg_len != 0) hdr()->nlmsg_len = uint32_t(len);
  }
  void u32(uint16_t type, uint32_t v) { attr(type, &v, sizeof v); }
};

// Walks the messages of one datagram. Own code instead of NLMSG_OK/NLMSG_NEXT: those mix
// signed and unsigned lengths, and with an unsigned length NLMSG_NEXT can wrap around.
class MsgIter {
 public:
  MsgIter(const uint8_t* p, size_t len) : p_(p), rem_(len) {}
  const nlmsghdr* next() {
    if (rem_ < sizeof(nlmsghdr)) return nullptr;
    const nlmsghdr* m = reinterpret_cast<const nlmsghdr*>(p_);
    if (m->nlmsg_len < sizeof(nlmsghdr) || m->nlmsg_len > rem_) return nullptr;
    size_t step = std::min(size_t(NLMSG_ALIGN(m->nlmsg_len)), rem_);
    p_ += step;
    rem_ -= step;
    return m;
  }
 private:
  const uint8_t* p_;
  size_t rem_;
};

// The header of `msg` when it is one whole message of `type` whose family header (ifinfomsg,
// rtmsg, fib_rule_hdr, ...) is `body_len` bytes; null when it is another message or cut short.
inline const nlmsghdr* message_of_type(const uint8_t* msg, size_t len, uint16_t type, size_t body_len) {
  if (len < NLMSG_LENGTH(body_len)) return nullptr;
  const nlmsghdr* h = reinterpret_cast<const nlmsghdr*>(msg);
  if (h->nlmsg_type != type || h->nlmsg_len > len || h->nlmsg_len < NLMSG_LENGTH(body_len)) return nullptr;
  return h;
}

template <typename T>
bool attr_u32(const rtattr* rta, T* out) {
  if (RTA_PAYLOAD(rta) < sizeof(uint32_t)) return false;
  uint32_t v;
  memcpy(&v, RTA_DATA(rta), sizeof v);
  *out = T(v);
  return true;
}

inline uint8_t attr_u8(const rtattr* rta) {
  return RTA_PAYLOAD(rta) >= 1 ? *static_cast<const uint8_t*>(RTA_DATA(rta)) : 0;
}

}  // namespace nl
}  // namespace tunio
