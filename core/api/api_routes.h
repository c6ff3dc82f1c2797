// Internal to core/api: what the route files are given. Each member has one
// owner (ApiService) and an interface of its own; the routes only call them.
// Every reference outlives the routes (ApiService outlives the server).
#pragma once

#include <memory>

#include "api/api_auth.h"
#include "api/command_polls.h"
#include "api/fleet_metrics.h"
#include "api/leader_gate.h"
#include "api/request_parsers.h"
#include "fleet/command_registry.h"
#include "fleet/fleet_store.h"
#include "http/router.h"
#include "leadership/leadership_state.h"
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

  // handler behind the leader gate (leader_gate.h).
  Handler gated(GatedHandler handler) const { return leader_gate(state, gate, std::move(handler)); }
};

void add_machine_routes(Router& router, const RouteDeps& deps);  // /api/v2/
void add_web_routes(Router& router, const RouteDeps& deps);      // /api/web/

}  // namespace pgdc::api
