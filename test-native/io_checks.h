// The check that a batch went out whole, for TUN writes and UDP sends alike (both report an
// IoResult, io_result.h): status kOk, all `n` packets sent, none dropped, and the caller's vector
// emptied (its packets moved to the kernel or a send queue). A macro so that a failure names the
// test's line.
#pragma once

#include <doctest.h>

#include "io_result.h"

#define CHECK_ALL_SENT(r, pkts, n)                  \
  do {                                              \
    CHECK((r).status == ::tunio::IoStatus::kOk);    \
    CHECK((r).sent() == (n));                       \
    CHECK((r).dropped == 0);                        \
    CHECK((pkts).empty());                          \
  } while (0)
