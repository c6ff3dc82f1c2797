// Internal to core/api: the state the route handlers share, and helpers for
// authentication and JSON answers. Not included outside core/api and its tests.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "api/leader_gate.h"
#include "api/long_poll.h"
#include "api/request_parsers.h"
#include "config/config.h"
#include "fleet/command_registry.h"
#include "fleet/fleet_store.h"
#include "fleet/token_auth.h"
#include "http/json_errors.h"
#include "http/router.h"
#include "leadership/leadership_state.h"
#include "metrics/metrics.h"
#include "status/status_info.h"

namespace pgdc::api {

struct ApiCore {
  ApiCore(const ApiConfig& config, fleet::TokenAuth auth, LeadershipState& state, Metrics& metrics,
          StatusInfo info, fleet::CommandRegistry commands, fleet::FleetClock clock);

  const ApiConfig config;
  const fleet::TokenAuth auth;
  LeadershipState& state;
  Metrics& metrics;
  const StatusInfo info;
  const fleet::CommandRegistry commands;
  const fleet::FleetClock clock;
  const Limits limits;
  std::shared_ptr<GateOptions> gate;  // forward set before start
  fleet::FleetStore store;
  LongPollHub polls;

  // Prometheus handles (-1 when unavailable).
  std::int64_t issued_counter = -1;
  std::map<std::string, std::array<std::int64_t, 5>> per_deployment;  // see api_service.cpp

  // Sweeper.
  std::mutex sweep_mutex;
  std::condition_variable sweep_cv;
  bool sweep_stop = false;
  std::thread sweeper;
  std::mutex epoch_mutex;
  std::string last_epoch;  // the epoch parked polls belong to
  std::atomic<bool> started{false};

  // --- helpers used by the routes ---------------------------------------
  // The deployment a machine request's bearer token belongs to, or nullopt
  // after answering 401.
  std::optional<std::string> machine_auth(const HttpRequest& r, Respond& respond) const;
  // Web reads (open or token) and writes (admin token); false after answering.
  bool web_read_auth(const HttpRequest& r, Respond& respond) const;
  bool web_admin_auth(const HttpRequest& r, Respond& respond) const;

  // Answers a parked or fresh poll: the node's deliverable commands, or
  // nullopt when there are none (keep waiting).
  std::optional<HttpResponse> poll_now(const PollWaiter& w);
  void wake(const std::string& deployment, const std::vector<std::string>& nodes);
  void count_ack(const std::string& deployment, bool ok);
  void on_leadership(const LeadershipSnapshot& s);
  void sweep_loop();
};

// Helpers shared by the route files.
std::string dump(const nlohmann::json& j);
HttpResponse json_ok(int status, const nlohmann::json& j);
HttpResponse parse_error_response(const ParseError& e);
HttpResponse fleet_error(fleet::FleetStatus status, std::string_view deployment,
                         std::string_view node);
// "{"epoch":..,"commands":[...]}" for a poll answer.
HttpResponse poll_response(const std::string& epoch,
                           const std::vector<fleet::PolledCommand>& commands);

void add_machine_routes(Router& router, const std::shared_ptr<ApiCore>& core);
void add_web_routes(Router& router, const std::shared_ptr<ApiCore>& core);

}  // namespace pgdc::api
