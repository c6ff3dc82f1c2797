// The JSON object the daemon hands a plugin's create() (see pgdc_vtable).
#pragma once

#include <string>

#include "config/config.h"

namespace pgdc {

std::string plugin_config_json(const Config& config);

}  // namespace pgdc
