// The answers the API's routes share: JSON bodies, the client's parse errors,
// the fleet store's refusals and a command poll's answer. Shapes: docs/api.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/request_parsers.h"
#include "fleet/fleet_types.h"
#include "http/http_types.h"
#include "state/state_keeper.h"

namespace pgdc::api {

// Compact JSON and a newline; invalid UTF-8 in strings is replaced, never
// thrown on (a node's strings are validated, but an answer must not fail).
std::string dump(const nlohmann::json& j);
HttpResponse json_ok(int status, const nlohmann::json& j);
HttpResponse no_content();  // 204
// 404 "no such endpoint: <method> <path> (see docs/api.md)".
HttpResponse no_endpoint(const HttpRequest& r);
HttpResponse parse_error_response(const ParseError& e);
// 404/409/429 naming the deployment and node (and, over a memory budget,
// the limit from `options`), for every status but kOk/kCreated.
// The answer to a request whose change could not be made durable: 503
// not_leader (the term ended), 503 state_unavailable (not confirmed in time;
// for a command the outcome is unknown), 507 state_full.
HttpResponse durability_error(const state::Durability& d);

HttpResponse fleet_error(fleet::FleetStatus status, std::string_view deployment,
                         std::string_view node, const fleet::FleetOptions& options);
// 200 {"epoch":..,"commands":[...]}: what a node's poll receives.
HttpResponse poll_response(const std::string& epoch,
                           const std::vector<fleet::PolledCommand>& commands);

}  // namespace pgdc::api
