#include "batch_layout.h"

#include <algorithm>
#include <cstdint>

namespace tunio {

void BatchLayout::plan(const Packet* pkts, size_t n) {
  runs_.clear();
  rooms_.assign(n, Room{});
  struct Item {
    uintptr_t slot;
    uint32_t begin;
    uint32_t end;
    size_t index;
  };
  std::vector<Item> items;
  items.reserve(n);
  for (size_t i = 0; i < n; i++) {
    const Packet& p = pkts[i];
    if (!p.valid()) continue;
    items.push_back({reinterpret_cast<uintptr_t>(p.slot.get()), p.offset - p.headroom, p.offset + p.length + p.tailroom, i});
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.slot != b.slot ? a.slot < b.slot : a.begin < b.begin;
  });
  // Merge rooms that touch within one slot; runs get provisional numbers in address order.
  std::vector<LayoutRun> merged;
  for (const Item& it : items) {
    Slot* slot = pkts[it.index].slot.get();
    if (merged.empty() || merged.back().slot != slot || it.begin > merged.back().end) {
      merged.push_back({slot, it.begin, it.end});
    } else if (it.end > merged.back().end) {
      merged.back().end = it.end;
    }
    rooms_[it.index] = Room{static_cast<int32_t>(merged.size() - 1), it.begin, it.end};
  }
  // Renumber in packet order: a read's first packets are in run 0.
  std::vector<int32_t> renumber(merged.size(), -1);
  for (size_t i = 0; i < n; i++) {
    Room& r = rooms_[i];
    if (r.run < 0) continue;
    int32_t& to = renumber[static_cast<size_t>(r.run)];
    if (to < 0) {
      to = static_cast<int32_t>(runs_.size());
      runs_.push_back(merged[static_cast<size_t>(r.run)]);
    }
    r.run = to;
  }
}

void BatchLayout::publish(const Packet* pkts, size_t n, size_t count, int32_t* table) const {
  for (size_t i = 0; i < count; i++) {
    const bool held = i < n && i < rooms_.size() && pkts[i].valid() && rooms_[i].run >= 0;
    if (!held) {
      table[kLayoutRun * count + i] = kLayoutNotHeld;
      table[kLayoutStart * count + i] = 0;
      table[kLayoutLength * count + i] = kLayoutNotHeld;
      table[kLayoutMinStart * count + i] = 0;
      table[kLayoutMaxEnd * count + i] = 0;
      continue;
    }
    const Room& r = rooms_[i];
    const LayoutRun& run = runs_[static_cast<size_t>(r.run)];
    table[kLayoutRun * count + i] = r.run;
    table[kLayoutStart * count + i] = static_cast<int32_t>(pkts[i].offset - run.begin);
    table[kLayoutLength * count + i] = static_cast<int32_t>(pkts[i].length);
    table[kLayoutMinStart * count + i] = static_cast<int32_t>(r.begin - run.begin);
    table[kLayoutMaxEnd * count + i] = static_cast<int32_t>(r.end - run.begin);
  }
}

size_t BatchLayout::check(const Packet* pkts, size_t n, size_t count, const int32_t* table) const {
  for (size_t i = 0; i < n && i < rooms_.size() && i < count; i++) {
    const Room& r = rooms_[i];
    if (!pkts[i].valid() || r.run < 0) continue;
    const LayoutRun& run = runs_[static_cast<size_t>(r.run)];
    // Bounds from the room recorded here, never from the table's own minStart/maxEnd.
    const int64_t start = table[kLayoutStart * count + i];
    const int64_t length = table[kLayoutLength * count + i];
    const int64_t lo = static_cast<int64_t>(r.begin) - run.begin;
    const int64_t hi = static_cast<int64_t>(r.end) - run.begin;
    if (length < 0 || start < lo || start + length > hi) return i;
  }
  return n;
}

void BatchLayout::apply(Packet* pkts, size_t n, size_t count, const int32_t* table) const {
  for (size_t i = 0; i < n && i < rooms_.size() && i < count; i++) {
    const Room& r = rooms_[i];
    Packet& p = pkts[i];
    if (!p.valid() || r.run < 0) continue;
    const LayoutRun& run = runs_[static_cast<size_t>(r.run)];
    const uint32_t offset = run.begin + static_cast<uint32_t>(table[kLayoutStart * count + i]);
    const uint32_t length = static_cast<uint32_t>(table[kLayoutLength * count + i]);
    p.offset = offset;
    p.length = length;
    p.headroom = offset - r.begin;
    p.tailroom = r.end - offset - length;
  }
}

}  // namespace tunio
