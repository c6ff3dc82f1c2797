#include "api/responses.h"

#include "http/json_errors.h"

namespace pgdc::api {

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

HttpResponse json_ok(int status, const nlohmann::json& j) { return json_body(status, dump(j)); }

HttpResponse no_content() {
  HttpResponse r;
  r.status = 204;
  return r;
}

HttpResponse no_endpoint(const HttpRequest& r) {
  return json_error(
      404, "not_found",
      "no such endpoint: " + r.method + " " + r.path.substr(0, 200) + " (see docs/api.md)");
}

HttpResponse parse_error_response(const ParseError& e) {
  return json_error(e.status, e.code, e.message);
}

HttpResponse durability_error(const state::Durability& d) {
  using Kind = state::Durability::Kind;
  if (d.kind == Kind::kFull) return json_error(507, "state_full", d.message);
  HttpResponse r = d.kind == Kind::kNotLeader
                       ? json_error(503, "not_leader", d.message + "; retry against the leader")
                       : json_error(503, "state_unavailable",
                                    d.message +
                                        "; the change may or may not have been kept: read it back "
                                        "before repeating it");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

HttpResponse fleet_error(fleet::FleetStatus status, std::string_view deployment,
                         std::string_view node, const fleet::FleetOptions& options) {
  const std::string dep = nlohmann::json(std::string(deployment)).dump();
  const std::string id = nlohmann::json(std::string(node))
                             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  switch (status) {
    case fleet::FleetStatus::kUnknownDeployment:
      return json_error(404, "not_found", "unknown deployment " + dep);
    case fleet::FleetStatus::kUnknownNode:
      return json_error(404, "not_found",
                        "node " + id + " is not registered in deployment " + dep +
                            " (never registered, or evicted after its metrics stopped); "
                            "POST /api/v2/register first");
    case fleet::FleetStatus::kTooManyNodes:
      return json_error(409, "conflict",
                        "deployment " + dep +
                            " has reached api.telemetry.max_nodes_per_deployment nodes; "
                            "node " +
                            id + " was not registered");
    case fleet::FleetStatus::kUnknownCommand:
      return json_error(404, "not_found",
                        "unknown command id in deployment " + dep +
                            " (issued by another leader, dropped from the history, or never "
                            "issued)");
    case fleet::FleetStatus::kNotTarget:
      return json_error(404, "not_found", "the command was not sent to node " + id);
    // 429 (not 413): the request is fine, the store is full; it frees up as
    // nodes are evicted and commands leave the history.
    case fleet::FleetStatus::kOverDeploymentBudget:
      return json_error(429, "over_budget",
                        "deployment " + dep + " is at its memory budget for fleet data " +
                            "(api.memory.max_bytes_per_deployment: " +
                            std::to_string(options.max_bytes_per_deployment) +
                            " bytes); nothing was stored");
    case fleet::FleetStatus::kOverGlobalBudget:
      return json_error(429, "over_budget",
                        "the control plane is at its memory budget for fleet data "
                        "(api.memory.max_bytes: " +
                            std::to_string(options.max_bytes) + " bytes); nothing was stored for " +
                            "deployment " + dep);
    case fleet::FleetStatus::kRegistryFull:
      return json_error(507, "state_full",
                        "the durable registry of deployment " + dep +
                            " is full (its state object may hold " +
                            std::to_string(options.max_registry_bytes) + " bytes); node " + id +
                            " was not registered");
    default:
      return json_error(500, "internal", "unexpected fleet status");
  }
}

HttpResponse poll_response(const std::string& epoch,
                           const std::vector<fleet::PolledCommand>& commands) {
  using Json = nlohmann::json;
  std::string body = "{\"epoch\":" + Json(epoch).dump() + ",\"commands\":[";
  bool first = true;
  for (const auto& c : commands) {
    if (!first) body += ',';
    first = false;
    body += "{\"id\":" + Json(c.id).dump() + ",\"seq\":" + std::to_string(c.seq) +
            ",\"epoch\":" + Json(c.epoch).dump() + ",\"name\":" + Json(c.name).dump() +
            ",\"args\":" + c.args_json + ",\"issued_at_ms\":" + std::to_string(c.issued_at_ms) +
            "}";
  }
  body += "]}\n";
  return json_body(200, std::move(body));
}

}  // namespace pgdc::api
