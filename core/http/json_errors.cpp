#include "http/json_errors.h"

#include <nlohmann/json.hpp>

namespace pgdc {

namespace {
constexpr const char* kJsonType = "application/json";
}

HttpResponse json_error(int status, std::string_view code, std::string_view message) {
  nlohmann::json body = {{"error", std::string(code)}, {"message", std::string(message)}};
  // Replace invalid UTF-8 (e.g. echoed from a request) instead of throwing.
  return json_body(status,
                   body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

HttpResponse json_body(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.content_type = kJsonType;
  response.body = std::move(body);
  return response;
}

}  // namespace pgdc
