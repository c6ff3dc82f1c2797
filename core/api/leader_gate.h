// The leadership gate in front of every /api/v2/ and /api/web/ handler.
//
// Not ready (follower, expired, shutting down): the forward hook gets a chance
// (see leader_forward.h), else 503
//   {"error":"not_leader","message","holder","leader_address"}
// with Retry-After: retry_after_secs.
// Ready: the handler's synchronous part runs inside
// LeadershipState::run_as_leader(current epoch), so a term cannot end while it
// runs (revocation waits for it), and it receives that epoch. Responses below
// 500 carry X-PgDog-Control-Epoch: <epoch>.
#pragma once

#include <functional>
#include <memory>

#include "api/leader_forward.h"
#include "http/http_types.h"
#include "leadership/leadership_state.h"

namespace pgdc::api {

struct GateOptions {
  int retry_after_secs = 1;  // at least 1
  LeaderForward forward;     // optional
};

// The inner handler: like Handler, plus the epoch of the term it runs in.
using GatedHandler = std::function<void(HttpRequest&&, Respond, const Epoch&)>;

inline constexpr const char* kEpochHeader = "X-PgDog-Control-Epoch";

// options is shared so that the forward hook can be set after routes are added.
Handler leader_gate(LeadershipState& state, std::shared_ptr<const GateOptions> options,
                    GatedHandler inner);

// The 503 answer for a replica that is not (or no longer) the leader.
HttpResponse not_leader_response(const LeadershipSnapshot& snapshot, int retry_after_secs);

}  // namespace pgdc::api
