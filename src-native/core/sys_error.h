// A failed system call as a value: errno plus the name of the call. The core code returns
// these instead of throwing (the addon may be built with -fno-exceptions, and an exception
// crossing a libuv callback would abort the process anyway).
//
// `call` always points at a string literal ("sendmsg", "setsockopt(UDP_GRO)"), so a SysError
// is trivially copyable and never allocates.
#pragma once

#include <cerrno>
#include <cstdio>

namespace tunio {

struct SysError {
  int err = 0;                 // positive errno; 0 = success
  const char* call = nullptr;  // failing call, a string literal; nullptr on success

  bool ok() const { return err == 0; }
  explicit operator bool() const { return err != 0; }  // true when it IS an error
  static SysError none() { return SysError{}; }
  // Captures the current errno; call right after the failing syscall.
  static SysError from_errno(const char* call) { return SysError{errno, call}; }
  static SysError make(int err, const char* call) { return SysError{err, call}; }
};

namespace detail {
// "E<n>" for every errno without a symbolic name below. Built once (thread-safe static-local
// init) and immutable afterwards, so the returned pointers stay valid for the process.
struct ErrnoFallbackNames {
  static constexpr int kCount = 256;
  char names[kCount][8];
  ErrnoFallbackNames() {
    for (int i = 0; i < kCount; i++) std::snprintf(names[i], sizeof names[i], "E%d", i);
  }
};
}  // namespace detail

// The symbolic name of an errno value ("EAGAIN", "ECONNREFUSED"), as Node reports it in
// `err.code`; "E<number>" for values without a name here, "EUNKNOWN" outside 0..255.
inline const char* errno_name(int err) {
  switch (err) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case E2BIG: return "E2BIG";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";  // == EWOULDBLOCK on Linux
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EINVAL: return "EINVAL";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case ENOTTY: return "ENOTTY";
    case ENOSPC: return "ENOSPC";
    case EPIPE: return "EPIPE";
    case ERANGE: return "ERANGE";
    case ENOSYS: return "ENOSYS";
    case ENONET: return "ENONET";
    case EPROTO: return "EPROTO";
    case ENOTSOCK: return "ENOTSOCK";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    case EMSGSIZE: return "EMSGSIZE";
    case EPROTOTYPE: return "EPROTOTYPE";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case EOPNOTSUPP: return "EOPNOTSUPP";  // == ENOTSUP on Linux
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ENETDOWN: return "ENETDOWN";
    case ENETUNREACH: return "ENETUNREACH";
    case ENETRESET: return "ENETRESET";
    case ECONNABORTED: return "ECONNABORTED";
    case ECONNRESET: return "ECONNRESET";
    case ENOBUFS: return "ENOBUFS";
    case EISCONN: return "EISCONN";
    case ENOTCONN: return "ENOTCONN";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EHOSTDOWN: return "EHOSTDOWN";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case EALREADY: return "EALREADY";
    case EINPROGRESS: return "EINPROGRESS";
    default: break;
  }
  if (err < 0 || err >= detail::ErrnoFallbackNames::kCount) return "EUNKNOWN";
  static const detail::ErrnoFallbackNames fallback;
  return fallback.names[err];
}

}  // namespace tunio
