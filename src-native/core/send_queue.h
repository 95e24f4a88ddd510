// The bounded queue of packets that write() (TUN, one per queue) or send() (UDP) accepted and
// the kernel has not taken yet, with its congestion state. The caller does the I/O and tells
// the queue what happened; the queue decides what is accepted, whether a write flushes now,
// and which transitions the caller reports ('congestion' once when the fd starts refusing,
// 'drain' once when the queue has emptied again). No I/O and no clock here: the native tests
// drive it directly (test-native/send_queue_test.cc).
#pragma once

#include <cstddef>
#include <iterator>
#include <vector>

#include "packet.h"

namespace tunio {

class SendQueue {
 public:
  // writeQueueLength / sendQueueLength when the options leave it out (lib/tun.ts, lib/udp.ts
  // state the same default; test/options.test.ts checks the doc comments).
  static constexpr size_t kDefaultLimit = 4096;

  explicit SendQueue(size_t limit = kDefaultLimit) : limit_(limit) {}

  void set_limit(size_t limit) { limit_ = limit; }
  size_t limit() const { return limit_; }

  // The caller appends here (then admit()) and its I/O consumes from the front.
  std::vector<Packet>& packets() { return packets_; }
  const std::vector<Packet>& packets() const { return packets_; }
  bool empty() const { return packets_.empty(); }
  bool congested() const { return congested_; }

  // Packets still waiting for the kernel: those held minus `done`, the ones at the front that
  // an interrupted write plan already wrote but has not erased yet (TunQueueIo::done_in_plan).
  size_t waiting(size_t done = 0) const { return packets_.size() - done; }

  // Moves a whole batch (a native forward's) to the end, leaving `pkts` empty; returns where
  // it starts, admit()'s `before`. An empty queue takes the batch's vector itself (the common
  // case: no copy of the packet list) and gives its own, empty, in exchange.
  size_t append(std::vector<Packet>& pkts) {
    const size_t before = packets_.size();
    if (before == 0) {
      packets_.swap(pkts);
    } else {
      packets_.insert(packets_.end(), std::make_move_iterator(pkts.begin()), std::make_move_iterator(pkts.end()));
    }
    pkts.clear();
    return before;
  }

  struct Admitted {
    size_t accepted = 0;  // of the packets appended, those that stay queued
    size_t dropped = 0;   // the newest ones beyond the limit: never accepted ('drop', queueFull)
  };
  // After the caller appended packets from index `before` on: the newest beyond the limit go.
  Admitted admit(size_t before, size_t done = 0) {
    Admitted a;
    a.accepted = packets_.size() - before;
    const size_t now = waiting(done);
    if (now > limit_) {
      a.dropped = now - limit_ < a.accepted ? now - limit_ : a.accepted;
      packets_.resize(packets_.size() - a.dropped);
      a.accepted -= a.dropped;
    }
    return a;
  }

  // Whether a write that added `accepted` packets flushes now. A queue already waiting for the
  // fd keeps order: new packets wait behind it, and the fd's POLLOUT flushes them all.
  bool flush_now(size_t accepted) const { return !congested_ || packets_.size() == accepted; }

  // The kernel refused more for now (EAGAIN/ENOBUFS) with packets left: true when that starts
  // a congestion, which the caller reports once.
  bool congest() {
    if (congested_ || packets_.empty()) return false;
    congested_ = true;
    return true;
  }
  // true when a congested queue has emptied: the caller reports 'drain' once.
  bool drained() {
    if (!congested_ || !packets_.empty()) return false;
    congested_ = false;
    return true;
  }

  // The fd failed: everything still waiting is dropped (their slots released). Returns how
  // many were waiting (`done` as for waiting()); the caller counts them and voids its plan.
  size_t discard(size_t done = 0) {
    const size_t lost = waiting(done);
    packets_.clear();
    return lost;
  }

 private:
  std::vector<Packet> packets_;
  size_t limit_;
  bool congested_ = false;
};

}  // namespace tunio
