// The state keeper's status as JSON, for /api/status and the web API's
// control view ("state": where control state is kept and how it is going).
#pragma once

#include <nlohmann/json.hpp>

#include "state/state_keeper.h"

namespace pgdc::state {

nlohmann::json state_status_json(const KeeperStatus& status);

}  // namespace pgdc::state
