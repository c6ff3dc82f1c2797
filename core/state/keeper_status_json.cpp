#include "state/keeper_status_json.h"

namespace pgdc::state {

nlohmann::json state_status_json(const KeeperStatus& s) {
  nlohmann::json bytes = nlohmann::json::object();
  for (const auto& [key, size] : s.bytes) bytes[key] = size;
  return {
      {"durable", s.durable},
      {"backend", s.backend},
      {"loaded_term", s.term.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.term)},
      {"fenced", s.fenced},
      {"last_error", s.last_error},
      {"loads", s.loads},
      {"writes", s.writes},
      {"write_failures", s.write_failures},
      {"conflicts", s.conflicts},
      {"object_bytes", bytes},
  };
}

}  // namespace pgdc::state
