// Test helper shared by the native tests that need a network namespace: the current thread
// runs inside a fresh `ip netns` namespace for the lifetime of the object; on destruction it
// setns() back and `ip netns del`, even when a REQUIRE threw. Namespaces are per thread, so
// nothing else in the process moves.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

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

