#include "members/target_choice.h"

#include <algorithm>
#include <cstdint>

namespace pgdc::members {
namespace {

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// Unknown heartbeat ages (-1) sort after every known one.
std::int64_t age_key(const Member& m) {
  return m.heartbeat_age_ms < 0 ? INT64_MAX : m.heartbeat_age_ms;
}

// True when a is a better automatic target than b.
bool better(const Member& a, const Member& b) {
  if (const int v = compare_versions(a.version, b.version); v != 0) return v > 0;
  if (age_key(a) != age_key(b)) return age_key(a) < age_key(b);
  return a.identity < b.identity;
}

}  // namespace

std::optional<TargetRefusal> check_target(const std::vector<Member>& members,
                                          const std::string& self, const std::string& to) {
  if (to == self) {
    return TargetRefusal{false, quoted(to) + " is this replica, which already leads"};
  }
  const auto it = std::find_if(members.begin(), members.end(),
                               [&](const Member& m) { return m.identity == to; });
  if (it == members.end()) return TargetRefusal{true, quoted(to) + " is not a member"};
  if (!it->eligible) {
    return TargetRefusal{false, quoted(to) + " is not eligible to lead (shutting down or fenced)"};
  }
  if (it->stale) {
    return TargetRefusal{false, quoted(to) +
                                    " is stale: its heartbeat is older than the "
                                    "backend's time to live"};
  }
  return std::nullopt;
}

std::optional<Member> choose_target(const std::vector<Member>& members, const std::string& self) {
  std::optional<Member> best;
  for (const Member& m : members) {
    if (m.identity == self || !m.eligible || m.stale) continue;
    if (!best || better(m, *best)) best = m;
  }
  return best;
}

}  // namespace pgdc::members
