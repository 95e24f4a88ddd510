// The events a device or socket records for JavaScript between two takes (takeEvents() of
// NativeTun and NativeUdp), oldest first. Bounded: when JS does not take them the log keeps
// the newest kMaxEvents; the caller's merge rule folds a repeat into the last event (one
// 'drop' event with the sum instead of one per write).
#pragma once

#include <cstddef>
#include <vector>

namespace tunio {

template <class Event>
class EventLog {
 public:
  static constexpr size_t kMaxEvents = 64;

  // merge(last, e, full) folds `e` into `last` and returns true, or returns false to append
  // `e` (the oldest event goes first when the log is full).
  template <class Merge>
  void record(const Event& e, Merge merge) {
    if (!events_.empty() && merge(events_.back(), e, events_.size() >= kMaxEvents)) return;
    if (events_.size() >= kMaxEvents) events_.erase(events_.begin());
    events_.push_back(e);
  }

  bool empty() const { return events_.empty(); }
  size_t size() const { return events_.size(); }
  const Event& operator[](size_t i) const { return events_[i]; }
  void clear() { events_.clear(); }

 private:
  std::vector<Event> events_;
};

}  // namespace tunio
