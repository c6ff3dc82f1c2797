// JSON response helpers: the one error body shape of the HTTP API.
//
//   {"error": "<code>", "message": "<human readable>"}
//
// `code` is a stable snake_case identifier clients may switch on (e.g.
// "not_found", "method_not_allowed", "internal"); `message` is for people.
#pragma once

#include <string>
#include <string_view>

#include "http/http_types.h"

namespace pgdc {

// status with the error body above, Content-Type application/json.
HttpResponse json_error(int status, std::string_view code, std::string_view message);

// status with `body` (already serialized JSON), Content-Type application/json.
HttpResponse json_body(int status, std::string body);

}  // namespace pgdc
