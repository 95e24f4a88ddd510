// The one place that knows what the running kernel's UDP stack can do: segmentation offload
// on send (UDP_SEGMENT, "GSO"), coalescing on receive (UDP_GRO), and how many segments one
// UDP_SEGMENT send may carry.
//
// Everything is probed by asking the kernel (getsockopt/setsockopt, or a real send on a
// throw-away loopback pair), never by parsing version strings: distributions backport, and
// a container may run on a kernel newer or older than its headers.
#pragma once

#include <cstdint>

#include "sys_error.h"

namespace tunio {

struct UdpFeatures {
  bool gso = false;               // UDP_SEGMENT usable on this socket (may be switched off later
                                  // by the EIO/EINVAL fallback, see UdpSocket::send_batch)
  bool gro = false;               // UDP_GRO enabled on this socket
  uint16_t max_gso_segments = 0;  // segments per UDP_SEGMENT send (64 or 128); 0 without gso
};

// UDP_MAX_SEGMENTS of the kernel headers (include/linux/udp.h): 64 up to Linux 6.8, 128 from
// 6.9 ("net: change maximum number of UDP segments to 128", also in stable kernels from 6.1.107).
constexpr uint16_t kLegacyMaxGsoSegments = 64;
constexpr uint16_t kMaxGsoSegmentsCap = 128;
// Largest UDP payload of one send (IPv4: 65,535 - 20 IP - 8 UDP). Also the cap on the summed
// payload of one UDP_SEGMENT send; used for IPv6 too, where the real limit is a little higher,
// so one limit is right for dual-stack sockets.
constexpr uint32_t kMaxUdpPayload = 65507;

// True when the socket accepts UDP_SEGMENT (getsockopt succeeds; Linux >= 4.18, commit
// bec1f6f69736 "udp: generate gso with UDP_SEGMENT"; older kernels answer ENOPROTOOPT from
// udp_lib_getsockopt, net/ipv4/udp.c). Without it every datagram is sent on its own.
bool udp_probe_gso(int fd);
// Turns UDP_GRO on; false (errno kept) when the kernel refuses: before Linux 5.0 (commit
// e20cf8d3f1f7 "udp: implement GRO for plain UDP sockets.") udp_lib_setsockopt answers
// ENOPROTOOPT. Without it every datagram is read as its own message: recv_batch needs no
// other path, a read without a UDP_GRO cmsg is one datagram.
bool udp_enable_gro(int fd);

// How many segments one UDP_SEGMENT send may carry on this kernel. Probed at most once per
// process by sending 65 one-byte segments on a throw-away 127.0.0.1 socket pair: kernels with
// UDP_MAX_SEGMENTS = 64 refuse that with EINVAL. The result is a kernel fact, computed once
// with thread-safe static-local initialisation and immutable afterwards, so it is safe to share
// between Node environments and worker threads. When the probe cannot run (no loopback in this
// network namespace, no GSO at all) the answer is the safe 64.
uint16_t udp_max_gso_segments();
// The probe itself, uncached (tests, diagnostics). `err` receives why it could not decide.
uint16_t udp_probe_max_gso_segments(SysError* err = nullptr);

}  // namespace tunio
