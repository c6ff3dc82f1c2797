#include "status/status_routes.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <utility>

#include <nlohmann/json.hpp>

#include "http/json_errors.h"

namespace pgdc {

namespace {

using Json = nlohmann::json;

double secs(std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }

double secs_between(LeaseTime from, LeaseTime to) {
  return std::max(0.0, std::chrono::duration<double>(to - from).count());
}

std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

HttpResponse text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Json status_json(const StatusInfo& info, const LeadershipSnapshot& s) {
  const auto now = LeaseClock::now();
  Json validity_remaining = nullptr;
  std::string validity = "none";
  if (s.ready) {
    if (s.valid_until == LeaseTime::max()) {
      validity = "never";
    } else {
      validity = "valid";
      validity_remaining = secs_between(now, s.valid_until);
    }
  }
  Json role_since = nullptr;
  if (s.role_since != LeaseTime{}) role_since = secs_between(s.role_since, now);
  const LeaderConfig& lc = info.leader;
  return Json{
      {"identity", info.identity},
      {"role", std::string(role_name(s.role))},
      {"holder", s.holder},
      {"holder_address", s.holder_address},
      {"ready", s.ready},
      {"shutting_down", s.shutting_down},
      {"epoch", {{"scope", s.epoch.scope}, {"term", s.epoch.term}}},
      {"backend", {{"name", info.backend_name}, {"version", info.backend_version}}},
      {"lease",
       {{"name", lc.lease_name},
        {"namespace", lc.lease_namespace},
        {"duration_secs", secs(lc.lease_duration)},
        {"interval_secs", secs(lc.lease_interval)},
        {"renew_deadline_secs", secs(lc.renew_deadline)},
        {"release_timeout_secs", secs(lc.release_timeout)},
        {"stop_work_timeout_secs", secs(lc.stop_work_timeout)},
        {"enabled", lc.enabled}}},
      {"validity", validity},
      {"validity_remaining_secs", validity_remaining},
      {"transitions", s.transitions},
      {"role_since_secs_ago", role_since},
      {"advertise_address", info.advertise_address},
  };
}

}  // namespace

void add_status_routes(Router& router, LeadershipState& state, Metrics& metrics,
                       LeadershipMetrics& leadership_metrics, StatusInfo info,
                       std::function<nlohmann::json()> state_status,
                       std::function<std::string()> state_wedged) {
  router.add("GET", "/healthz", "/healthz", [&state, state_wedged](HttpRequest&&, Respond respond) {
    std::string reason = state.wedged_reason();
    if (reason.empty() && state_wedged) reason = state_wedged();
    if (reason.empty()) {
      respond(text(200, "ok\n"));
    } else {
      respond(text(503, "wedged: " + reason + "\n"));
    }
  });

  router.add("GET", "/readyz", "/readyz", [&state](HttpRequest&&, Respond respond) {
    const LeadershipSnapshot s = state.snapshot();
    const Json body = {{"ready", s.ready},
                       {"role", std::string(role_name(s.role))},
                       {"holder", s.holder},
                       {"shutting_down", s.shutting_down}};
    respond(json_body(s.ready ? 200 : 503, dump(body)));
  });

  router.add("GET", "/metrics", "/metrics",
             [&state, &metrics, &leadership_metrics](HttpRequest&&, Respond respond) {
               leadership_metrics.record(state.snapshot());
               HttpResponse r = text(200, metrics.serialize());
               r.content_type = "text/plain; version=0.0.4; charset=utf-8";
               respond(std::move(r));
             });

  auto shared_info = std::make_shared<const StatusInfo>(std::move(info));
  router.add("GET", "/api/status", "/api/status",
             [&state, shared_info, state_status](HttpRequest&&, Respond respond) {
               Json body = status_json(*shared_info, state.snapshot());
               body["state"] = state_status ? state_status() : Json(nullptr);
               respond(json_body(200, dump(body)));
             });
}

}  // namespace pgdc
