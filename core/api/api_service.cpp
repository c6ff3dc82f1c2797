#include "api/api_service.h"

#include <algorithm>
#include <cmath>

#include "api/api_core.h"
#include "log/logger.h"

namespace pgdc::api {
namespace {

constexpr std::string_view kLog = "api";
constexpr std::size_t kMaxPollsPerNode = 4;

enum Handle { kLive = 0, kStale = 1, kIssued = 2, kAckOk = 3, kAckError = 4 };

fleet::FleetOptions fleet_options(const ApiConfig& c) {
  fleet::FleetOptions o;
  o.retention = c.retention;
  o.max_nodes_per_deployment = c.max_nodes_per_deployment;
  o.stale_after = c.stale_after;
  o.evict_after = c.evict_after;
  o.command_history = c.command_history;
  return o;
}

std::vector<std::string> deployment_names(const ApiConfig& c) {
  std::vector<std::string> out;
  for (const auto& d : c.deployments) out.push_back(d.name);
  return out;
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

int retry_after(const LeaderConfig& leader) {
  const auto ms = leader.lease_interval.count();
  return std::max<int>(1, static_cast<int>((ms + 999) / 1000));
}

std::string_view bearer(const HttpRequest& r) {
  auto it = r.headers.find("authorization");
  if (it == r.headers.end()) return {};
  std::string_view v = it->second;
  if (v.size() < 7) return {};
  std::string scheme(v.substr(0, 7));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  if (scheme != "bearer ") return {};
  v.remove_prefix(7);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return v;
}

HttpResponse unauthorized(std::string message) {
  HttpResponse r = json_error(401, "unauthorized", message);
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

}  // namespace

// --- shared helpers -----------------------------------------------------------

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

HttpResponse json_ok(int status, const nlohmann::json& j) { return json_body(status, dump(j)); }

HttpResponse parse_error_response(const ParseError& e) {
  return json_error(e.status, e.code, e.message);
}

HttpResponse fleet_error(fleet::FleetStatus status, std::string_view deployment,
                         std::string_view node) {
  const std::string dep = nlohmann::json(std::string(deployment)).dump();
  const std::string id = nlohmann::json(std::string(node))
                             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  switch (status) {
    case fleet::FleetStatus::kUnknownDeployment:
      return json_error(404, "not_found", "unknown deployment " + dep);
    case fleet::FleetStatus::kUnknownNode:
      return json_error(404, "not_found",
                        "node " + id + " is not registered in deployment " + dep +
                            " (never registered, or evicted after its metrics stopped); "
                            "POST /api/v2/register first");
    case fleet::FleetStatus::kTooManyNodes:
      return json_error(409, "conflict",
                        "deployment " + dep +
                            " has reached api.telemetry.max_nodes_per_deployment nodes; "
                            "node " +
                            id + " was not registered");
    case fleet::FleetStatus::kUnknownCommand:
      return json_error(404, "not_found",
                        "unknown command id in deployment " + dep +
                            " (issued by another leader, dropped from the history, or never "
                            "issued)");
    case fleet::FleetStatus::kNotTarget:
      return json_error(404, "not_found", "the command was not sent to node " + id);
    default:
      return json_error(500, "internal", "unexpected fleet status");
  }
}

HttpResponse poll_response(const std::string& epoch,
                           const std::vector<fleet::PolledCommand>& commands) {
  using Json = nlohmann::json;
  std::string body = "{\"epoch\":" + Json(epoch).dump() + ",\"commands\":[";
  bool first = true;
  for (const auto& c : commands) {
    if (!first) body += ',';
    first = false;
    body += "{\"id\":" + Json(c.id).dump() + ",\"seq\":" + std::to_string(c.seq) +
            ",\"epoch\":" + Json(c.epoch).dump() + ",\"name\":" + Json(c.name).dump() +
            ",\"args\":" + c.args_json + ",\"issued_at_ms\":" + std::to_string(c.issued_at_ms) +
            "}";
  }
  body += "]}\n";
  return json_body(200, std::move(body));
}

// --- ApiCore ------------------------------------------------------------------

ApiCore::ApiCore(const ApiConfig& c, fleet::TokenAuth a, LeadershipState& s, Metrics& m,
                 StatusInfo i, fleet::CommandRegistry cmds, fleet::FleetClock clk)
    : config(c),
      auth(std::move(a)),
      state(s),
      metrics(m),
      info(std::move(i)),
      commands(std::move(cmds)),
      clock(std::move(clk)),
      limits(limits_of(c)),
      gate(std::make_shared<GateOptions>()),
      store(deployment_names(c), fleet_options(c), clock),
      polls(
          kMaxPollsPerNode, [](const PollWaiter& w) { return poll_response(w.epoch, {}); },
          [this](const PollWaiter&) {
            return not_leader_response(state.snapshot(), gate->retry_after_secs);
          }) {
  gate->retry_after_secs = retry_after(info.leader);
  for (const auto& name : deployment_names(c)) {
    const std::string dep = nlohmann::json(name).dump();
    auto labels = [&](const char* key, const char* value) {
      return "{\"deployment\":" + dep + ",\"" + key + "\":\"" + value + "\"}";
    };
    std::array<std::int64_t, 5> h{};
    h[kLive] = metrics.define(Metrics::Kind::kGauge, "fleet_nodes",
                              "PgDog nodes registered, by deployment and liveness status.",
                              labels("status", "live"), {});
    h[kStale] = metrics.define(Metrics::Kind::kGauge, "fleet_nodes",
                               "PgDog nodes registered, by deployment and liveness status.",
                               labels("status", "stale"), {});
    h[kIssued] =
        metrics.define(Metrics::Kind::kCounter, "fleet_commands_issued_total",
                       "Commands issued, by deployment.", "{\"deployment\":" + dep + "}", {});
    h[kAckOk] = metrics.define(Metrics::Kind::kCounter, "fleet_command_acks_total",
                               "Command acknowledgements (first per node), by result status.",
                               labels("status", "ok"), {});
    h[kAckError] = metrics.define(Metrics::Kind::kCounter, "fleet_command_acks_total",
                                  "Command acknowledgements (first per node), by result status.",
                                  labels("status", "error"), {});
    per_deployment[name] = h;
  }
}

std::optional<std::string> ApiCore::machine_auth(const HttpRequest& r, Respond& respond) const {
  const std::string_view token = bearer(r);
  if (token.empty()) {
    respond(unauthorized("missing bearer token: send Authorization: Bearer <deployment token>"));
    return std::nullopt;
  }
  fleet::TokenMatch m = auth.find(token);
  if (m.role != fleet::TokenRole::kDeployment) {
    respond(unauthorized("the bearer token is not a deployment token"));
    return std::nullopt;
  }
  return std::move(m.deployment);
}

bool ApiCore::web_read_auth(const HttpRequest& r, Respond& respond) const {
  if (config.web_read_access == WebReadAccess::kOpen) return true;
  const std::string_view token = bearer(r);
  if (token.empty()) {
    respond(unauthorized("missing bearer token: reads need a web read or admin token"));
    return false;
  }
  const auto role = auth.find(token).role;
  if (role == fleet::TokenRole::kWebRead || role == fleet::TokenRole::kWebAdmin) return true;
  if (role == fleet::TokenRole::kDeployment) {
    respond(json_error(403, "forbidden", "a deployment token cannot read the web API"));
  } else {
    respond(unauthorized("unknown bearer token"));
  }
  return false;
}

bool ApiCore::web_admin_auth(const HttpRequest& r, Respond& respond) const {
  const std::string_view token = bearer(r);
  if (token.empty()) {
    respond(unauthorized("missing bearer token: this action needs a web admin token"));
    return false;
  }
  const auto role = auth.find(token).role;
  if (role == fleet::TokenRole::kWebAdmin) return true;
  if (role == fleet::TokenRole::kNone) {
    respond(unauthorized("unknown bearer token"));
  } else {
    respond(json_error(403, "forbidden", "this action needs a web admin token"));
  }
  return false;
}

std::optional<HttpResponse> ApiCore::poll_now(const PollWaiter& w) {
  std::vector<fleet::PolledCommand> out;
  const auto status = store.poll(w.deployment, w.node_id, w.after_seq, w.epoch, out);
  if (status != fleet::FleetStatus::kOk) return fleet_error(status, w.deployment, w.node_id);
  if (out.empty()) return std::nullopt;
  return poll_response(w.epoch, out);
}

void ApiCore::wake(const std::string& deployment, const std::vector<std::string>& nodes) {
  for (auto& w : polls.take(deployment, nodes)) {
    if (auto r = poll_now(*w)) {
      w->respond(std::move(*r));
    } else if (!polls.park(w)) {
      w->respond(not_leader_response(state.snapshot(), gate->retry_after_secs));
    }
  }
}

void ApiCore::count_ack(const std::string& deployment, bool ok) {
  auto it = per_deployment.find(deployment);
  if (it != per_deployment.end()) {
    metrics.record(it->second[ok ? kAckOk : kAckError], Metrics::Op::kAdd, 1);
  }
}

void ApiCore::on_leadership(const LeadershipSnapshot& s) {
  const std::string epoch = s.ready ? s.epoch.str() : std::string();
  {
    std::lock_guard lock(epoch_mutex);
    if (s.ready && epoch == last_epoch) return;
    last_epoch = epoch;
  }
  auto waiters = polls.take_all();
  if (waiters.empty()) return;
  if (!s.ready) {
    log::info(kLog, "leadership lost: answering " + std::to_string(waiters.size()) +
                        " parked command poll(s) with 503");
    const HttpResponse r = not_leader_response(s, gate->retry_after_secs);
    for (auto& w : waiters) w->respond(r);
  } else {
    // A new term: the polls were parked under the old epoch; answer them
    // empty so the nodes poll again under the new one.
    for (auto& w : waiters) w->respond(poll_response(w->epoch, {}));
  }
}

void ApiCore::sweep_loop() {
  std::unique_lock lock(sweep_mutex);
  while (!sweep_stop) {
    lock.unlock();
    std::size_t evicted = 0;
    for (const auto& c : store.sweep(&evicted)) {
      auto it = per_deployment.find(c.name);
      if (it == per_deployment.end()) continue;
      metrics.record(it->second[kLive], Metrics::Op::kSet, static_cast<double>(c.live));
      metrics.record(it->second[kStale], Metrics::Op::kSet, static_cast<double>(c.stale));
    }
    if (evicted > 0) {
      log::info(kLog, "evicted " + std::to_string(evicted) + " silent node(s)");
    }
    lock.lock();
    sweep_cv.wait_for(lock, std::chrono::seconds(1), [this] { return sweep_stop; });
  }
}

// --- ApiService ---------------------------------------------------------------

ApiService::ApiService(const ApiConfig& config, fleet::TokenAuth auth, LeadershipState& state,
                       Metrics& metrics, StatusInfo info, fleet::CommandRegistry commands,
                       fleet::FleetClock clock)
    : core_(std::make_shared<ApiCore>(config, std::move(auth), state, metrics, std::move(info),
                                      std::move(commands), std::move(clock))) {}

ApiService::~ApiService() { stop(); }

void ApiService::add_routes(Router& router) {
  add_machine_routes(router, core_);
  add_web_routes(router, core_);
}

void ApiService::set_forward(LeaderForward forward) {
  if (core_->config.forward_to_leader) core_->gate->forward = std::move(forward);
}

void ApiService::start() {
  if (core_->started.exchange(true)) return;
  std::weak_ptr<ApiCore> weak = core_;
  core_->state.add_listener([weak](const LeadershipSnapshot& s) {
    if (auto core = weak.lock()) core->on_leadership(s);
  });
  {
    std::lock_guard lock(core_->epoch_mutex);
    if (auto term = core_->state.current_term()) core_->last_epoch = term->epoch.str();
  }
  core_->polls.start();
  core_->sweeper = std::thread([core = core_.get()] { core->sweep_loop(); });
}

void ApiService::stop() {
  core_->polls.stop();
  {
    std::lock_guard lock(core_->sweep_mutex);
    core_->sweep_stop = true;
  }
  core_->sweep_cv.notify_all();
  if (core_->sweeper.joinable()) core_->sweeper.join();
}

fleet::FleetStore& ApiService::store() { return core_->store; }
std::size_t ApiService::parked_polls() const { return core_->polls.parked(); }

}  // namespace pgdc::api
