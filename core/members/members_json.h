// The body of GET /api/web/members (docs/api.md).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "members/member.h"

namespace pgdc::members {

// One answer of MemberService::members().
struct MembersView {
  bool ok = true;     // false: the backend did not answer (error says why)
  std::string error;  // one line
  bool members_supported = false;
  bool switchover_supported = false;
  std::vector<Member> members;  // sorted by identity; this replica included
};

// {"self","leader","members_supported","switchover_supported","members":[..]};
// role "leader" for the member named `leader` (the leadership snapshot's
// holder, "" when none is known), else "follower".
nlohmann::json members_json(const MembersView& view, const std::string& self,
                            const std::string& leader);

}  // namespace pgdc::members
