#include "api/fleet_metrics.h"

#include <nlohmann/json.hpp>

namespace pgdc::api {
namespace {

constexpr const char* kNodesHelp = "PgDog nodes registered, by deployment and liveness status.";
constexpr const char* kAcksHelp = "Command acknowledgements (first per node), by result status.";

}  // namespace

FleetMetrics::FleetMetrics(Metrics& metrics, const std::vector<std::string>& deployments)
    : metrics_(metrics) {
  using Kind = Metrics::Kind;
  for (const auto& name : deployments) {
    const std::string dep = nlohmann::json(name).dump();
    const auto labels = [&](const char* status) {
      return "{\"deployment\":" + dep + ",\"status\":\"" + status + "\"}";
    };
    const auto core = [&](Kind kind, const char* series, const char* help,
                          const std::string& label_json) {
      return metrics_.define(kind, series, help, label_json, {}, nullptr, Metrics::Owner::kCore);
    };
    Handles h;
    h.live = core(Kind::kGauge, "fleet_nodes", kNodesHelp, labels("live"));
    h.stale = core(Kind::kGauge, "fleet_nodes", kNodesHelp, labels("stale"));
    h.issued = core(Kind::kCounter, "fleet_commands_issued_total",
                    "Commands issued, by deployment.", "{\"deployment\":" + dep + "}");
    h.acks_ok = core(Kind::kCounter, "fleet_command_acks_total", kAcksHelp, labels("ok"));
    h.acks_error = core(Kind::kCounter, "fleet_command_acks_total", kAcksHelp, labels("error"));
    h.memory = core(Kind::kGauge, "fleet_memory_bytes",
                    "Bytes of fleet data charged against the memory budget, by deployment.",
                    "{\"deployment\":" + dep + "}");
    handles_[name] = h;
  }
  parked_ = metrics_.define(Kind::kGauge, "fleet_command_polls_parked",
                            "Command polls (GET /api/v2/commands) parked, waiting for a command.",
                            "", {}, nullptr, Metrics::Owner::kCore);
  constexpr const char* kBudgetHelp =
      "The memory budget for fleet data (api.memory), for all deployments or each.";
  budget_all_ = metrics_.define(Kind::kGauge, "fleet_memory_budget_bytes", kBudgetHelp,
                                "{\"scope\":\"all\"}", {}, nullptr, Metrics::Owner::kCore);
  budget_deployment_ =
      metrics_.define(Kind::kGauge, "fleet_memory_budget_bytes", kBudgetHelp,
                      "{\"scope\":\"deployment\"}", {}, nullptr, Metrics::Owner::kCore);
  constexpr const char* kReloadsHelp =
      "Reloads of changed token files, by result (error: the tokens in use were kept).";
  reloads_ok_ = metrics_.define(Kind::kCounter, "token_reloads_total", kReloadsHelp,
                                "{\"result\":\"ok\"}", {}, nullptr, Metrics::Owner::kCore);
  reloads_error_ = metrics_.define(Kind::kCounter, "token_reloads_total", kReloadsHelp,
                                   "{\"result\":\"error\"}", {}, nullptr, Metrics::Owner::kCore);
}

void FleetMetrics::memory_budget(std::size_t all, std::size_t per_deployment) {
  metrics_.record(budget_all_, Metrics::Op::kSet, static_cast<double>(all));
  metrics_.record(budget_deployment_, Metrics::Op::kSet, static_cast<double>(per_deployment));
}

void FleetMetrics::token_reload(bool ok) {
  metrics_.record(ok ? reloads_ok_ : reloads_error_, Metrics::Op::kAdd, 1);
}

void FleetMetrics::watch_parked_polls(std::function<std::size_t()> count) {
  parked_collector_ = metrics_.add_collector([this, count = std::move(count)] {
    metrics_.record(parked_, Metrics::Op::kSet, static_cast<double>(count()));
  });
}

const FleetMetrics::Handles* FleetMetrics::find(std::string_view deployment) const {
  auto it = handles_.find(deployment);
  return it == handles_.end() ? nullptr : &it->second;
}

void FleetMetrics::command_issued(std::string_view deployment) {
  if (const Handles* h = find(deployment)) metrics_.record(h->issued, Metrics::Op::kAdd, 1);
}

void FleetMetrics::command_acked(std::string_view deployment, bool ok) {
  if (const Handles* h = find(deployment)) {
    metrics_.record(ok ? h->acks_ok : h->acks_error, Metrics::Op::kAdd, 1);
  }
}

void FleetMetrics::node_counts(const std::vector<fleet::DeploymentCounts>& counts) {
  for (const auto& c : counts) {
    if (const Handles* h = find(c.name)) {
      metrics_.record(h->live, Metrics::Op::kSet, static_cast<double>(c.live));
      metrics_.record(h->stale, Metrics::Op::kSet, static_cast<double>(c.stale));
      metrics_.record(h->memory, Metrics::Op::kSet, static_cast<double>(c.memory_bytes));
    }
  }
}

}  // namespace pgdc::api
