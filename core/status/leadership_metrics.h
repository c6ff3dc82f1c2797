// The leadership series of /metrics, refreshed from a LeadershipSnapshot:
//   pgdog_control_leader                      gauge, 1 while this replica may act
//                                             as leader (snapshot.ready), else 0
//   pgdog_control_leader_epoch                gauge, term of the last reported epoch
//   pgdog_control_leadership_transitions_total counter, role changes (mirrors
//                                             snapshot.transitions)
//   pgdog_control_leader_validity_seconds     gauge, validity left while ready; 0
//                                             when not; +Inf when it never expires
// Defined in the registry as core series, so no plugin can write them.
// Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>

#include "leadership/leadership_state.h"
#include "metrics/metrics.h"

namespace pgdc {

class LeadershipMetrics {
 public:
  explicit LeadershipMetrics(Metrics& metrics);

  void record(const LeadershipSnapshot& snapshot);

 private:
  Metrics& metrics_;
  std::int64_t leader_ = -1;
  std::int64_t epoch_ = -1;
  std::int64_t transitions_ = -1;
  std::int64_t validity_ = -1;
  std::mutex mutex_;
  std::uint64_t transitions_seen_ = 0;
};

}  // namespace pgdc
