#include "state/state_metrics.h"

#include <nlohmann/json.hpp>

namespace pgdc::state {
namespace {

using Kind = Metrics::Kind;

}  // namespace

StateMetrics::StateMetrics(Metrics& metrics, const StateKeeper& keeper,
                           const std::vector<std::string>& deployments)
    : metrics_(metrics), keeper_(keeper) {
  auto core = [&](Kind kind, const char* name, const char* help, const std::string& labels) {
    return metrics_.define(kind, name, help, labels, {}, nullptr, Metrics::Owner::kCore);
  };
  durable_ = core(Kind::kGauge, "state_durable",
                  "1 when a store keeps the control state (node registry, command log), 0 when "
                  "it is kept in memory only.",
                  "");
  fenced_ = core(Kind::kGauge, "state_fenced",
                 "1 while this replica's term was deposed by another term's state write.", "");
  loads_ = core(Kind::kCounter, "state_loads_total",
                "Terms whose durable state this replica loaded and claimed.", "");
  constexpr const char* kWrites = "Writes of state objects, by result.";
  writes_ok_ = core(Kind::kCounter, "state_writes_total", kWrites, "{\"result\":\"ok\"}");
  writes_failed_ = core(Kind::kCounter, "state_writes_total", kWrites, "{\"result\":\"failed\"}");
  conflicts_ = core(Kind::kCounter, "state_writes_total", kWrites, "{\"result\":\"conflict\"}");
  for (const auto& d : deployments) {
    for (auto part : {fleet::DurablePart::kNodes, fleet::DurablePart::kCommands}) {
      const nlohmann::json labels = {{"deployment", d},
                                     {"part", std::string(fleet::durable_part_name(part))}};
      bytes_[StateKeeper::key(d, part)] =
          core(Kind::kGauge, "state_object_bytes",
               "Size of the last write of a state object, by deployment and part.",
               labels.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
  }
  collector_ = metrics_.add_collector([this] { refresh(); });
}

void StateMetrics::refresh() {
  const KeeperStatus s = keeper_.status();
  std::lock_guard lock(mutex_);
  metrics_.record(durable_, Metrics::Op::kSet, s.durable ? 1 : 0);
  metrics_.record(fenced_, Metrics::Op::kSet, s.fenced ? 1 : 0);
  auto add = [&](std::int64_t handle, std::uint64_t now, std::uint64_t before) {
    if (now > before) metrics_.record(handle, Metrics::Op::kAdd, static_cast<double>(now - before));
  };
  add(loads_, s.loads, last_.loads);
  add(writes_ok_, s.writes, last_.writes);
  add(writes_failed_, s.write_failures, last_.write_failures);
  add(conflicts_, s.conflicts, last_.conflicts);
  for (const auto& [key, size] : s.bytes) {
    auto it = bytes_.find(key);
    if (it != bytes_.end())
      metrics_.record(it->second, Metrics::Op::kSet, static_cast<double>(size));
  }
  last_ = s;
}

}  // namespace pgdc::state
