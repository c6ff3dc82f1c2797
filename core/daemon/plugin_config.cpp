#include "daemon/plugin_config.h"

#include <nlohmann/json.hpp>

namespace pgdc {

std::string plugin_config_json(const Config& c) {
  const LeaderConfig& l = c.leader;
  nlohmann::json options = nlohmann::json::parse(l.options_json, nullptr, false);
  if (!options.is_object()) options = nlohmann::json::object();
  const nlohmann::json j{
      {"identity", l.identity},
      {"lease_name", l.lease_name},
      {"namespace", l.lease_namespace},
      {"lease_duration_ms", l.lease_duration.count()},
      {"renew_deadline_ms", l.renew_deadline.count()},
      {"lease_interval_ms", l.lease_interval.count()},
      {"release_timeout_ms", l.release_timeout.count()},
      {"advertise_address", c.advertise_address},
      {"options", options},
  };
  return j.dump();
}

}  // namespace pgdc
