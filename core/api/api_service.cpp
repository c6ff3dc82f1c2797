#include "api/api_service.h"

#include <algorithm>
#include <string>
#include <vector>

#include "api/api_routes.h"
#include "api/fleet_sweeper.h"

namespace pgdc::api {
namespace {

fleet::FleetOptions fleet_options(const ApiConfig& c, bool durable) {
  fleet::FleetOptions o;
  o.durable = durable;
  // The registry is one state object: leave room for its header and for
  // known nodes' updates (never refused: longer versions in an upgrade).
  if (durable) o.max_registry_bytes = state::kMaxValueBytes - 64 * 1024;
  o.retention = c.retention;
  o.max_nodes_per_deployment = c.max_nodes_per_deployment;
  o.stale_after = c.stale_after;
  o.evict_after = c.evict_after;
  o.command_history = c.command_history;
  o.max_bytes = c.memory_max_bytes;
  o.max_bytes_per_deployment = c.memory_max_bytes_per_deployment;
  return o;
}

Limits limits_of(const ApiConfig& c) {
  Limits l;
  l.max_entries = c.max_entries_per_upload;
  l.max_upload_bytes = c.max_upload_bytes;
  l.max_string_bytes = c.max_string_bytes;
  l.max_wait_ms = c.max_wait.count();
  l.default_wait_ms = c.default_wait.count();
  return l;
}

// Retry-After for a 503: the lease interval, rounded up, at least 1 s (a new
// leader is usually known within one interval).
int retry_after_secs(const LeaderConfig& leader) {
  const auto ms = leader.lease_interval.count();
  return std::max<int>(1, static_cast<int>((ms + 999) / 1000));
}

}  // namespace

// Declaration order is destruction order reversed: the sweeper and the polls
// stop before the store they use goes.
struct ApiService::Parts {
  Parts(const ApiConfig& config, fleet::TokenAuth tokens, LeadershipState& state_in,
        FleetMetrics& metrics_in, StatusInfo info_in, std::unique_ptr<state::StateBackend> backend,
        state::KeeperOptions keeper_options, fleet::CommandRegistry commands_in,
        fleet::FleetClock clock_in)
      : forward_to_leader(config.forward_to_leader),
        state(state_in),
        metrics(metrics_in),
        info(std::move(info_in)),
        commands(std::move(commands_in)),
        clock(std::move(clock_in)),
        limits(limits_of(config)),
        auth(std::move(tokens), config.web_read_access, config.web_allowed_hosts),
        gate(std::make_shared<GateOptions>()),
        store(std::make_shared<fleet::FleetStore>(
            deployment_names(config), fleet_options(config, backend != nullptr), this->clock)),
        keeper(std::move(backend), *store, state, deployment_names(config), this->info.identity,
               keeper_options),
        polls(std::make_shared<CommandPolls>(store, state, gate)),
        sweeper(*store, metrics) {
    gate->retry_after_secs = retry_after_secs(this->info.leader);
    metrics.memory_budget(store->options().max_bytes, store->options().max_bytes_per_deployment);
  }

  static std::vector<std::string> deployment_names(const ApiConfig& c) {
    std::vector<std::string> out;
    for (const auto& d : c.deployments) out.push_back(d.name);
    return out;
  }

  RouteDeps deps() {
    return RouteDeps{state,   gate,   auth, limits, *store, commands,
                     metrics, *polls, info, clock,  keeper, members};
  }

  const bool forward_to_leader;
  LeadershipState& state;
  FleetMetrics& metrics;
  const StatusInfo info;
  const fleet::CommandRegistry commands;
  const fleet::FleetClock clock;
  const Limits limits;
  ApiAuth auth;                             // its tokens are swapped by replace_tokens
  const std::shared_ptr<GateOptions> gate;  // forward set before start
  const std::shared_ptr<fleet::FleetStore> store;
  state::StateKeeper keeper;                  // before the polls: a durable command wakes them
  const std::shared_ptr<CommandPolls> polls;  // shared: the leadership listener holds it weakly
  FleetSweeper sweeper;
  members::MemberService* members = nullptr;
  bool started = false;
};

ApiService::ApiService(const ApiConfig& config, fleet::TokenAuth auth, LeadershipState& state,
                       FleetMetrics& metrics, StatusInfo info,
                       std::unique_ptr<state::StateBackend> state_backend,
                       state::KeeperOptions keeper_options, fleet::CommandRegistry commands,
                       fleet::FleetClock clock)
    : parts_(std::make_unique<Parts>(config, std::move(auth), state, metrics, std::move(info),
                                     std::move(state_backend), keeper_options, std::move(commands),
                                     std::move(clock))) {}

ApiService::~ApiService() { stop(); }

void ApiService::set_members(members::MemberService* members) { parts_->members = members; }

void ApiService::add_routes(Router& router) {
  const RouteDeps deps = parts_->deps();
  if (deps.members) add_member_routes(router, deps);
  add_machine_routes(router, deps);
  add_web_routes(router, deps);
}

void ApiService::set_forward(LeaderForward forward) {
  if (parts_->forward_to_leader) parts_->gate->forward = std::move(forward);
}

void ApiService::start() {
  if (parts_->started) return;
  parts_->started = true;
  std::weak_ptr<CommandPolls> weak = parts_->polls;
  parts_->state.add_listener([weak](const LeadershipSnapshot& s) {
    if (auto polls = weak.lock()) polls->on_leadership(s);
  });
  parts_->keeper.start();
  parts_->polls->start();
  parts_->sweeper.start();
  // Held weakly: the registry may be scraped after this service is gone.
  parts_->metrics.watch_parked_polls([weak] {
    const auto polls = weak.lock();
    return polls ? polls->parked() : std::size_t{0};
  });
}

bool ApiService::finish_state(std::chrono::milliseconds timeout) {
  const bool clean = parts_->keeper.flush(timeout);
  parts_->keeper.stop();
  return clean;
}

void ApiService::stop() {
  parts_->keeper.stop();
  parts_->polls->stop();
  parts_->sweeper.stop();
}

state::KeeperStatus ApiService::state_status() const { return parts_->keeper.status(); }
const state::StateKeeper& ApiService::keeper() const { return parts_->keeper; }

std::string ApiService::state_wedged(std::chrono::milliseconds fence_timeout) const {
  return parts_->keeper.wedged_reason(fence_timeout);
}

void ApiService::replace_tokens(std::shared_ptr<const fleet::TokenAuth> tokens) {
  parts_->auth.replace_tokens(std::move(tokens));
}

fleet::FleetStore& ApiService::store() { return *parts_->store; }
std::size_t ApiService::parked_polls() const { return parts_->polls->parked(); }

}  // namespace pgdc::api
