// Who may call what: the bearer token checks in front of the API's routes
// (docs/api.md, "Authentication"). Each check either returns what the
// handler needs or answers 401/403 itself; the caller returns at once then.
//  - machine(): /api/v2/ needs a deployment token; returns its deployment.
//  - web_read(): /api/web/ reads need a web read or admin token, unless
//    api.web.read_access is "open": then a request without a token is
//    allowed only under an allowed Host name (403 host_not_allowed
//    otherwise), so a DNS-rebinding page, whose requests carry its own
//    name, cannot read fleet data through a victim's browser.
//  - web_admin(): /api/web/ writes need a web admin token.
// A missing token is 401 with WWW-Authenticate: Bearer; a known token of the
// wrong kind is 403. admission() gives the router the same check for the
// request head, so a refused request is answered before its body is read
// (http/router.h); the handlers check again (cheap: one SHA-256), so they
// stay correct when called without the server. Thread-safe: the tokens are
// one immutable TokenAuth behind a mutex-guarded shared_ptr, swapped whole by
// replace_tokens (a reload of the token files); a check uses the set it
// loaded at its start, old or new, never a mix.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "fleet/token_auth.h"
#include "http/http_types.h"
#include "http/router.h"

namespace pgdc::api {

class ApiAuth {
 public:
  enum class Need { kDeployment, kWebRead, kWebAdmin };
  struct Verdict {
    std::optional<HttpResponse> refusal;  // the 401/403 to send; unset: allowed
    std::string deployment;               // kDeployment: the token's deployment
  };

  // allowed_hosts: with open reads, the Host names (lower-case, no port)
  // token-less reads may carry besides "localhost" and IP literals (a
  // rebinding page always has a DNS name of its own).
  ApiAuth(fleet::TokenAuth tokens, WebReadAccess web_read_access,
          std::vector<std::string> allowed_hosts = {});

  Verdict check(Need need, const HttpRequest& r) const;
  // The router's admission for a route that needs `need`; this object must
  // outlive the router.
  Admission admission(Need need, std::optional<std::size_t> max_body_bytes) const;

  std::optional<std::string> machine(const HttpRequest& r, Respond& respond) const;
  bool web_read(const HttpRequest& r, Respond& respond) const;
  bool web_admin(const HttpRequest& r, Respond& respond) const;

  WebReadAccess web_read_access() const { return web_read_access_; }

  // Checks that start after this returns use `tokens`. Any thread.
  void replace_tokens(std::shared_ptr<const fleet::TokenAuth> tokens);

 private:
  std::shared_ptr<const fleet::TokenAuth> tokens() const;
  bool host_allowed(const HttpRequest& r) const;

  mutable std::mutex tokens_mutex_;
  std::shared_ptr<const fleet::TokenAuth> tokens_;  // never null; guarded by tokens_mutex_
  const WebReadAccess web_read_access_;
  const std::vector<std::string> allowed_hosts_;
};

}  // namespace pgdc::api
