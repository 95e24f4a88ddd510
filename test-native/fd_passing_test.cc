// Opening a TUN from an fd someone else bound (TunDevice::adopt) and handing fds over a Unix
// socket (fd_passing.h). The adopt tests run as root inside a throwaway network namespace.
#include <doctest.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "fd_passing.h"
#include "netns.h"
#include "tun_device.h"

using tunio::SysError;
using tunio::OffloadMode;
using tunio::TunDevice;

namespace {

// /dev/net/tun bound to `name` with `flags`, as a helper process would do it; -1 on failure.
int bound_tun(const char* name, short flags) {
  int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return -1;
  ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  ifr.ifr_flags = flags;
  if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string temp_socket_path(const char* tag) {
  return "/tmp/tunio-fdp-" + std::to_string(getpid()) + "-" + tag;
}

}  // namespace

TEST_CASE("tun adopt: a bound fd with IFF_VNET_HDR gets the offloads; flags and name come from TUNGETIFF") {
  TestNetns ns("a");
  REQUIRE_MESSAGE(ns.ok(), "cannot create a test network namespace (need root)");
  int fd = bound_tun("tunio-ad0", IFF_TUN | IFF_NO_PI | IFF_VNET_HDR);
  REQUIRE(fd >= 0);
  TunDevice dev;
  SysError e = TunDevice::adopt(fd, OffloadMode::kAuto, &dev);
  REQUIRE_MESSAGE(e.ok(), e.message());
  CHECK(dev.name() == "tunio-ad0");
  CHECK(dev.ifindex() == int(if_nametoindex("tunio-ad0")));
  CHECK(dev.queue_fd(0) == fd);
  CHECK(dev.mode() == tunio::TunMode::kTun);
  CHECK(dev.offload().vnet_hdr);
  CHECK(dev.offload().tso4);
  CHECK(dev.offload().tso6);
  CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
  CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  dev.close();  // owns the fd now
  CHECK(::fcntl(fd, F_GETFD) == -1);
  CHECK(if_nametoindex("tunio-ad0") == 0);  // its only fd closed: the device went
}

TEST_CASE("tun adopt: without IFF_VNET_HDR auto runs without offloads and 'on' is refused") {
  TestNetns ns("b");
  REQUIRE_MESSAGE(ns.ok(), "cannot create a test network namespace (need root)");
  int fd = bound_tun("tunio-ad1", IFF_TUN | IFF_NO_PI);
  REQUIRE(fd >= 0);
  TunDevice dev;
  SysError e = TunDevice::adopt(fd, OffloadMode::kOn, &dev);
  CHECK(e.err == EINVAL);
  CHECK(e.detail.find("IFF_VNET_HDR") != std::string::npos);
  CHECK(::fcntl(fd, F_GETFD) != -1);  // a failed adopt leaves the fd to the caller
  e = TunDevice::adopt(fd, OffloadMode::kAuto, &dev);
  REQUIRE_MESSAGE(e.ok(), e.message());
  CHECK_FALSE(dev.offload().vnet_hdr);
  CHECK_FALSE(dev.offload().tso4);
}

TEST_CASE("tun adopt: refuses fds that are not a bound tun, and IFF_NO_PI missing") {
  TestNetns ns("c");
  REQUIRE_MESSAGE(ns.ok(), "cannot create a test network namespace (need root)");
  TunDevice dev;
  int unbound = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  REQUIRE(unbound >= 0);
  SysError e = TunDevice::adopt(unbound, OffloadMode::kAuto, &dev);
  CHECK(e.err == EBADFD);
  CHECK(e.detail.find("not bound") != std::string::npos);
  ::close(unbound);
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  e = TunDevice::adopt(sock, OffloadMode::kAuto, &dev);
  CHECK(std::string(e.call) == "ioctl(TUNGETIFF)");
  CHECK(e.detail.find("not a TUN/TAP device fd") != std::string::npos);
  ::close(sock);
  int pi = bound_tun("tunio-ad2", IFF_TUN);
  REQUIRE(pi >= 0);
  e = TunDevice::adopt(pi, OffloadMode::kAuto, &dev);
  CHECK(e.err == EINVAL);
  CHECK(e.detail.find("IFF_NO_PI") != std::string::npos);
  ::close(pi);
  CHECK(TunDevice::adopt(-1, OffloadMode::kAuto, &dev).err == EBADF);
}

TEST_CASE("fd passing: one fd crosses a Unix socket, with the sender's credentials") {
  const std::string path = temp_socket_path("x");
  ::unlink(path.c_str());
  tunio::UniqueFd rx;
  SysError e = tunio::open_fd_receiver(path, &rx);
  REQUIRE_MESSAGE(e.ok(), e.message());
  tunio::UniqueFd again;
  CHECK(tunio::open_fd_receiver(path, &again).err == EADDRINUSE);  // never someone else's path

  int fd = -1;
  tunio::PeerCredentials cred;
  bool discarded = false;
  REQUIRE(tunio::receive_fd(rx.get(), &fd, &cred, &discarded).ok());
  CHECK(fd == -1);  // nothing queued yet

  // A stray datagram without an fd is discarded, not mistaken for a hand-over.
  int stray = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path.data(), path.size());
  REQUIRE(::sendto(stray, "tunio-fd", 9, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 9);
  ::close(stray);
  REQUIRE(tunio::receive_fd(rx.get(), &fd, &cred, &discarded).ok());
  CHECK(discarded);
  CHECK(fd == -1);

  int pipefd[2];
  REQUIRE(::pipe2(pipefd, O_CLOEXEC) == 0);
  e = tunio::send_fd(path, pipefd[1]);
  REQUIRE_MESSAGE(e.ok(), e.message());
  REQUIRE(tunio::receive_fd(rx.get(), &fd, &cred, &discarded).ok());
  CHECK_FALSE(discarded);
  REQUIRE(fd >= 0);
  CHECK(cred.pid == getpid());
  CHECK(cred.uid == int64_t(getuid()));
  struct stat a, b;
  REQUIRE(::fstat(fd, &a) == 0);
  REQUIRE(::fstat(pipefd[1], &b) == 0);
  CHECK(a.st_ino == b.st_ino);  // the same open file
  CHECK(fd != pipefd[1]);
  CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  REQUIRE(::write(fd, "hi", 2) == 2);
  char buf[4] = {};
  REQUIRE(::read(pipefd[0], buf, sizeof buf) == 2);
  CHECK(std::string(buf) == "hi");
  ::close(fd);
  ::close(pipefd[0]);
  ::close(pipefd[1]);
  rx.reset();
  ::unlink(path.c_str());

  e = tunio::send_fd(path, 0);  // nobody bound there any more
  CHECK((e.err == ENOENT || e.err == ECONNREFUSED));
  CHECK(tunio::send_fd(std::string(200, 'x'), 0).err == ENAMETOOLONG);
}
