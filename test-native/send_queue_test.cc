// The bounded write/send queue (send_queue.h) and the event log (event_log.h) the TUN and UDP
// wraps share: what is accepted, when a write flushes, when 'congestion' and 'drain' are due.
#include <doctest.h>

#include <cstring>
#include <vector>

#include "event_log.h"
#include "packet.h"
#include "send_queue.h"

using namespace tunio;

namespace {

void append(SendQueue& q, size_t n) {
  for (size_t i = 0; i < n; i++) q.packets().emplace_back();
}

struct Ev {
  const char* type;
  unsigned count;
};

// The TUN rule: only a drop repeats into the last event.
bool merge_drops(Ev& last, const Ev& next, bool) {
  if (std::strcmp(last.type, "drop") != 0 || std::strcmp(next.type, "drop") != 0) return false;
  last.count += next.count;
  return true;
}

}  // namespace

TEST_CASE("send queue: everything within the limit is accepted, the newest beyond it dropped") {
  SendQueue q(5);
  append(q, 3);
  SendQueue::Admitted a = q.admit(0);
  CHECK(a.accepted == 3);
  CHECK(a.dropped == 0);
  append(q, 4);  // 7 held, limit 5: the two newest go
  a = q.admit(3);
  CHECK(a.accepted == 2);
  CHECK(a.dropped == 2);
  CHECK(q.packets().size() == 5);
  append(q, 2);  // already full: none of these stays
  a = q.admit(5);
  CHECK(a.accepted == 0);
  CHECK(a.dropped == 2);
  CHECK(q.waiting() == 5);
}

TEST_CASE("send queue: packets a write plan already wrote do not count against the limit") {
  SendQueue q(4);
  append(q, 4);
  CHECK(q.admit(0).accepted == 4);
  // Three of the four were written by a plan interrupted by EAGAIN (not erased yet): one waits.
  append(q, 4);
  const SendQueue::Admitted a = q.admit(4, 3);
  CHECK(a.accepted == 3);
  CHECK(a.dropped == 1);
  CHECK(q.waiting(3) == 4);
}

TEST_CASE("send queue: the default limit is the documented 4096") {
  SendQueue q;
  CHECK(q.limit() == 4096);
  append(q, 4097);
  CHECK(q.admit(0).dropped == 1);
}

TEST_CASE("send queue: congestion is reported once, drain once after it, never without it") {
  SendQueue q(16);
  CHECK_FALSE(q.drained());  // empty but never congested: no 'drain'
  CHECK_FALSE(q.congest());  // the fd refused but nothing is left waiting: no 'congestion'
  append(q, 2);
  CHECK(q.flush_now(2));
  CHECK(q.congest());
  CHECK(q.congested());
  CHECK_FALSE(q.congest());  // still congested: reported once
  CHECK_FALSE(q.drained());  // packets still wait
  q.packets().clear();       // the fd took them (POLLOUT flush)
  CHECK(q.drained());
  CHECK_FALSE(q.congested());
  CHECK_FALSE(q.drained());
}

TEST_CASE("send queue: while congested a write waits behind the queue, keeping order") {
  SendQueue q(16);
  append(q, 1);
  q.admit(0);
  CHECK(q.flush_now(1));  // not congested: flush at once
  CHECK(q.congest());
  append(q, 2);
  CHECK_FALSE(q.flush_now(q.admit(1).accepted));  // POLLOUT will flush all three in order
  // Congested but emptied by someone else's flush (all the packets held are new): flush.
  q.packets().clear();
  append(q, 2);
  CHECK(q.flush_now(q.admit(0).accepted));
}

TEST_CASE("send queue: discard drops what waits and reports how many") {
  SendQueue q(16);
  append(q, 5);
  q.admit(0);
  CHECK(q.congest());
  CHECK(q.discard(2) == 3);
  CHECK(q.empty());
  CHECK(q.drained());  // the queue emptied: the congestion ends with a 'drain'
}

TEST_CASE("send queue: append moves a whole batch to the end and says where it starts") {
  SendQueue q(10);
  std::vector<Packet> batch(3);
  for (size_t i = 0; i < batch.size(); i++) batch[i].length = static_cast<uint32_t>(i + 1);
  const Packet* storage = batch.data();
  CHECK(q.append(batch) == 0);
  CHECK(batch.empty());
  CHECK(q.packets().data() == storage);  // an empty queue took the batch's vector, no copy
  batch.resize(2);
  batch[0].length = 4;
  batch[1].length = 5;
  CHECK(q.append(batch) == 3);
  CHECK(batch.empty());
  REQUIRE(q.packets().size() == 5);
  for (size_t i = 0; i < 5; i++) CHECK(q.packets()[i].length == i + 1);  // in order, behind the first
  CHECK(q.admit(3).accepted == 2);
}

TEST_CASE("event log: repeats merge by the caller's rule, the newest kMaxEvents are kept") {
  EventLog<Ev> log;
  log.record({"drop", 2}, merge_drops);
  log.record({"drop", 3}, merge_drops);
  REQUIRE(log.size() == 1);
  CHECK(log[0].count == 5);
  log.record({"congestion", 1}, merge_drops);
  log.record({"drop", 1}, merge_drops);
  CHECK(log.size() == 3);
  log.clear();
  CHECK(log.empty());
  for (unsigned i = 0; i < EventLog<Ev>::kMaxEvents + 10; i++) log.record({i % 2 ? "drain" : "congestion", i}, merge_drops);
  REQUIRE(log.size() == EventLog<Ev>::kMaxEvents);
  CHECK(log[0].count == 10);  // the ten oldest went
  CHECK(log[log.size() - 1].count == EventLog<Ev>::kMaxEvents + 9);
}

TEST_CASE("event log: a full log passes `full` to the merge rule (UDP merges any repeat then)") {
  EventLog<Ev> log;
  auto merge_when_full = [](Ev& last, const Ev& next, bool full) {
    if (!full || std::strcmp(last.type, next.type) != 0) return false;
    last.count += next.count;
    return true;
  };
  for (unsigned i = 0; i < EventLog<Ev>::kMaxEvents; i++) log.record({"congestion", 1}, merge_when_full);
  CHECK(log.size() == EventLog<Ev>::kMaxEvents);
  log.record({"congestion", 1}, merge_when_full);
  CHECK(log.size() == EventLog<Ev>::kMaxEvents);
  CHECK(log[log.size() - 1].count == 2);
}
