// The daemon's life: configuration, plugin, HTTP server, election, and the
// shutdown sequence. See docs/architecture.md for the order and its reasons.
#pragma once

#include "daemon/cli.h"
#include "daemon/signals.h"

namespace pgdc {

// Exit statuses of pgdog-control.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;  // usage or configuration error

// Runs the daemon (or only the --check) and returns its exit status.
int run_daemon(const CliOptions& options, ShutdownSignals& signals);

}  // namespace pgdc
