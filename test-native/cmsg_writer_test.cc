// CmsgWriter: control messages are laid out as the kernel parses them, and one that does not
// fit is refused without writing past the buffer.
#include <doctest.h>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

#include "cmsg_writer.h"

using namespace tunio;

#ifndef SOL_UDP
#define SOL_UDP IPPROTO_UDP
#endif

TEST_CASE("cmsg writer: messages parse back with CMSG_FIRSTHDR/CMSG_NXTHDR") {
  alignas(cmsghdr) uint8_t buf[128];
  std::memset(buf, 0xAA, sizeof buf);  // garbage where padding goes: must be cleared
  CmsgWriter w(buf, sizeof buf);
  const uint16_t gso = 1400;
  in6_pktinfo pi{};
  pi.ipi6_ifindex = 7;
  pi.ipi6_addr.s6_addr[15] = 1;
  const int tclass = 2;
  REQUIRE(w.put(SOL_UDP, UDP_SEGMENT, &gso, sizeof gso));
  REQUIRE(w.put(IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi));
  REQUIRE(w.put(IPPROTO_IPV6, IPV6_TCLASS, &tclass, sizeof tclass));
  CHECK(w.size() == CMSG_SPACE(sizeof gso) + CMSG_SPACE(sizeof pi) + CMSG_SPACE(sizeof tclass));
  CHECK_FALSE(w.overflowed());
  // padding after the 2-byte UDP_SEGMENT value is zero
  for (size_t i = CMSG_LEN(sizeof gso); i < CMSG_SPACE(sizeof gso); i++) CHECK(buf[i] == 0);

  msghdr h{};
  h.msg_control = buf;
  h.msg_controllen = w.size();
  int seen = 0;
  for (cmsghdr* cm = CMSG_FIRSTHDR(&h); cm; cm = CMSG_NXTHDR(&h, cm)) {
    if (seen == 0) {
      CHECK(cm->cmsg_level == SOL_UDP);
      CHECK(cm->cmsg_type == UDP_SEGMENT);
      uint16_t v;
      std::memcpy(&v, CMSG_DATA(cm), sizeof v);
      CHECK(v == 1400);
    } else if (seen == 1) {
      CHECK(cm->cmsg_type == IPV6_PKTINFO);
      in6_pktinfo got;
      std::memcpy(&got, CMSG_DATA(cm), sizeof got);
      CHECK(got.ipi6_ifindex == 7);
      CHECK(got.ipi6_addr.s6_addr[15] == 1);
    } else {
      CHECK(cm->cmsg_type == IPV6_TCLASS);
      CHECK(cm->cmsg_len == CMSG_LEN(sizeof(int)));
    }
    seen++;
  }
  CHECK(seen == 3);
}

TEST_CASE("cmsg writer: a message that does not fit is refused, nothing written past the end") {
  // Room for exactly one int-sized message; a guard region behind it must stay untouched.
  alignas(cmsghdr) uint8_t buf[CMSG_SPACE(sizeof(int)) + 64];
  std::memset(buf, 0x5C, sizeof buf);
  const size_t cap = CMSG_SPACE(sizeof(int));
  CmsgWriter w(buf, cap);
  const int tos = 1;
  CHECK(w.put(IPPROTO_IP, IP_TOS, &tos, sizeof tos));
  CHECK(w.size() == cap);
  in_pktinfo pi{};
  CHECK_FALSE(w.put(IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi));
  CHECK(w.overflowed());
  CHECK(w.size() == cap);
  CHECK_FALSE(w.put(IPPROTO_IP, IP_TOS, &tos, sizeof tos));  // full: even a small one
  for (size_t i = cap; i < sizeof buf; i++) CHECK(buf[i] == 0x5C);

  alignas(cmsghdr) uint8_t none[8];
  CmsgWriter tiny(none, sizeof none);  // smaller than any message
  CHECK_FALSE(tiny.put(IPPROTO_IP, IP_TOS, &tos, sizeof tos));
  CHECK(tiny.size() == 0);
}
