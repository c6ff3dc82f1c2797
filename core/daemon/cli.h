// Command-line parsing for pgdog-control. Pure: no I/O, no exit().
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace pgdc {

struct CliOptions {
  std::string config_path;  // --config, else $PGDOG_CONTROL_CONFIG; empty: embedded default
  bool check = false;       // --check: validate, load and create the plugin, exit
  bool version = false;
  bool help = false;
  std::optional<LogLevel> log_level;    // --log-level overrides log.level
  std::optional<LogFormat> log_format;  // --log-format overrides log.format
};

struct CliResult {
  std::optional<CliOptions> options;
  std::string error;  // usage error, set when options is empty
};

// args excludes argv[0]. env_config is $PGDOG_CONTROL_CONFIG (or empty).
CliResult parse_cli(const std::vector<std::string>& args, const std::string& env_config);

std::string usage_text();

}  // namespace pgdc
