// The dashboard's web API, /api/web/ (docs/api.md and the shared contract):
// reads (open or token, api.web.read_access) and command issuing (admin token).
#include <chrono>
#include <vector>

#include "api/api_routes.h"
#include "api/fleet_views.h"
#include "api/responses.h"
#include "http/json_errors.h"
#include "state/keeper_status_json.h"

namespace pgdc::api {
namespace {

using Json = nlohmann::json;

// "a/b/c" -> {"a","b","c"} percent-decoded; nullopt on a bad escape.
std::optional<std::vector<std::string>> segments(std::string_view rest) {
  std::vector<std::string> out;
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    auto seg = percent_decode(rest.substr(0, slash));
    if (!seg) return std::nullopt;
    out.push_back(std::move(*seg));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return out;
}

HttpResponse no_route(const HttpRequest& r) { return no_endpoint(r); }

Json control_json(const RouteDeps& c, const Epoch& epoch) {
  const LeadershipSnapshot s = c.state.snapshot();
  const auto steady = LeaseClock::now();
  const std::int64_t wall = c.clock.wall_ms();
  auto ms = [](LeaseClock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  Json since = nullptr;
  if (s.role_since != LeaseTime{}) since = wall - ms(steady - s.role_since);
  // A term that never expires (noop) is never renewed: its age means nothing.
  Json renew_age = nullptr;
  if (s.last_observation != LeaseTime{} && s.valid_until != LeaseTime::max()) {
    renew_age = std::max<std::int64_t>(0, ms(steady - s.last_observation));
  }
  const LeaderConfig& lc = c.info.leader;
  return Json{
      {"identity", c.info.identity},
      {"role", std::string(role_name(s.role))},
      {"ready", s.ready},
      {"holder", s.holder},
      {"epoch", epoch.str()},
      {"leader_since_ms", since},
      {"last_renew_age_ms", renew_age},
      {"backend", {{"name", c.info.backend_name}, {"version", c.info.backend_version}}},
      {"lease",
       {{"name", lc.lease_name},
        {"enabled", lc.enabled},
        {"duration_secs", static_cast<double>(lc.lease_duration.count()) / 1000.0},
        {"interval_secs", static_cast<double>(lc.lease_interval.count()) / 1000.0}}},
      {"advertise_address", c.info.advertise_address},
      {"state", state::state_status_json(c.keeper.status())},
      {"web",
       {{"read_access", c.auth.web_read_access() == WebReadAccess::kOpen ? "open" : "token"}}}};
}

void get_deployment_item(const RouteDeps& c, HttpRequest& r, Respond& respond, const Epoch& epoch,
                         const std::vector<std::string>& seg) {
  const std::string& dep = seg[0];
  Json out;
  fleet::FleetStatus status = fleet::FleetStatus::kOk;
  std::string node;
  if (seg.size() == 2 && seg[1] == "nodes") {
    std::vector<fleet::NodeSnapshot> nodes;
    status = c.store.nodes(dep, nodes);
    out = nodes_json(dep, nodes);
    // Telemetry is kept from then on (this term's start: a new leader starts
    // with the durable registry and no telemetry history).
    out["data_since_ms"] = c.store.data_since_ms(dep);
  } else if (seg.size() == 3 && seg[1] == "nodes") {
    node = seg[2];
    fleet::NodeDetail detail;
    status = c.store.node(dep, node, detail);
    out = node_json(dep, detail);
  } else if (seg.size() == 4 && seg[1] == "nodes" && seg[3] == "series") {
    node = seg[2];
    auto since = parse_since_query(r.query);
    if (auto* e = std::get_if<ParseError>(&since)) {
      respond(parse_error_response(*e));
      return;
    }
    std::vector<fleet::MetricPoint> points;
    status = c.store.series(dep, node, std::get<std::int64_t>(since), points);
    out = series_json(dep, node, points);
    out["data_since_ms"] = c.store.data_since_ms(dep);
  } else if (seg.size() == 2 && seg[1] == "commands") {
    auto limit = parse_limit_query(r.query, 100);
    if (auto* e = std::get_if<ParseError>(&limit)) {
      respond(parse_error_response(*e));
      return;
    }
    std::vector<fleet::CommandSnapshot> commands;
    status = c.store.commands(dep, epoch.str(), std::get<std::size_t>(limit), commands);
    fleet::TrimmedView trimmed;
    if (status == fleet::FleetStatus::kOk) status = c.store.trimmed(dep, trimmed);
    out = commands_json(dep, commands, trimmed);
  } else {
    respond(no_route(r));
    return;
  }
  if (status != fleet::FleetStatus::kOk) {
    respond(fleet_error(status, dep, node, c.store.options()));
    return;
  }
  respond(json_ok(200, out));
}

void issue_command(const RouteDeps& c, HttpRequest& r, Respond& respond, const Epoch& epoch,
                   const std::string& dep) {
  if (!c.store.has_deployment(dep)) {
    respond(fleet_error(fleet::FleetStatus::kUnknownDeployment, dep, "", c.store.options()));
    return;
  }
  auto parsed = parse_issue(r.body, c.limits);
  if (auto* e = std::get_if<ParseError>(&parsed)) {
    respond(parse_error_response(*e));
    return;
  }
  IssueRequest& q = std::get<IssueRequest>(parsed);
  const fleet::CommandKind* kind = c.commands.find(q.name);
  if (!kind) {
    std::string known;
    for (const auto* k : c.commands.kinds()) known += (known.empty() ? "" : ", ") + k->name;
    respond(json_error(400, "bad_request",
                       "name: unknown command " +
                           Json(q.name).dump(-1, ' ', false, Json::error_handler_t::replace) +
                           " (known: " + known + ")"));
    return;
  }
  if (kind->validate) {
    if (std::string problem = kind->validate(q.args); !problem.empty()) {
      respond(json_error(400, "bad_request", problem));
      return;
    }
  }
  // Runs inside the gate's run_as_leader(epoch): a deposed leader never gets here.
  auto outcome = c.store.issue(dep, q.name, q.target, q.args.dump(), epoch.str());
  if (outcome.status != fleet::FleetStatus::kOk) {
    respond(fleet_error(outcome.status, dep, q.target, c.store.options()));
    return;
  }
  // Answered 201 only once durable; only then may nodes have it.
  auto shown = std::make_shared<fleet::CommandSnapshot>(std::move(outcome.command));
  c.keeper.after_durable(
      dep, fleet::DurablePart::kCommands, outcome.generation, true,
      [c, dep, shown, respond, epoch_str = epoch.str(),
       targets = std::move(outcome.targets)](const state::Durability& d) {
        if (d.kind != state::Durability::Kind::kDurable) {
          respond(durability_error(d));
          return;
        }
        // A write covered its generation, but the command may
        // have been dropped unwritten just before (a timeout
        // drops every undurable command; a later issue may
        // have taken its seq).
        if (!c.store.durable_command(dep, shown->command.seq, shown->command.id)) {
          respond(durability_error({state::Durability::Kind::kUnavailable,
                                    "the command was dropped before the state store "
                                    "confirmed it"}));
          return;
        }
        c.metrics.command_issued(dep);
        c.polls.wake(dep, targets);
        // Shown after the wake, so nodes with a parked poll already read
        // "delivered".
        (void)c.store.command(dep, shown->command.seq, epoch_str,
                              *shown);  // else: as issued
        respond(json_ok(201, command_json(*shown)));
      });
}

}  // namespace

void add_web_routes(Router& router, const RouteDeps& c) {
  router.add("GET", "/api/web/control", "/api/web/control",
             c.gated([c](HttpRequest&& r, Respond respond, const Epoch& epoch) {
               if (!c.auth.web_read(r, respond)) return;
               respond(json_ok(200, control_json(c, epoch)));
             }),
             c.needs(ApiAuth::Need::kWebRead));

  router.add("GET", "/api/web/deployments", "/api/web/deployments",
             c.gated([c](HttpRequest&& r, Respond respond, const Epoch&) {
               if (!c.auth.web_read(r, respond)) return;
               respond(json_ok(200, deployments_json(c.store.deployments())));
             }),
             c.needs(ApiAuth::Need::kWebRead));

  router.add("GET", "/api/web/commands/kinds", "/api/web/commands/kinds",
             c.gated([c](HttpRequest&& r, Respond respond, const Epoch&) {
               if (!c.auth.web_read(r, respond)) return;
               Json kinds = Json::array();
               for (const auto* k : c.commands.kinds()) {
                 kinds.push_back({{"name", k->name}, {"description", k->description}});
               }
               respond(json_ok(200, Json{{"kinds", std::move(kinds)}}));
             }),
             c.needs(ApiAuth::Need::kWebRead));

  constexpr std::string_view kDeployments = "/api/web/deployments/";
  router.add_prefix(
      "GET", std::string(kDeployments), "/api/web/deployments/{dep}/*",
      c.gated([c, kDeployments](HttpRequest&& r, Respond respond, const Epoch& epoch) {
        if (!c.auth.web_read(r, respond)) return;
        auto seg = segments(std::string_view(r.path).substr(kDeployments.size()));
        if (!seg) {
          respond(json_error(400, "bad_request", "bad %-escape in the path"));
          return;
        }
        if (seg->size() < 2 || (*seg)[0].empty()) {
          respond(no_route(r));
          return;
        }
        get_deployment_item(c, r, respond, epoch, *seg);
      }),
      c.needs(ApiAuth::Need::kWebRead));

  router.add_prefix(
      "POST", std::string(kDeployments), "/api/web/deployments/{dep}/commands",
      c.gated([c, kDeployments](HttpRequest&& r, Respond respond, const Epoch& epoch) {
        auto seg = segments(std::string_view(r.path).substr(kDeployments.size()));
        if (!seg || seg->size() != 2 || (*seg)[1] != "commands") {
          respond(no_route(r));
          return;
        }
        if (!c.auth.web_admin(r, respond)) return;
        issue_command(c, r, respond, epoch, (*seg)[0]);
      }),
      c.small_body(ApiAuth::Need::kWebAdmin));

  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
    const bool read = std::string_view(method) == "GET";
    router.add_prefix(
        method, "/api/web/", "/api/web/*",
        c.gated([](HttpRequest&& r, Respond respond, const Epoch&) { respond(no_route(r)); }),
        c.unknown_endpoint(read ? ApiAuth::Need::kWebRead : ApiAuth::Need::kWebAdmin));
  }
}

}  // namespace pgdc::api
