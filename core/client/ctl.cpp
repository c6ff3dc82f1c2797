#include "client/ctl.h"

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "client/base_url.h"
#include "client/ctl_options.h"
#include "client/ctl_render.h"
#include "client/http_client.h"
#include "client/token_source.h"
#include "text/text.h"

namespace pgdc::client {

namespace {

using Json = nlohmann::json;

ClientRequest request_for(const CtlOptions& o) {
  ClientRequest r;
  r.timeout = o.timeout;
  switch (o.command) {
    case Command::kStatus:
      r.method = "GET";
      r.path = "/api/status";
      break;
    case Command::kMembers:
      r.method = "GET";
      r.path = "/api/web/members";
      break;
    case Command::kSwitchover:
      r.method = "POST";
      r.path = "/api/web/leadership/switchover";
      r.body = o.to ? Json{{"to", *o.to}}.dump() : "{}";
      break;
  }
  return r;
}

std::string pretty(const Json& j) {
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

// What to add to a 401/403 so the operator knows which token was used.
std::string auth_hint(int status, const CtlOptions& o, bool had_token) {
  if (!had_token) {
    return " (no token was sent: give one with --token-file FILE or $PGDOG_CONTROL_TOKEN)";
  }
  const std::string from = o.token_file.empty()
                               ? std::string("$PGDOG_CONTROL_TOKEN")
                               : "token file \"" + text::one_line(o.token_file) + "\"";
  if (status == 403) {
    return " (the token from " + from + " is known but lacks the right: " +
           (o.command == Command::kSwitchover ? "switchover needs a web admin token)"
                                              : "reads need a web read or admin token)");
  }
  return " (the token from " + from + " was refused)";
}

// After a handover: asks GET /api/web/members at the same URL every 50 ms
// until its "leader" is `to` or the deadline passes (the Service may have no
// endpoint for a moment while leadership moves: failures are retried). The
// leader it saw last, "" when none answered.
struct LeaderWait {
  bool leads = false;
  std::string last_leader;
  std::chrono::milliseconds took{0};
};
LeaderWait wait_for_leader(const BaseUrl& url, const std::string& token, const std::string& to,
                           std::chrono::steady_clock::time_point started,
                           std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  LeaderWait w;
  const auto deadline = started + timeout;
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= std::chrono::milliseconds(0)) break;
    ClientRequest r;
    r.method = "GET";
    r.path = "/api/web/members";
    r.token = token;
    r.timeout = std::min(left, std::chrono::milliseconds(2000));
    const ClientResult got = http_exchange(url, r);
    if (got.reply && got.reply->status == 200) {
      const Json body = Json::parse(got.reply->body, nullptr, false);
      if (body.is_object() && body.contains("leader") && body["leader"].is_string()) {
        w.last_leader = body["leader"].get<std::string>();
        if (w.last_leader == to) {
          w.leads = true;
          break;
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  w.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  return w;
}

}  // namespace

int exit_for_http_status(int status) {
  if (status >= 200 && status < 300) return kCtlOk;
  if (status == 401 || status == 403) return kCtlAuth;
  return kCtlRefused;
}

int run_command(const std::vector<std::string>& args, const char* env_token, std::ostream& out,
                std::ostream& err) {
  const CtlParse parsed = parse_ctl(args);
  const std::string cmd = args.empty() ? std::string("pgdog-control") : "pgdog-control " + args[0];
  if (!parsed.options) {
    err << cmd << ": " << parsed.error << "\n";
    return kCtlUsage;
  }
  const CtlOptions& o = *parsed.options;
  if (o.help) {
    out << command_help(o.command);
    return kCtlOk;
  }
  const BaseUrlResult url = parse_base_url(o.url);
  if (!url.url) {
    err << cmd << ": " << url.error << "\n";
    return kCtlUsage;
  }
  const TokenSource token = resolve_token(o.token_file, env_token);
  if (!token.token) {
    err << cmd << ": " << token.error << "\n";
    return kCtlUsage;
  }

  ClientRequest request = request_for(o);
  request.token = *token.token;
  const auto started = std::chrono::steady_clock::now();
  const ClientResult result = http_exchange(*url.url, request);
  if (!result.reply) {
    err << cmd << ": " << result.error.message << "\n";
    return kCtlUnreachable;
  }
  const ClientReply& reply = *result.reply;
  const int code = exit_for_http_status(reply.status);
  const Json body = Json::parse(reply.body, nullptr, false);

  if (code != kCtlOk) {
    // With --json the server's error object goes to stdout too, for scripts.
    if (o.json && body.is_object()) out << pretty(body);
    std::string line = cmd + ": " + url.url->str() + request.path + ": " +
                       describe_error(reply.status, reply.body);
    if (code == kCtlAuth) line += auth_hint(reply.status, o, !token.token->empty());
    // An older daemon (or another server) has no such endpoint: its 404 is
    // "not_found" or not the API's JSON; the API's own 404s name the thing
    // that is missing instead (e.g. unknown_member).
    const bool no_endpoint =
        !body.is_object() || (body.contains("error") && body["error"] == "not_found");
    if (reply.status == 404 && no_endpoint) {
      line += " (this server does not serve " + request.path + "; is it older than this CLI?)";
    }
    err << line << "\n";
    return code;
  }
  if (body.is_discarded()) {
    std::string first(text::trim(reply.body));
    first = text::one_line(first.substr(0, 80));
    err << cmd << ": malformed reply from " << url.url->str() << request.path << ": HTTP "
        << reply.status << " but the body is not JSON"
        << (first.empty() ? std::string(" (empty)") : ": \"" + first + "\"") << "\n";
    return kCtlUnreachable;
  }
  if (o.command == Command::kSwitchover && o.wait && body.is_object() && body.contains("to") &&
      body["to"].is_string()) {
    const std::string to = body["to"].get<std::string>();
    const LeaderWait w = wait_for_leader(*url.url, *token.token, to, started, o.timeout);
    if (!w.leads) {
      if (o.json) out << pretty(body);
      err << cmd << ": handed over to " << text::one_line(to) << ", but it did not lead within "
          << o.timeout.count() << " ms (leader now: "
          << (w.last_leader.empty() ? std::string("none known") : text::one_line(w.last_leader))
          << "); if it cannot take over, another replica does after one lease duration\n";
      return kCtlRefused;
    }
    if (!o.json) {
      const Rendered r = render_switchover(body);
      if (r.error.empty()) {
        out << r.text << text::one_line(to) << " leads now (" << w.took.count()
            << " ms after the request)\n";
        return kCtlOk;
      }
    }
  }
  if (o.json) {
    out << pretty(body);
    return kCtlOk;
  }
  const Rendered r = o.command == Command::kStatus    ? render_status(body)
                     : o.command == Command::kMembers ? render_members(body)
                                                      : render_switchover(body);
  if (!r.error.empty()) {
    err << cmd << ": malformed reply from " << url.url->str() << request.path << ": " << r.error
        << " (is --url a pgdog-control replica?)\n";
    return kCtlUnreachable;
  }
  out << r.text;
  return kCtlOk;
}

}  // namespace pgdc::client
