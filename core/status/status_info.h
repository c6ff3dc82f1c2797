// What this replica says about itself in /api/status and the web API's
// control view: who it is, which backend elects it, with which settings.
#pragma once

#include <string>

#include "config/config.h"

namespace pgdc {

struct StatusInfo {
  std::string identity;
  std::string backend_name;
  std::string backend_version;
  LeaderConfig leader;
  std::string advertise_address;
};

}  // namespace pgdc
