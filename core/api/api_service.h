// The control plane's job as seen over HTTP: PgDog's machine API (/api/v2/)
// and the dashboard's web API (/api/web/), both behind the leader gate.
// Shapes, limits and status codes: docs/api.md.
//
// Owns the fleet store, the parked command polls and a sweeper thread
// (liveness, eviction, fleet gauges once a second). Life cycle, in the
// daemon's order:
//   ApiService api(...); api.add_routes(router);  // before the server starts
//   api.start();                                  // threads, leadership listener
//   ... serve ...
//   api.stop();   // answers parked polls (503) BEFORE the HTTP drain
// When this replica stops being ready, every parked poll is answered 503
// not_leader at once; when the epoch changes, they are answered empty so the
// node polls again under the new term.
// Thread-safety: add_routes/set_forward/start/stop from one controlling
// thread; handlers run on the server's I/O thread(s).
#pragma once

#include <memory>

#include "api/leader_forward.h"
#include "config/config.h"
#include "fleet/command_registry.h"
#include "fleet/fleet_store.h"
#include "fleet/token_auth.h"
#include "http/router.h"
#include "leadership/leadership_state.h"
#include "metrics/metrics.h"
#include "status/status_info.h"

namespace pgdc::api {

struct ApiCore;  // internal: api_core.h

class ApiService {
 public:
  // state and metrics must outlive the service; the service must outlive the
  // HTTP server whose router holds its routes.
  ApiService(const ApiConfig& config, fleet::TokenAuth auth, LeadershipState& state,
             Metrics& metrics, StatusInfo info,
             fleet::CommandRegistry commands = fleet::CommandRegistry::with_builtins(),
             fleet::FleetClock clock = fleet::FleetClock::system());
  ~ApiService();  // stop()
  ApiService(const ApiService&) = delete;
  ApiService& operator=(const ApiService&) = delete;

  void add_routes(Router& router);
  // Used only when api.forward_to_leader is true. Before start().
  void set_forward(LeaderForward forward);
  void start();
  void stop();

  fleet::FleetStore& store();
  std::size_t parked_polls() const;

 private:
  std::shared_ptr<ApiCore> core_;
};

}  // namespace pgdc::api
