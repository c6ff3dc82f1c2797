// The members series of /metrics:
//   pgdog_control_members{state="eligible"|"ineligible"|"stale"}  gauge, the
//       replicas of the last members list by state (a stale member counts
//       only as stale); refreshed by MemberService on every list
//   pgdog_control_switchovers_total{result="ok"|"refused"|"failed"}  counter,
//       switchovers this replica led (the HTTP endpoint and the shutdown
//       handover): handed over, refused (404/409/501), failed (503)
// Core series, defined before any plugin runs. Thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "members/member.h"
#include "metrics/metrics.h"

namespace pgdc::members {

class MemberMetrics {
 public:
  enum class Result { kOk, kRefused, kFailed };

  explicit MemberMetrics(Metrics& metrics);

  void record_members(const std::vector<Member>& members);
  void record_switchover(Result result);

 private:
  Metrics& metrics_;
  std::int64_t eligible_, ineligible_, stale_;
  std::int64_t ok_, refused_, failed_;
};

}  // namespace pgdc::members
