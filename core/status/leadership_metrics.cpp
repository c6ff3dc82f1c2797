#include "status/leadership_metrics.h"

#include <algorithm>
#include <chrono>
#include <limits>

namespace pgdc {

LeadershipMetrics::LeadershipMetrics(Metrics& metrics) : metrics_(metrics) {
  using Kind = Metrics::Kind;
  const auto core = [&](Kind kind, const char* name, const char* help) {
    return metrics_.define(kind, name, help, "", {}, nullptr, Metrics::Owner::kCore);
  };
  leader_ = core(Kind::kGauge, "leader",
                 "1 while this replica may act as leader (leading, within its validity, not "
                 "shutting down), else 0.");
  epoch_ = core(Kind::kGauge, "leader_epoch",
                "Term of the last leadership epoch reported by the plugin.");
  transitions_ = core(Kind::kCounter, "leadership_transitions_total",
                      "Leader/follower role changes since the process started.");
  validity_ = core(Kind::kGauge, "leader_validity_seconds",
                   "Seconds of leadership validity left; 0 when not leading, +Inf when the "
                   "leadership never expires.");
}

void LeadershipMetrics::record(const LeadershipSnapshot& s) {
  std::lock_guard lock(mutex_);
  metrics_.record(leader_, Metrics::Op::kSet, s.ready ? 1.0 : 0.0);
  metrics_.record(epoch_, Metrics::Op::kSet, static_cast<double>(s.epoch.term));
  if (s.transitions > transitions_seen_) {
    metrics_.record(transitions_, Metrics::Op::kAdd,
                    static_cast<double>(s.transitions - transitions_seen_));
    transitions_seen_ = s.transitions;
  }
  double validity = 0.0;
  if (s.ready) {
    if (s.valid_until == LeaseTime::max()) {
      validity = std::numeric_limits<double>::infinity();
    } else {
      const std::chrono::duration<double> left = s.valid_until - LeaseClock::now();
      validity = std::max(0.0, left.count());
    }
  }
  metrics_.record(validity_, Metrics::Op::kSet, validity);
}

}  // namespace pgdc
