// What the benchmarks' C references (tunnel_reference.c, udp_reference.c) share: the system
// headers both use (with _GNU_SOURCE for sendmmsg/recvmmsg, so include this first), the UDP
// socket options that older libc headers lack (values from linux/udp.h), and the recvmmsg setup.
#ifndef TUNIO_BENCH_REFERENCE_COMMON_H
#define TUNIO_BENCH_REFERENCE_COMMON_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

// Points `count` recvmmsg headers at consecutive `slot`-byte buffers of `bufs` and at their
// control buffers (consecutive `ctrl_len`-byte ones of `ctrls`), as every recvmmsg call needs
// them afresh (the kernel overwrites the lengths).
static inline void prepare_recvmmsg(struct mmsghdr* msgs, struct iovec* iovs, int count, void* bufs, size_t slot,
                                    char* ctrls, size_t ctrl_len) {
  for (int i = 0; i < count; i++) {
    iovs[i].iov_base = (char*)bufs + (size_t)i * slot;
    iovs[i].iov_len = slot;
    memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_control = ctrls + (size_t)i * ctrl_len;
    msgs[i].msg_hdr.msg_controllen = ctrl_len;
  }
}

#endif
