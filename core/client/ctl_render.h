// Human output of the operator commands, from the server's JSON replies
// (docs/api.md: /api/status; docs/cli.md for these layouts). Pure functions:
// JSON in, text out. A reply without the fields a command cannot do without
// is not rendered: the result carries an error instead (the caller exits 3),
// so a wrong --url never prints a plausible-looking but empty summary.
// Optional fields that are absent are left out of the text.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace pgdc::client {

struct Rendered {
  std::string text;   // ends with "\n" when set
  std::string error;  // set when the reply lacks what the layout needs
};

// GET /api/status -> "key: value" lines (identity, role, ready, leader,
// epoch, version when the server reports it, plugin, lease, state).
Rendered render_status(const nlohmann::json& reply);

// GET /api/web/members -> a table IDENTITY ROLE ADDRESS VERSION ELIGIBLE
// HEARTBEAT, sorted as the server sent it, then notes (stale members, a
// plugin that lists no members).
Rendered render_members(const nlohmann::json& reply);

// 200 of POST /api/web/leadership/switchover -> "switched over from A to B".
Rendered render_switchover(const nlohmann::json& reply);

// An error reply (4xx/5xx) -> "HTTP <status> <error>: <message>", or the
// first line of a body that is not the API's JSON error.
std::string describe_error(int status, const std::string& body);

// Milliseconds as the HEARTBEAT column shows them: "850ms", "1.2s", "3m4s",
// "2h5m"; negative: "unknown".
std::string heartbeat_age(long long ms);

}  // namespace pgdc::client
