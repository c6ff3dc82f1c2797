// The hook a follower uses to proxy an /api/ request to the leader instead of
// answering 503 (api.forward_to_leader: true).
//
// The leader gate calls it on a replica that is not ready, before answering
// 503. Return true to take the request over: the forwarder then owns `respond`
// and must call it exactly once, from any thread (it must not block the I/O
// thread). Return false (e.g. the leader's address is unknown, or the request
// was already forwarded once) and the gate answers 503 not_leader itself;
// `request` and `respond` must then be left untouched.
//
// The implementation (Boost.Beast client) lives in leader_forwarder.cpp.
#pragma once

#include <functional>

#include "http/http_types.h"

namespace pgdc::api {

using LeaderForward = std::function<bool(HttpRequest& request, Respond& respond)>;

}  // namespace pgdc::api
