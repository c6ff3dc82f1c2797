#include "api/leader_gate.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "http/json_errors.h"

namespace pgdc::api {

HttpResponse not_leader_response(const LeadershipSnapshot& s, int retry_after_secs) {
  std::string message;
  if (s.shutting_down) {
    message = "this replica is shutting down; retry against the leader";
  } else if (s.role == Role::kLeader) {
    message = "this replica's leadership is not confirmed (expired or not yet valid); retry";
  } else {
    message = "this replica is not the leader" +
              (s.holder.empty() ? std::string("; no leader is known yet")
                                : "; the leader is \"" + s.holder + "\"") +
              "; retry, or send the request to the leader";
  }
  const nlohmann::json body = {
      {"error", "not_leader"},
      {"message", message},
      {"holder", s.holder},
      {"leader_address", s.holder_address},
  };
  HttpResponse r =
      json_body(503, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  r.headers.emplace_back("Retry-After", std::to_string(std::max(1, retry_after_secs)));
  return r;
}

Handler leader_gate(LeadershipState& state, std::shared_ptr<const GateOptions> options,
                    GatedHandler inner) {
  return [&state, options = std::move(options), inner = std::move(inner)](HttpRequest&& request,
                                                                          Respond respond) {
    if (auto term = state.current_term()) {
      const Epoch epoch = term->epoch;
      Respond stamped = [respond, value = epoch.str()](HttpResponse r) {
        if (r.status < 500) r.headers.emplace_back(kEpochHeader, value);
        respond(std::move(r));
      };
      const auto result = state.run_as_leader(
          epoch, [&](std::stop_token) { inner(std::move(request), std::move(stamped), epoch); });
      if (result == LeadershipState::GuardResult::kRan) return;
      // The term ended between current_term() and the guard: not leader now.
    }
    if (options->forward && options->forward(request, respond)) return;
    respond(not_leader_response(state.snapshot(), options->retry_after_secs));
  };
}

}  // namespace pgdc::api
