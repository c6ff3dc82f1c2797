// Which member a switchover goes to (docs/api.md, "Switchover"):
//  - an explicit `to` must be a member, not this replica, eligible and not
//    stale; check_target says why not (unknown: 404, else 409);
//  - without `to`, choose_target takes an eligible, fresh member other than
//    this replica: the highest version first (so a rolling upgrade hands over
//    to an already updated replica), then the freshest heartbeat (unknown
//    ages last), then identity order. Pure functions, no I/O.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "members/member.h"

namespace pgdc::members {

struct TargetRefusal {
  bool unknown = false;  // `to` is not a member (404); else refused (409)
  std::string reason;
};

// nullopt when `to` may be the target.
std::optional<TargetRefusal> check_target(const std::vector<Member>& members,
                                          const std::string& self, const std::string& to);

// The automatic target, or nullopt when no member qualifies.
std::optional<Member> choose_target(const std::vector<Member>& members, const std::string& self);

}  // namespace pgdc::members
