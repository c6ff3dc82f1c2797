#include "daemon/cli.h"

#include "client/ctl_options.h"

namespace pgdc {

std::string usage_text() {
  return R"(Usage: pgdog-control [--config PATH] [--check] [--log-level LEVEL] [--log-format FORMAT]
       pgdog-control --version | --help
       pgdog-control status | members | switchover [--to ID] [options]

The PgDog control plane. Serves /healthz, /readyz, /metrics and /api/ on the
configured listen address and gates leader-only work on the leadership that its
coordination plugin grants.

Options:
  --config PATH         YAML configuration file (default: $PGDOG_CONTROL_CONFIG;
                        without either, the embedded default: one replica,
                        no leader election, listen on 0.0.0.0:8080)
  --check               validate the configuration, load and create the plugin,
                        print a one-line summary and exit
  --log-level LEVEL     debug, info, warn or error (overrides log.level)
  --log-format FORMAT   text or json (overrides log.format)
  --version             print the version and exit
  --help                print this help and exit

Exit status: 0 success, 2 usage or configuration error, 1 runtime failure.
Signals: SIGTERM or SIGINT stops gracefully (releasing leadership within
leader.release_timeout_secs); a second signal exits at once.

)" + client::commands_overview();
}

CliResult parse_cli(const std::vector<std::string>& args, const std::string& env_config) {
  CliOptions o;
  o.config_path = env_config;
  auto value_of = [&](std::size_t& i, const std::string& flag, std::string* out) -> std::string {
    const std::string& a = args[i];
    if (a.size() > flag.size() && a.compare(0, flag.size() + 1, flag + "=") == 0) {
      *out = a.substr(flag.size() + 1);
      return {};
    }
    if (i + 1 >= args.size()) return flag + " needs a value";
    *out = args[++i];
    return {};
  };
  auto is = [](const std::string& a, const std::string& flag) {
    return a == flag || a.rfind(flag + "=", 0) == 0;
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string v;
    std::string err;
    if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a == "--version") {
      o.version = true;
    } else if (a == "--check") {
      o.check = true;
    } else if (is(a, "--config")) {
      err = value_of(i, "--config", &v);
      if (err.empty() && v.empty()) err = "--config needs a non-empty path";
      o.config_path = v;
    } else if (is(a, "--log-level")) {
      err = value_of(i, "--log-level", &v);
      if (err.empty()) {
        if (v == "debug") {
          o.log_level = LogLevel::kDebug;
        } else if (v == "info") {
          o.log_level = LogLevel::kInfo;
        } else if (v == "warn") {
          o.log_level = LogLevel::kWarn;
        } else if (v == "error") {
          o.log_level = LogLevel::kError;
        } else {
          err = "--log-level must be debug, info, warn or error, not \"" + v + "\"";
        }
      }
    } else if (is(a, "--log-format")) {
      err = value_of(i, "--log-format", &v);
      if (err.empty()) {
        if (v == "text") {
          o.log_format = LogFormat::kText;
        } else if (v == "json") {
          o.log_format = LogFormat::kJson;
        } else {
          err = "--log-format must be text or json, not \"" + v + "\"";
        }
      }
    } else if (client::is_command(a)) {
      // Commands come first: `pgdog-control status --url ...`.
      err = "\"" + a + "\" is a command: put it first (pgdog-control " + a + " --help)";
    } else {
      err = "unknown argument \"" + a + "\" (see --help)";
    }
    if (!err.empty()) return CliResult{std::nullopt, err};
  }
  return CliResult{o, {}};
}

}  // namespace pgdc
