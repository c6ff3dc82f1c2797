#include "members/member_metrics.h"

namespace pgdc::members {

MemberMetrics::MemberMetrics(Metrics& metrics) : metrics_(metrics) {
  using Kind = Metrics::Kind;
  const auto core = [&](Kind kind, const char* name, const char* help, const char* labels) {
    return metrics_.define(kind, name, help, labels, {}, nullptr, Metrics::Owner::kCore);
  };
  const char* members_help =
      "Replicas in the last members list, by state: eligible to lead, not eligible (shutting "
      "down or fenced), or stale (heartbeat older than the backend's time to live).";
  eligible_ = core(Kind::kGauge, "members", members_help, "{\"state\":\"eligible\"}");
  ineligible_ = core(Kind::kGauge, "members", members_help, "{\"state\":\"ineligible\"}");
  stale_ = core(Kind::kGauge, "members", members_help, "{\"state\":\"stale\"}");
  const char* switchover_help =
      "Switchovers this replica was asked to lead (HTTP or shutdown handover), by result.";
  ok_ = core(Kind::kCounter, "switchovers_total", switchover_help, "{\"result\":\"ok\"}");
  refused_ = core(Kind::kCounter, "switchovers_total", switchover_help, "{\"result\":\"refused\"}");
  failed_ = core(Kind::kCounter, "switchovers_total", switchover_help, "{\"result\":\"failed\"}");
}

void MemberMetrics::record_members(const std::vector<Member>& members) {
  double eligible = 0, ineligible = 0, stale = 0;
  for (const Member& m : members) {
    if (m.stale) {
      ++stale;
    } else if (m.eligible) {
      ++eligible;
    } else {
      ++ineligible;
    }
  }
  metrics_.record(eligible_, Metrics::Op::kSet, eligible);
  metrics_.record(ineligible_, Metrics::Op::kSet, ineligible);
  metrics_.record(stale_, Metrics::Op::kSet, stale);
}

void MemberMetrics::record_switchover(Result result) {
  const std::int64_t h = result == Result::kOk        ? ok_
                         : result == Result::kRefused ? refused_
                                                      : failed_;
  metrics_.record(h, Metrics::Op::kAdd, 1.0);
}

}  // namespace pgdc::members
