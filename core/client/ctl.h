// The operator commands end to end: `pgdog-control status | members |
// switchover` (docs/cli.md). Parses the command line, takes the token,
// makes one request to the web API and prints the answer. Every outcome maps
// to one exit status (client/ctl_options.h, kCtl*); errors go to `err` as
// one line "pgdog-control <command>: ...", carrying the server's error code
// and message when it sent them. The token is never printed.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace pgdc::client {

// args: the command line after argv[0], starting with the command.
// env_token: $PGDOG_CONTROL_TOKEN (nullptr when unset).
int run_command(const std::vector<std::string>& args, const char* env_token, std::ostream& out,
                std::ostream& err);

// The exit status for an HTTP status the server answered.
int exit_for_http_status(int status);

}  // namespace pgdc::client
