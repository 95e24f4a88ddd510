// The data path's system calls without libc's cancellation bookkeeping. glibc's readv, writev,
// read, recvmmsg, sendmsg and sendmmsg are pthread cancellation points: in a process with more than one
// thread (Node always has several) each call first switches the thread to asynchronous
// cancellation and back afterwards (__pthread_enable_asynccancel / __pthread_disable_asynccancel,
// about 29 instructions per call under callgrind); a single-threaded program such as the C
// reference (bench/tunnel_reference.c) skips both. tunio never cancels a thread (nor does Node
// or libuv: a worker is stopped through V8, not pthread_cancel), so the data path calls the
// kernel through syscall(2), which is no cancellation point: the same call, result and errno.
#pragma once

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstddef>

namespace tunio::sys {

inline ssize_t read(int fd, void* buf, size_t n) { return ::syscall(SYS_read, fd, buf, n); }
inline ssize_t readv(int fd, const iovec* iov, int iovcnt) { return ::syscall(SYS_readv, fd, iov, iovcnt); }
inline ssize_t writev(int fd, const iovec* iov, int iovcnt) { return ::syscall(SYS_writev, fd, iov, iovcnt); }
inline ssize_t sendmsg(int fd, const msghdr* msg, int flags) { return ::syscall(SYS_sendmsg, fd, msg, flags); }
inline int recvmmsg(int fd, mmsghdr* msgs, unsigned n, int flags) {
  return static_cast<int>(::syscall(SYS_recvmmsg, fd, msgs, n, flags, nullptr));
}
inline int sendmmsg(int fd, mmsghdr* msgs, unsigned n, int flags) {
  return static_cast<int>(::syscall(SYS_sendmmsg, fd, msgs, n, flags));
}

}  // namespace tunio::sys
