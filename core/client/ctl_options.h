// The operator commands' command line: `pgdog-control status | members |
// switchover [--to ID]` with the shared options --url, --token-file, --json,
// --timeout, --help. Pure: no I/O, no exit(). Help texts live here too, so
// the flags and their documentation change together.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgdc::client {

// The commands' exit status (docs/cli.md, "Exit status").
inline constexpr int kCtlOk = 0;
inline constexpr int kCtlRefused = 1;      // the server answered 4xx/5xx (not 401/403)
inline constexpr int kCtlUsage = 2;        // bad flags, bad --url, unreadable token file
inline constexpr int kCtlUnreachable = 3;  // cannot connect, timeout, malformed reply
inline constexpr int kCtlAuth = 4;         // 401 or 403: missing, unknown or too weak token

inline constexpr const char* kDefaultUrl = "http://127.0.0.1:8080";
inline constexpr const char* kTokenEnv = "PGDOG_CONTROL_TOKEN";

enum class Command { kStatus, kMembers, kSwitchover };

struct CtlOptions {
  Command command = Command::kStatus;
  std::string url = kDefaultUrl;
  std::string token_file;  // "" : the token comes from $PGDOG_CONTROL_TOKEN, if set
  bool json = false;
  std::chrono::milliseconds timeout{10000};
  std::optional<std::string> to;  // switchover --to
  // switchover: after the handover, wait (within --timeout) until the new
  // leader leads, as GET /api/web/members at --url says; --no-wait: don't.
  bool wait = true;
  bool help = false;
};

struct CtlParse {
  std::optional<CtlOptions> options;
  std::string error;  // usage error when options is empty
};

// True for "status", "members" and "switchover".
bool is_command(std::string_view word);
std::string_view command_name(Command c);

// args[0] is the command (is_command(args[0]) must hold); the rest its flags.
CtlParse parse_ctl(const std::vector<std::string>& args);

// `pgdog-control <command> --help`.
std::string command_help(Command c);
// The commands' section of `pgdog-control --help`.
std::string commands_overview();

}  // namespace pgdc::client
