// Steering for an SO_REUSEPORT group of tunnel sockets: a classic BPF program
// (SO_ATTACH_REUSEPORT_CBPF) that picks the socket by the flow of the IP packet a datagram
// *carries*, so every datagram of one inner TCP/UDP flow reaches the same worker.
//
// Why the inner flow: a tunnel between two endpoints is one outer UDP 4-tuple, so the kernel's
// default reuseport hash sends every datagram to the same socket and one worker receives
// everything. The program runs with the packet's data starting at the UDP payload (the kernel
// pulls the UDP header first); a payload that is not IPv4/IPv6 gets an out-of-range index, and
// the kernel falls back to its own hash. Fragments hash without ports so that every fragment
// of a datagram goes the same way.
//
// The hash is symmetric (a flow and its reply pick the same index): XOR of the addresses and
// of the two ports, folded to 16 bits, multiplied by 2^32/phi, the high 16 bits modulo the
// group size. Same as what the TUN driver does
// for its queues, the two ends of a tunnel then keep a flow on the worker with the same index.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <vector>

#include "sys_error.h"

namespace tunio {

// The program for a group of `sockets` sockets (1..65535). Exposed for the unit tests.
std::vector<sock_filter> inner_flow_steering_program(uint32_t sockets);

// Attaches the program to the reuseport group of `fd` (the group is shared: attaching on any
// member replaces the group's program). Call after bind().
SysError attach_inner_flow_steering(int fd, uint32_t sockets);

}  // namespace tunio
