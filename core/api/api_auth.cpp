#include "api/api_auth.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "http/json_errors.h"
#include "text/text.h"

namespace pgdc::api {
namespace {

// The token of "Authorization: Bearer <token>" (scheme case-insensitive,
// spaces around the token ignored), or "" when there is none.
std::string_view bearer(const HttpRequest& r) {
  auto it = r.headers.find("authorization");
  if (it == r.headers.end()) return {};
  std::string_view v = it->second;
  if (v.size() < 7 || !text::iequals(v.substr(0, 7), "bearer ")) return {};
  return text::trim(v.substr(7), " ");
}

HttpResponse unauthorized(std::string message) {
  HttpResponse r = json_error(401, "unauthorized", message);
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

}  // namespace

ApiAuth::ApiAuth(fleet::TokenAuth tokens, WebReadAccess web_read_access)
    : tokens_(std::move(tokens)), web_read_access_(web_read_access) {}

std::optional<std::string> ApiAuth::machine(const HttpRequest& r, Respond& respond) const {
  const std::string_view token = bearer(r);
  if (token.empty()) {
    respond(unauthorized("missing bearer token: send Authorization: Bearer <deployment token>"));
    return std::nullopt;
  }
  fleet::TokenMatch m = tokens_.find(token);
  if (m.role != fleet::TokenRole::kDeployment) {
    respond(unauthorized("the bearer token is not a deployment token"));
    return std::nullopt;
  }
  return std::move(m.deployment);
}

bool ApiAuth::web_read(const HttpRequest& r, Respond& respond) const {
  if (web_read_access_ == WebReadAccess::kOpen) return true;
  const std::string_view token = bearer(r);
  if (token.empty()) {
    respond(unauthorized("missing bearer token: reads need a web read or admin token"));
    return false;
  }
  const auto role = tokens_.find(token).role;
  if (role == fleet::TokenRole::kWebRead || role == fleet::TokenRole::kWebAdmin) return true;
  if (role == fleet::TokenRole::kDeployment) {
    respond(json_error(403, "forbidden", "a deployment token cannot read the web API"));
  } else {
    respond(unauthorized("unknown bearer token"));
  }
  return false;
}

bool ApiAuth::web_admin(const HttpRequest& r, Respond& respond) const {
  const std::string_view token = bearer(r);
  if (token.empty()) {
    respond(unauthorized("missing bearer token: this action needs a web admin token"));
    return false;
  }
  const auto role = tokens_.find(token).role;
  if (role == fleet::TokenRole::kWebAdmin) return true;
  if (role == fleet::TokenRole::kNone) {
    respond(unauthorized("unknown bearer token"));
  } else {
    respond(json_error(403, "forbidden", "this action needs a web admin token"));
  }
  return false;
}

}  // namespace pgdc::api
