// Test helpers shared by the native tests that need a network namespace. TestNetns: the
// current thread runs inside a fresh `ip netns` namespace for the lifetime of the object; on
// destruction it setns() back and `ip netns del`, even when a REQUIRE threw. Namespaces are
// per thread, so nothing else in the process moves. NetnsTun: such a namespace with a TUN
// device in it, where the kernel tests start. run_command: what `ip` prints, to check the
// kernel's view independently of tunio's netlink code.
#pragma once

#include <doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tun_device.h"

class TestNetns {
 public:
  explicit TestNetns(const char* tag = "n") {
    static int counter = 0;
    name_ = "tunio-nt-" + std::to_string(getpid()) + "-" + tag + std::to_string(counter++);
    orig_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (orig_ < 0) return;
    if (std::system(("ip netns add " + name_).c_str()) != 0) return;
    created_ = true;
    int fd = ::open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    entered_ = ::setns(fd, CLONE_NEWNET) == 0;
    ::close(fd);
  }
  ~TestNetns() {
    if (entered_ && ::setns(orig_, CLONE_NEWNET) != 0) {
      // Staying in the test namespace would make every later test lie; stop here.
      perror("setns back to the original namespace");
      std::abort();
    }
    if (orig_ >= 0) ::close(orig_);
    if (created_) (void)std::system(("ip netns del " + name_).c_str());
  }
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;
  bool ok() const { return entered_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  int orig_ = -1;
  bool created_ = false;
  bool entered_ = false;
};


// A fresh namespace (tag: a letter or two for its name) holding a TUN device `name` opened
// with `opts` (its name is set here); REQUIREs both.
struct NetnsTun {
  TestNetns ns;
  tunio::TunDevice tun;
  NetnsTun(const char* tag, const char* name, tunio::TunOptions opts = tunio::TunOptions()) : ns(tag) {
    REQUIRE_MESSAGE(ns.ok(), "cannot create a test network namespace (need root)");
    opts.name = name;
    const tunio::SysError e = tunio::TunDevice::open(opts, &tun);
    REQUIRE_MESSAGE(e.ok(), e.message());
  }
};

// The standard output of a shell command.
inline std::string run_command(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

inline bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }
