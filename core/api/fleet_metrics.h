// The fleet's series of /metrics, one set per configured deployment:
//   pgdog_control_fleet_nodes{deployment,status="live"|"stale"}    gauge
//   pgdog_control_fleet_commands_issued_total{deployment}           counter
//   pgdog_control_fleet_command_acks_total{deployment,status="ok"|"error"}
//                                            counter, first ack per node only
//   pgdog_control_fleet_command_polls_parked gauge, command polls waiting now
//                                            (all deployments; read at scrape)
//   pgdog_control_fleet_memory_bytes{deployment}  gauge, charged against the
//                                            memory budget (fleet/fleet_store.h)
//   pgdog_control_fleet_memory_budget_bytes{scope="all"|"deployment"}  gauge
//   pgdog_control_token_reloads_total{result="ok"|"error"}
//                                            counter, reloads of changed token
//                                            files (api/token_reloader.h)
// Core series: no plugin can define or write them. Deployments are fixed at
// construction; calls naming another deployment are ignored. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fleet/fleet_types.h"
#include "metrics/metrics.h"

namespace pgdc::api {

class FleetMetrics {
 public:
  // metrics must outlive this object.
  FleetMetrics(Metrics& metrics, const std::vector<std::string>& deployments);

  void command_issued(std::string_view deployment);
  void command_acked(std::string_view deployment, bool ok);
  // The node and memory gauges, from a sweep's counts.
  void node_counts(const std::vector<fleet::DeploymentCounts>& counts);
  void memory_budget(std::size_t all, std::size_t per_deployment);
  // The parked polls gauge reads `count` at every scrape (replacing an
  // earlier one). `count` must stay callable as long as this object lives.
  void watch_parked_polls(std::function<std::size_t()> count);
  // One reload of the token files: taken (ok) or refused (the old tokens kept).
  void token_reload(bool ok);

 private:
  struct Handles {  // -1 when the registry refused the series (never expected)
    std::int64_t live = -1;
    std::int64_t stale = -1;
    std::int64_t issued = -1;
    std::int64_t acks_ok = -1;
    std::int64_t acks_error = -1;
    std::int64_t memory = -1;
  };
  const Handles* find(std::string_view deployment) const;

  Metrics& metrics_;
  std::map<std::string, Handles, std::less<>> handles_;  // immutable after construction
  std::int64_t parked_ = -1;
  std::int64_t budget_all_ = -1;
  std::int64_t budget_deployment_ = -1;
  std::int64_t reloads_ok_ = -1;
  std::int64_t reloads_error_ = -1;
  Metrics::Collector parked_collector_;
};

}  // namespace pgdc::api
