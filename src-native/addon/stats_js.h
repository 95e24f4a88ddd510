// Stats objects for JavaScript built from a core X-macro field list (core/tun_stats.h,
// TUNIO_PEER_ERROR_COUNTS in core/udp_socket.h): each counter goes into the object of its
// group, and a group's nested object stands where its first counter is in the list, so the
// list's order is the order JS sees.
#pragma once

#include <napi.h>

#include <cstring>
#include <vector>

#include "js_checked.h"

namespace tunio {

class GroupedStats {
 public:
  explicit GroupedStats(napi_env env) : env_(env), top_(env) { groups_.reserve(4); }

  // The object of `group`: "top" is the stats object itself; any other name is a nested
  // object of that name, created (and placed) the first time it is asked for.
  JsObject& in(const char* name) {
    if (std::strcmp(name, "top") == 0) return top_;
    for (Group& g : groups_) {
      if (std::strcmp(g.name, name) == 0) return g.object;
    }
    groups_.push_back({name, JsObject(env_)});
    top_.Value(name, groups_.back().object);
    return groups_.back().object;
  }

  // The stats object; failed (null) when any group failed. Setting a key that exists keeps
  // its place, so the nested objects stay where they were placed.
  JsObject done() {
    for (const Group& g : groups_) top_.Value(g.name, g.object);
    return top_;
  }

 private:
  struct Group {
    const char* name;
    JsObject object;
  };
  napi_env env_;
  JsObject top_;
  std::vector<Group> groups_;
};

// The X and NAMED arguments of a field list (see core/tun_stats.h) that fill a GroupedStats
// `out` from a struct `s`.
#define TUNIO_STATS_TO_JS(member, group, js) out.in(#group).Count(js, s.member);
#define TUNIO_NAMED_STATS_TO_JS(member, group, js, count, name_of, Enum)                            \
  {                                                                                                 \
    JsObject named(env);                                                                            \
    for (size_t i = 0; i < count; i++) named.Count(name_of(static_cast<Enum>(i)), s.member[i]); \
    out.in(#group).Value(js, named);                                                             \
  }

}  // namespace tunio
