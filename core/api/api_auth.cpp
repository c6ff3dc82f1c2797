#include "api/api_auth.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "config/config_rules.h"
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

ApiAuth::ApiAuth(fleet::TokenAuth tokens, WebReadAccess web_read_access,
                 std::vector<std::string> allowed_hosts)
    : tokens_(std::make_shared<const fleet::TokenAuth>(std::move(tokens))),
      web_read_access_(web_read_access),
      allowed_hosts_(std::move(allowed_hosts)) {}

void ApiAuth::replace_tokens(std::shared_ptr<const fleet::TokenAuth> tokens) {
  if (!tokens) return;  // never null
  std::lock_guard lock(tokens_mutex_);
  tokens_.swap(tokens);  // the old set is freed outside the lock, by the last check using it
}

std::shared_ptr<const fleet::TokenAuth> ApiAuth::tokens() const {
  std::lock_guard lock(tokens_mutex_);
  return tokens_;
}

bool ApiAuth::host_allowed(const HttpRequest& r) const {
  auto it = r.headers.find("host");
  // HTTP/1.0 without Host: not from a browser (browsers always send one).
  if (it == r.headers.end()) return true;
  const std::string host = config_rules::host_of(it->second);
  if (host == "localhost" || config_rules::is_ip_literal(host)) return true;
  return std::find(allowed_hosts_.begin(), allowed_hosts_.end(), host) != allowed_hosts_.end();
}

ApiAuth::Verdict ApiAuth::check(Need need, const HttpRequest& r) const {
  Verdict v;
  const std::string_view token = bearer(r);
  if (need == Need::kWebRead && web_read_access_ == WebReadAccess::kOpen && token.empty()) {
    if (!host_allowed(r)) {
      v.refusal = json_error(403, "host_not_allowed",
                             "reads without a token are served only under an allowed Host name "
                             "(api.web.allowed_hosts, localhost or an IP address); send a read "
                             "token or add this name to api.web.allowed_hosts");
    }
    return v;
  }
  if (token.empty()) {
    switch (need) {
      case Need::kDeployment:
        v.refusal =
            unauthorized("missing bearer token: send Authorization: Bearer <deployment token>");
        break;
      case Need::kWebRead:
        v.refusal = unauthorized("missing bearer token: reads need a web read or admin token");
        break;
      case Need::kWebAdmin:
        v.refusal = unauthorized("missing bearer token: this action needs a web admin token");
        break;
    }
    return v;
  }
  fleet::TokenMatch m = tokens()->find(token);
  switch (need) {
    case Need::kDeployment:
      if (m.role != fleet::TokenRole::kDeployment) {
        v.refusal = unauthorized("the bearer token is not a deployment token");
      }
      v.deployment = std::move(m.deployment);
      break;
    case Need::kWebRead:
      if (m.role == fleet::TokenRole::kDeployment) {
        v.refusal = json_error(403, "forbidden", "a deployment token cannot read the web API");
      } else if (m.role == fleet::TokenRole::kNone) {
        v.refusal = unauthorized("unknown bearer token");
      }
      break;
    case Need::kWebAdmin:
      if (m.role == fleet::TokenRole::kNone) {
        v.refusal = unauthorized("unknown bearer token");
      } else if (m.role != fleet::TokenRole::kWebAdmin) {
        v.refusal = json_error(403, "forbidden", "this action needs a web admin token");
      }
      break;
  }
  return v;
}

Admission ApiAuth::admission(Need need, std::optional<std::size_t> max_body_bytes) const {
  Admission a;
  a.max_body_bytes = max_body_bytes;
  a.check = [this, need](const HttpRequest& head) { return check(need, head).refusal; };
  return a;
}

std::optional<std::string> ApiAuth::machine(const HttpRequest& r, Respond& respond) const {
  Verdict v = check(Need::kDeployment, r);
  if (v.refusal) {
    respond(std::move(*v.refusal));
    return std::nullopt;
  }
  return std::move(v.deployment);
}

bool ApiAuth::web_read(const HttpRequest& r, Respond& respond) const {
  Verdict v = check(Need::kWebRead, r);
  if (v.refusal) respond(std::move(*v.refusal));
  return !v.refusal;
}

bool ApiAuth::web_admin(const HttpRequest& r, Respond& respond) const {
  Verdict v = check(Need::kWebAdmin, r);
  if (v.refusal) respond(std::move(*v.refusal));
  return !v.refusal;
}

}  // namespace pgdc::api
