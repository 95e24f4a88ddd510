// The per-path tables of the UDP core (GsoBackoff's suspended paths, PathMtuTable's MTUs) hold
// at most a fixed number of entries, so a flood of peers cannot grow them: a new entry pushes
// out the oldest one. What "oldest" means is each table's own (suspended longest ago, reported
// longest ago).
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace tunio {

// Erases the entry with the smallest `age(entry)` (the first of equals) when `entries` holds
// `max` or more, so that one more fits.
template <typename Entry, typename Age>
void make_room(std::vector<Entry>& entries, size_t max, Age age) {
  if (entries.size() < max) return;
  entries.erase(std::min_element(entries.begin(), entries.end(),
                                 [&](const Entry& a, const Entry& b) { return age(a) < age(b); }));
}

}  // namespace tunio
