// The control plane's job as seen over HTTP: PgDog's machine API (/api/v2/)
// and the dashboard's web API (/api/web/), both behind the leader gate.
// Shapes, limits and status codes: docs/api.md.
//
// Owns the parts the routes use, each with one concern: the token checks
// (ApiAuth), the fleet store, the command polls (CommandPolls) and the
// sweeper thread (FleetSweeper). Life cycle, in the daemon's order:
//   ApiService api(...); api.add_routes(router);  // before the server starts
//   api.start();                                  // threads, leadership listener
//   ... serve ...
//   api.stop();   // answers parked polls (503) BEFORE the HTTP drain
// Thread-safety: add_routes/set_forward/start/stop from one controlling
// thread; handlers run on the server's I/O thread(s).
#pragma once

#include <cstddef>
#include <memory>

#include "api/leader_forward.h"
#include "config/config.h"
#include "fleet/command_registry.h"
#include "fleet/fleet_store.h"
#include "fleet/token_auth.h"
#include "http/router.h"
#include "leadership/leadership_state.h"
#include "members/member_service.h"
#include "state/state_backend.h"
#include "state/state_keeper.h"
#include "status/status_info.h"

namespace pgdc::api {

class FleetMetrics;

class ApiService {
 public:
  // state and metrics must outlive the service (metrics: see
  // fleet_metrics.h, defined before any plugin runs so that no plugin can
  // take its names); the service must outlive the HTTP server whose router
  // holds its routes.
  // state_backend: where the registry and the command log are kept (null:
  // in memory only); see state/state_keeper.h.
  ApiService(const ApiConfig& config, fleet::TokenAuth auth, LeadershipState& state,
             FleetMetrics& metrics, StatusInfo info,
             std::unique_ptr<state::StateBackend> state_backend = nullptr,
             state::KeeperOptions keeper_options = {},
             fleet::CommandRegistry commands = fleet::CommandRegistry::with_builtins(),
             fleet::FleetClock clock = fleet::FleetClock::system());
  ~ApiService();  // stop()
  ApiService(const ApiService&) = delete;
  ApiService& operator=(const ApiService&) = delete;

  // The replicas' routes (api/members_routes.cpp); before add_routes. The
  // service must outlive the routes.
  void set_members(members::MemberService* members);
  void add_routes(Router& router);
  // Used only when api.forward_to_leader is true. Before start().
  void set_forward(LeaderForward forward);
  void start();
  // Shutdown, while this replica may still lead: write what is pending
  // (bounded), then end the state keeper (its store calls end before the
  // plugin is stopped). True when nothing was left unwritten.
  bool finish_state(std::chrono::milliseconds timeout);
  void stop();

  // The tokens requests are checked against from now on (a reload of the
  // token files, api/token_reloader.h). Any thread.
  void replace_tokens(std::shared_ptr<const fleet::TokenAuth> tokens);

  fleet::FleetStore& store();
  state::KeeperStatus state_status() const;
  const state::StateKeeper& keeper() const;
  std::string state_wedged(std::chrono::milliseconds fence_timeout) const;
  std::size_t parked_polls() const;

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace pgdc::api
