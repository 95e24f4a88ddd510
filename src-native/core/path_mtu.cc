#include "path_mtu.h"

#include "bounded_table.h"
#include "socket_address.h"

namespace tunio {

const char* mtu_source_name(MtuSource source) {
  switch (source) {
    case MtuSource::kIcmp: return "icmp";
    case MtuSource::kIcmp6: return "icmp6";
    case MtuSource::kRoute: return "route";
    case MtuSource::kLocal:
    default: return "local";
  }
}

bool PathMtuTable::report(const IpEndpoint& dest, uint32_t mtu, MtuSource source) {
  if (dest.empty() || mtu == 0) return false;
  reports_++;
  Entry* entry = nullptr;
  for (Entry& e : entries_) {
    if (same_host(e.addr, dest)) {
      entry = &e;
      break;
    }
  }
  if (entry && entry->mtu == mtu) return false;
  if (!entry) {
    // Full: forget the address whose MTU was reported longest ago.
    make_room(entries_, kMaxPeers, [](const Entry& e) { return e.seq; });
    entries_.push_back(Entry{});
    entry = &entries_.back();
    entry->addr = path_of(dest);
  }
  entry->mtu = mtu;
  entry->seq = ++seq_;
  if (events_.size() >= kMaxEvents) {
    events_.erase(events_.begin());
    dropped_++;
  }
  PathMtuEvent ev;
  ev.dest = entry->addr;
  ev.mtu = mtu;
  ev.source = source;
  events_.push_back(ev);
  return true;
}

uint32_t PathMtuTable::last(const IpEndpoint& dest) const {
  for (const Entry& e : entries_) {
    if (same_host(e.addr, dest)) return e.mtu;
  }
  return 0;
}

std::vector<PathMtuEvent> PathMtuTable::take_events() {
  std::vector<PathMtuEvent> out;
  out.swap(events_);
  return out;
}

}  // namespace tunio
