#include <doctest.h>

#include <string.h>

#include <cerrno>
#include <string>

#include "io_result.h"
#include "sys_error.h"

using tunio::errno_name;

TEST_CASE("errno names: the ones tunio's calls report") {
  CHECK(std::string(errno_name(EBADFD)) == "EBADFD");  // a TUN deleted under an open fd
  CHECK(std::string(errno_name(EAGAIN)) == "EAGAIN");
  CHECK(std::string(errno_name(EDESTADDRREQ)) == "EDESTADDRREQ");
  CHECK(std::string(errno_name(0)) == "OK");
  CHECK(std::string(errno_name(200)) == "E200");
  CHECK(std::string(errno_name(-1)) == "EUNKNOWN");
  CHECK(std::string(errno_name(4096)) == "EUNKNOWN");
}

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
TEST_CASE("errno names: every errno glibc names has the same name here") {
  int named = 0;
  for (int e = 1; e < 256; e++) {
    const char* glibc = strerrorname_np(e);
    if (glibc == nullptr) {
      CHECK(std::string(errno_name(e)) == "E" + std::to_string(e));
      continue;
    }
    INFO("errno ", e, ": glibc ", glibc);
    CHECK(std::string(errno_name(e)) == glibc);
    named++;
  }
  CHECK(named >= 131);  // 1..133 less the unassigned 41 and 58
}
#endif

TEST_CASE("io result: the status follows the errno that stopped the call") {
  using tunio::IoResult;
  using tunio::IoStatus;
  CHECK(IoResult::status_of(EAGAIN) == IoStatus::kWouldBlock);
  CHECK(IoResult::status_of(EWOULDBLOCK) == IoStatus::kWouldBlock);
  CHECK(IoResult::status_of(ENOBUFS) == IoStatus::kNoBuffers);
  CHECK(IoResult::status_of(EBADF) == IoStatus::kError);
  const IoResult blocked = IoResult::stopped(ENOBUFS, "writev", 3);
  CHECK(blocked.blocked());
  CHECK(blocked.done == 3);
  CHECK(blocked.error.err == ENOBUFS);
  CHECK(std::string(blocked.error.call) == "writev");
  const IoResult failed = IoResult::stopped(EBADFD, "readv");
  CHECK_FALSE(failed.blocked());
  CHECK(failed.status == IoStatus::kError);
  IoResult ok;
  CHECK(ok.status == IoStatus::kOk);
  CHECK(ok.error.ok());
  ok.done = 5;
  ok.dropped = 2;
  CHECK(ok.sent() == 3);
}
