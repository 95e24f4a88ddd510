// Handing a file descriptor from one process to another over a Unix datagram socket with
// SCM_RIGHTS (what a privileged helper does to give an unprivileged data plane its TUN fd).
// Node cannot send or receive SCM_RIGHTS itself, hence these few calls.
//
// The receiver binds a socket at a path and waits; the sender sends one datagram carrying
// exactly one fd to that path. The receiver learns the sender's pid/uid/gid from the kernel
// (SO_PASSCRED, SCM_CREDENTIALS: not forgeable by the sender), so it can refuse strangers; who
// may send at all is decided by the permissions of the socket's directory.
//
// No Node headers, no exceptions.
#pragma once

#include <cstdint>
#include <string>

#include "sys_error.h"
#include "unique_fd.h"

namespace tunio {

struct PeerCredentials {
  int64_t pid = -1;
  int64_t uid = -1;
  int64_t gid = -1;
};

// Binds a non-blocking, close-on-exec SOCK_DGRAM Unix socket at `path` with SO_PASSCRED.
// EADDRINUSE when something exists at the path (it is never removed here: it may be someone
// else's); ENAMETOOLONG beyond sun_path.
SysError open_fd_receiver(const std::string& path, UniqueFd* out);
// Takes one datagram. `*fd` is the received descriptor (close-on-exec), or -1 when nothing was
// queued. A datagram without exactly one descriptor is discarded (any it carried closed) and
// `*discarded` is set, so the caller can keep waiting.
SysError receive_fd(int sock, int* fd, PeerCredentials* cred, bool* discarded);
// Sends `fd` to the receiver bound at `path`: it gets its own descriptor of the same open file
// (ours stays open). ECONNREFUSED / ENOENT when nobody is bound there.
SysError send_fd(const std::string& path, int fd);

}  // namespace tunio
