// Internal to core/api: what the route files are given. Each member has one
// owner (ApiService) and an interface of its own; the routes only call them.
// Every reference outlives the routes (ApiService outlives the server).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>

#include "api/api_auth.h"
#include "api/command_polls.h"
#include "api/fleet_metrics.h"
#include "api/leader_gate.h"
#include "api/request_parsers.h"
#include "fleet/command_registry.h"
#include "fleet/fleet_store.h"
#include "http/router.h"
#include "leadership/leadership_state.h"
#include "members/member_service.h"
#include "state/state_keeper.h"
#include "status/status_info.h"

namespace pgdc::api {

struct RouteDeps {
  LeadershipState& state;
  std::shared_ptr<const GateOptions> gate;
  const ApiAuth& auth;
  const Limits& limits;
  fleet::FleetStore& store;
  const fleet::CommandRegistry& commands;
  FleetMetrics& metrics;
  CommandPolls& polls;
  const StatusInfo& info;
  const fleet::FleetClock& clock;
  state::StateKeeper& keeper;       // durability of every change a request makes
  members::MemberService* members;  // null: no members routes (ApiService::set_members)

  // handler behind the leader gate (leader_gate.h).
  Handler gated(GatedHandler handler) const { return leader_gate(state, gate, std::move(handler)); }

  // Admissions (http/router.h): the token a route needs, checked before its
  // body is read, and its body limit (unset for GET: no body).
  Admission needs(ApiAuth::Need need, std::optional<std::size_t> max_body_bytes = {}) const {
    return auth.admission(need, max_body_bytes);
  }
  Admission small_body(ApiAuth::Need need) const { return needs(need, small_body_bytes(limits)); }
  // For the catch-all routes: the token refusal, else 404; no body is read.
  Admission unknown_endpoint(ApiAuth::Need need) const;
};

void add_machine_routes(Router& router, const RouteDeps& deps);  // /api/v2/
void add_web_routes(Router& router, const RouteDeps& deps);      // /api/web/
// /api/web/members and /api/web/leadership/switchover; before add_web_routes.
void add_member_routes(Router& router, const RouteDeps& deps);

}  // namespace pgdc::api
