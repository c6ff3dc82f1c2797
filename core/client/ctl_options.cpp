#include "client/ctl_options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "text/text.h"

namespace pgdc::client {

namespace {

constexpr const char* kCommonOptions = R"(Options:
  --url URL           the control plane, http://host[:port][/prefix]
                      (default http://127.0.0.1:8080; https is not supported)
  --token-file FILE   read the bearer token from FILE (its first line that is
                      not empty and not a # comment); without it the token
                      comes from $PGDOG_CONTROL_TOKEN, if set
  --json              print the server's JSON reply (pretty) instead of text
  --timeout SECS      give up after SECS seconds (default 10; fractions allowed)
  --help              print this help and exit
)";

constexpr const char* kExitStatus = R"(Exit status:
  0  success
  1  the server refused or failed the request (its error code and message
     are printed)
  2  usage error: unknown flag, bad --url, unreadable --token-file
  3  cannot connect, no reply within --timeout, or a reply that is not the
     control plane's JSON
  4  authentication: no token, an unknown token, or one without the right
     (HTTP 401 or 403)
)";

std::optional<std::chrono::milliseconds> parse_secs(const std::string& v) {
  if (v.empty() || v.find_first_not_of("0123456789.") != std::string::npos) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (errno != 0 || end != v.c_str() + v.size() || !std::isfinite(d)) return std::nullopt;
  const auto ms = static_cast<long long>(std::llround(d * 1000.0));
  if (ms < 1 || ms > 3600 * 1000) return std::nullopt;
  return std::chrono::milliseconds(ms);
}

}  // namespace

bool is_command(std::string_view word) {
  return word == "status" || word == "members" || word == "switchover";
}

std::string_view command_name(Command c) {
  switch (c) {
    case Command::kStatus:
      return "status";
    case Command::kMembers:
      return "members";
    case Command::kSwitchover:
      return "switchover";
  }
  return "?";
}

CtlParse parse_ctl(const std::vector<std::string>& args) {
  CtlOptions o;
  if (args.empty() || !is_command(args[0])) {
    return CtlParse{std::nullopt, "expected a command: status, members or switchover"};
  }
  o.command = args[0] == "status"    ? Command::kStatus
              : args[0] == "members" ? Command::kMembers
                                     : Command::kSwitchover;
  const std::string cmd(command_name(o.command));
  // "--flag value" or "--flag=value"; false (with err set) when the value is missing.
  auto takes = [&](std::size_t& i, const std::string& flag, std::string* out, std::string* err) {
    const std::string& a = args[i];
    if (a.rfind(flag + "=", 0) == 0) {
      *out = a.substr(flag.size() + 1);
    } else if (i + 1 < args.size()) {
      *out = args[++i];
    } else {
      *err = flag + " needs a value";
      return false;
    }
    return true;
  };
  auto is = [](const std::string& a, const std::string& flag) {
    return a == flag || a.rfind(flag + "=", 0) == 0;
  };
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string v;
    std::string err;
    if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (is(a, "--url")) {
      if (takes(i, "--url", &v, &err)) o.url = v;
    } else if (is(a, "--token-file")) {
      if (takes(i, "--token-file", &v, &err)) {
        if (v.empty()) err = "--token-file needs a non-empty path";
        o.token_file = v;
      }
    } else if (is(a, "--timeout")) {
      if (takes(i, "--timeout", &v, &err)) {
        const auto t = parse_secs(v);
        if (!t) {
          err = "--timeout must be a number of seconds from 0.001 to 3600, not \"" +
                text::one_line(v) + "\"";
        } else {
          o.timeout = *t;
        }
      }
    } else if (o.command == Command::kSwitchover && a == "--no-wait") {
      o.wait = false;
    } else if (o.command == Command::kSwitchover && is(a, "--to")) {
      if (takes(i, "--to", &v, &err)) {
        if (v.empty()) err = "--to needs a replica identity (see `pgdog-control members`)";
        o.to = v;
      }
    } else {
      err = "unknown argument \"" + text::one_line(a) + "\" for " + cmd + " (see " +
            "pgdog-control " + cmd + " --help)";
    }
    if (!err.empty()) return CtlParse{std::nullopt, err};
  }
  return CtlParse{o, {}};
}

std::string command_help(Command c) {
  std::string head;
  switch (c) {
    case Command::kStatus:
      head = R"(Usage: pgdog-control status [options]

Shows what the replica at --url says about itself (GET /api/status): its
identity and role, the leader it knows, the leadership epoch, whether it is
ready, the coordination plugin and whether control state is durable. Needs
no token.
)";
      break;
    case Command::kMembers:
      head = R"(Usage: pgdog-control members [options]

Lists every replica of the control plane (GET /api/web/members; any replica
answers, leader or not): identity, role, advertised address, version,
whether it may lead, and the age of its last heartbeat. A replica whose
heartbeat is older than the backend's TTL is marked STALE; the replica that
answered is marked with '*'. Needs a web read token (or open reads).
)";
      break;
    case Command::kSwitchover:
      head = R"(Usage: pgdog-control switchover [--to ID] [options]

Moves leadership on purpose (POST /api/web/leadership/switchover): the
leader stops its leader work and hands the lease to replica ID, or without
--to to the healthiest other member (eligible, fresh heartbeat, highest
version). Refused, with the reason, when ID is unknown, not eligible, stale
or the leader itself. Any replica may be asked: a follower passes the request
to the leader. Needs a web admin token.

  --to ID             the replica to hand leadership to (an IDENTITY from
                      `pgdog-control members`)
  --no-wait           return once the leader handed over; by default the
                      command then waits (within --timeout, counted from
                      the start) until the new leader leads, asking
                      GET /api/web/members at --url, and exits 1 if it does
                      not
)";
      break;
  }
  return head + "\n" + kCommonOptions + "\n" + kExitStatus;
}

std::string commands_overview() {
  return R"(Operator commands (against a running control plane; see
`pgdog-control <command> --help` and docs/cli.md):
  pgdog-control status                 this replica's role, leader and epoch
  pgdog-control members                every replica, its role and health
  pgdog-control switchover [--to ID]   move leadership to another replica
  common options: --url URL, --token-file FILE (or $PGDOG_CONTROL_TOKEN),
  --json, --timeout SECS. Their exit status: 0 success, 1 the server refused
  or failed, 2 usage error, 3 cannot connect or malformed reply, 4 auth.
)";
}

}  // namespace pgdc::client
