// The state keeper's series of /metrics, refreshed from its status at every
// scrape:
//   pgdog_control_state_durable                   gauge, 1 when a store keeps
//                                                 control state, 0 in memory only
//   pgdog_control_state_fenced                    gauge, 1 while this replica's
//                                                 term was deposed by another's write
//   pgdog_control_state_loads_total               counter, terms loaded and claimed
//   pgdog_control_state_writes_total{result="ok"|"failed"|"conflict"}  counter
//   pgdog_control_state_object_bytes{deployment,part="nodes"|"commands"}
//                                                 gauge, size of the last write
// Core series (no plugin can write them). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/metrics.h"
#include "state/state_keeper.h"

namespace pgdc::state {

class StateMetrics {
 public:
  // metrics and keeper must outlive this object.
  StateMetrics(Metrics& metrics, const StateKeeper& keeper,
               const std::vector<std::string>& deployments);

 private:
  void refresh();

  Metrics& metrics_;
  const StateKeeper& keeper_;
  std::int64_t durable_ = -1, fenced_ = -1, loads_ = -1;
  std::int64_t writes_ok_ = -1, writes_failed_ = -1, conflicts_ = -1;
  std::map<std::string, std::int64_t> bytes_;  // key -> handle
  std::mutex mutex_;
  KeeperStatus last_;  // counters already added
  Metrics::Collector collector_;
};

}  // namespace pgdc::state
