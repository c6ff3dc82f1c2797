// pgdog-control: the PgDog control plane daemon. See --help.
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <pgdog_control/plugin.h>

#include "client/ctl.h"
#include "client/ctl_options.h"
#include "daemon/app.h"
#include "daemon/cli.h"
#include "daemon/signals.h"

int main(int argc, char** argv) {
  // The operator commands (status, members, switchover) are a client of a
  // running control plane: dispatched before the daemon blocks its signals,
  // so Ctrl-C ends them as it ends any command.
  if (argc > 1 && pgdc::client::is_command(argv[1])) {
    return pgdc::client::run_command(std::vector<std::string>(argv + 1, argv + argc),
                                     std::getenv(pgdc::client::kTokenEnv), std::cout, std::cerr);
  }
  // Before any thread exists, so every thread inherits the blocked signals.
  pgdc::ShutdownSignals signals;

  const char* env = std::getenv("PGDOG_CONTROL_CONFIG");
  const pgdc::CliResult cli =
      pgdc::parse_cli(std::vector<std::string>(argv + 1, argv + argc), env ? env : "");
  if (!cli.options) {
    std::cerr << "pgdog-control: " << cli.error << "\n";
    return pgdc::kExitUsage;
  }
  if (cli.options->help) {
    std::cout << pgdc::usage_text();
    return pgdc::kExitOk;
  }
  if (cli.options->version) {
    std::cout << "pgdog-control " PGDC_VERSION " (plugin ABI " << PGDC_ABI_MAJOR << "."
              << PGDC_ABI_MINOR << ")\n";
    return pgdc::kExitOk;
  }
  try {
    return pgdc::run_daemon(*cli.options, signals);
  } catch (const std::exception& e) {
    std::cerr << "pgdog-control: fatal: " << e.what() << "\n";
    return pgdc::kExitRuntime;
  }
}
