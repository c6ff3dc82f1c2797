#include "members/members_json.h"

namespace pgdc::members {

nlohmann::json members_json(const MembersView& view, const std::string& self,
                            const std::string& leader) {
  nlohmann::json list = nlohmann::json::array();
  for (const Member& m : view.members) {
    list.push_back({{"identity", m.identity},
                    {"role", !leader.empty() && m.identity == leader ? "leader" : "follower"},
                    {"address", m.address},
                    {"version", m.version},
                    {"backend", m.backend},
                    {"eligible", m.eligible},
                    {"stale", m.stale},
                    {"heartbeat_age_ms", m.heartbeat_age_ms},
                    {"self", m.identity == self}});
  }
  return {{"self", self},
          {"leader", leader},
          {"members_supported", view.members_supported},
          {"switchover_supported", view.switchover_supported},
          {"members", std::move(list)}};
}

}  // namespace pgdc::members
