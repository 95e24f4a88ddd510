#include "gso_backoff.h"

#include "bounded_table.h"
#include "socket_address.h"

#include <time.h>

#include <algorithm>

namespace tunio {

uint64_t monotonic_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

GsoBackoff::Path* GsoBackoff::find(const IpEndpoint& dest) {
  for (Path& p : paths_) {
    if (same_address(p.dest, dest)) return &p;
  }
  return nullptr;
}

const GsoBackoff::Path* GsoBackoff::find(const IpEndpoint& dest) const {
  for (const Path& p : paths_) {
    if (same_address(p.dest, dest)) return &p;
  }
  return nullptr;
}

bool GsoBackoff::allowed(const IpEndpoint& dest, uint64_t now_ms) const {
  if (paths_.empty()) return true;
  const Path* p = find(dest);
  return !p || now_ms >= p->until_ms;
}

size_t GsoBackoff::suspended(uint64_t now_ms) const {
  size_t n = 0;
  for (const Path& p : paths_) n += now_ms < p.until_ms ? 1 : 0;
  return n;
}

void GsoBackoff::on_refused(const IpEndpoint& dest, int err, uint64_t now_ms) {
  const GsoFault fault = fault_of(err);
  const uint32_t first = fault == GsoFault::kNoOffload ? kNoOffloadFirstMs : kPathMtuFirstMs;
  const uint32_t max = fault == GsoFault::kNoOffload ? kNoOffloadMaxMs : kPathMtuMaxMs;
  Path* p = find(dest);
  if (p) {
    // A probe refused again (or a send planned before the suspension): back off further.
    if (now_ms >= p->until_ms) stats_.probe_failures++;
    p->backoff_ms = p->fault == fault ? std::min(max, p->backoff_ms * 2) : first;
  } else {
    // Full: forget the path suspended longest ago (at worst it is probed early).
    make_room(paths_, kMaxPaths, [](const Path& path) { return path.until_ms; });
    paths_.push_back(Path{});
    p = &paths_.back();
    p->dest = path_of(dest);
    p->backoff_ms = first;
    stats_.suspensions++;
    push_event(GsoPathEvent{p->dest, false, err, fault, first});
  }
  p->err = err;
  p->fault = fault;
  p->until_ms = now_ms + p->backoff_ms;
}

void GsoBackoff::on_sent(const IpEndpoint& dest) {
  if (paths_.empty()) return;
  for (auto it = paths_.begin(); it != paths_.end(); ++it) {
    if (!same_address(it->dest, dest)) continue;
    stats_.restores++;
    push_event(GsoPathEvent{it->dest, true, it->err, it->fault, 0});
    paths_.erase(it);
    return;
  }
}

void GsoBackoff::push_event(const GsoPathEvent& e) {
  if (events_.size() >= kMaxEvents) events_.erase(events_.begin());  // nobody takes them: keep the newest
  events_.push_back(e);
}

std::vector<GsoPathEvent> GsoBackoff::take_events() {
  std::vector<GsoPathEvent> out;
  out.swap(events_);
  return out;
}

void GsoSegmentLimit::reset(uint16_t probed) {
  *this = GsoSegmentLimit();
  probed_ = current_ = probed;
}

uint16_t GsoSegmentLimit::limit(uint64_t now_ms) {
  if (state_ == State::kLowered && now_ms >= probe_at_ms_) {
    state_ = State::kProbing;
    current_ = probed_;
    stats_.probes++;
  }
  return current_;
}

bool GsoSegmentLimit::on_einval(uint32_t segments) {
  if (segments <= kLegacyMaxGsoSegments || current_ <= kLegacyMaxGsoSegments) return false;
  if (state_ != State::kFull && state_ != State::kProbing) return false;
  before_trial_ = state_;
  state_ = State::kTrial;
  current_ = kLegacyMaxGsoSegments;
  return true;
}

void GsoSegmentLimit::on_other_refusal() {
  if (state_ != State::kTrial) return;
  state_ = before_trial_;
  current_ = probed_;
}

void GsoSegmentLimit::on_sent(uint32_t segments, uint64_t now_ms) {
  if (state_ == State::kTrial && segments <= kLegacyMaxGsoSegments) {
    // A run within the lower limit went out where a longer one did not: that was the limit.
    if (before_trial_ == State::kProbing) {
      stats_.probe_failures++;
      backoff_ms_ = std::min(kProbeMaxMs, backoff_ms_ * 2);
    } else {
      stats_.lowered++;
      backoff_ms_ = kProbeFirstMs;
    }
    state_ = State::kLowered;
    probe_at_ms_ = now_ms + backoff_ms_;
  } else if (state_ == State::kProbing && segments > kLegacyMaxGsoSegments) {
    // A probe's long run went out: the kernel takes the full limit (again).
    state_ = State::kFull;
    backoff_ms_ = 0;
    stats_.restores++;
  }
}

}  // namespace tunio
