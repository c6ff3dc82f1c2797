// The endpoints every replica serves: probes, metrics and status. They tell
// how this replica is; they are never behind the leader gate.
//
//   GET /healthz     200 "ok\n"; 503 "wedged: <reason>\n" when the elector
//                    stopped making progress (LeadershipState::wedged_reason).
//   GET /readyz      200 only while ready (leading, valid, not shutting down),
//                    else 503; body {"ready","role","holder","shutting_down"}.
//   GET /metrics     Prometheus text format 0.0.4; leadership gauges are
//                    refreshed from a snapshot just before serializing.
//   GET /healthz also fails when the plugin keeps claiming leadership that
//                    the core refuses (LeadershipState::wedged_reason).
//   GET /api/status  JSON:
//     identity, role ("leader"|"follower"), holder, holder_address (where the
//     holder serves, "" if the backend does not say), ready, shutting_down,
//     epoch {scope, term}, backend {name, version},
//     lease {name, namespace, duration_secs, interval_secs,
//            renew_deadline_secs, release_timeout_secs, enabled},
//     validity: "valid"  ready with a deadline: validity_remaining_secs is the
//                        seconds left (a number > 0),
//               "never"  ready and the term never expires: remaining is null,
//               "none"   not ready (follower, expired, shutting down): null,
//     validity_remaining_secs, transitions,
//     role_since_secs_ago (null if the role never changed), advertise_address,
//     state: what state_status returns (where control state is kept, see
//     state/keeper_status_json.h), or null.
//   GET /healthz also fails when state_wedged() says why (a replica fenced
//     by another term's state write that still holds its term).
//   GET /readyz and the leader gate also need the ready gate (the term's
//     durable state loaded; LeadershipState::set_ready_gate).
//   HEAD works on all of them (headers only).
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "http/router.h"
#include "leadership/leadership_state.h"
#include "metrics/metrics.h"
#include "status/leadership_metrics.h"
#include "status/status_info.h"

namespace pgdc {

// state, metrics and leadership_metrics must outlive the router.
void add_status_routes(Router& router, LeadershipState& state, Metrics& metrics,
                       LeadershipMetrics& leadership_metrics, StatusInfo info,
                       std::function<nlohmann::json()> state_status = {},
                       std::function<std::string()> state_wedged = {});

}  // namespace pgdc
