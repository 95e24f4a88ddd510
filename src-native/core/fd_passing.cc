// SCM_RIGHTS over a Unix datagram socket; see fd_passing.h.
#include "fd_passing.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>

#include "cmsg_writer.h"

namespace tunio {

namespace {

// The datagram's payload: a datagram needs at least one byte to carry control messages, and
// a fixed tag lets the receiver tell tunio's hand-over from anything else sent to the path.
constexpr char kTag[] = "tunio-fd";

SysError make_address(const std::string& path, sockaddr_un* sa, socklen_t* len, const char* call) {
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  if (path.empty()) return SysError::make(EINVAL, call, "empty socket path");
  if (path.size() >= sizeof sa->sun_path)
    return SysError::make(ENAMETOOLONG, call,
                          "socket path '" + path + "' is longer than " + std::to_string(sizeof sa->sun_path - 1) + " bytes");
  if (path.find('\0') != std::string::npos) return SysError::make(EINVAL, call, "socket path contains NUL");
  memcpy(sa->sun_path, path.data(), path.size());
  *len = socklen_t(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return SysError::none();
}

}  // namespace

SysError open_fd_receiver(const std::string& path, UniqueFd* out) {
  sockaddr_un sa;
  socklen_t len;
  SysError e = make_address(path, &sa, &len, "bind(AF_UNIX)");
  if (!e.ok()) return e;
  UniqueFd s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s) return SysError::from_errno("socket(AF_UNIX)");
  int one = 1;
  if (::setsockopt(s.get(), SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
    return SysError::from_errno("setsockopt(SO_PASSCRED)");
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&sa), len) < 0)
    return SysError::make(errno, "bind(AF_UNIX)", path);
  *out = std::move(s);
  return SysError::none();
}

SysError receive_fd(int sock, int* fd, PeerCredentials* cred, bool* discarded) {
  *fd = -1;
  *discarded = false;
  char data[sizeof kTag];
  iovec iov{data, sizeof data};
  // Room for a few descriptors (a sender passing more than one is refused, but the kernel
  // must be able to deliver them so that we can close them) and the credentials.
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(8 * sizeof(int)) + CMSG_SPACE(sizeof(ucred))];
  msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do { n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN) return SysError::none();
    return SysError::from_errno("recvmsg(SCM_RIGHTS)");
  }
  int got[8];
  size_t count = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_RIGHTS) {
      const size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < k; i++) {
        int f;
        memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
        if (count < 8) got[count++] = f; else ::close(f);
      }
    } else if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
      ucred u;
      memcpy(&u, CMSG_DATA(c), sizeof u);
      cred->pid = u.pid;
      cred->uid = u.uid;
      cred->gid = u.gid;
    }
  }
  const bool tagged = size_t(n) == sizeof kTag && memcmp(data, kTag, sizeof kTag) == 0;
  if (count != 1 || !tagged || (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
    for (size_t i = 0; i < count; i++) ::close(got[i]);
    *discarded = true;
    return SysError::none();
  }
  *fd = got[0];
  return SysError::none();
}

SysError send_fd(const std::string& path, int fd) {
  sockaddr_un sa;
  socklen_t len;
  SysError e = make_address(path, &sa, &len, "sendmsg(SCM_RIGHTS)");
  if (!e.ok()) return e;
  if (fd < 0) return SysError::make(EBADF, "sendmsg(SCM_RIGHTS)", "fd must be a file descriptor");
  UniqueFd s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return SysError::from_errno("socket(AF_UNIX)");
  char data[sizeof kTag];
  memcpy(data, kTag, sizeof kTag);
  iovec iov{data, sizeof data};
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(int))];
  CmsgWriter rights(control, sizeof control);
  rights.put(SOL_SOCKET, SCM_RIGHTS, &fd, sizeof fd);
  msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_name = &sa;
  msg.msg_namelen = len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = rights.size();
  ssize_t n;
  do { n = ::sendmsg(s.get(), &msg, 0); } while (n < 0 && errno == EINTR);
  if (n < 0) return SysError::make(errno, "sendmsg(SCM_RIGHTS)", path);
  return SysError::none();
}

}  // namespace tunio
