// Maps (method, path) to a handler.
//
// Exact paths win over prefixes; among prefixes the longest wins. Prefixes are
// plain string prefixes: end them with '/' to match whole segments. HEAD falls
// back to the GET route (the server then sends headers only).
//
// Unknown path: 404 json_error "not_found". Known path, other method: 405
// json_error "method_not_allowed" with an Allow header.
//
// Admission: before the server reads a request's body it asks admit() with
// the head alone. A refusal (404/405, or the route's check, e.g. 401 for a
// missing token) is answered without reading the body, so a client without
// a token cannot make the server buffer one; an admitted body is bounded by
// the route's max_body_bytes. dispatch() runs the handler only: admission is
// the server's step.
//
// Thread-safety: add routes before the server starts; dispatch(), admit()
// and route_name() are then safe from any thread.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "http/http_types.h"

namespace pgdc {

// What a route lets in before its body is read.
struct Admission {
  // The largest body the route accepts (413 beyond; the server's
  // http.max_body_bytes applies too). Unset: no limit of its own, except for
  // GET and HEAD routes, which accept no body.
  std::optional<std::size_t> max_body_bytes;
  // Sees the head (method, target, path, query, headers, remote; body
  // empty); a response refuses the request. Runs on an I/O thread: cheap
  // checks only, such as a token lookup.
  std::function<std::optional<HttpResponse>(const HttpRequest& head)> check;
};

// admit()'s answer for one request head.
struct Admitted {
  std::string route_name;                     // as route_name()
  std::optional<HttpResponse> refusal;        // answer this, read no body
  std::optional<std::size_t> max_body_bytes;  // the route's limit, if any
};

class Router {
 public:
  // route_name labels metrics (bounded cardinality), e.g. "/api/status".
  // Adding the same (method, path) twice replaces the first.
  void add(std::string method, std::string path, std::string route_name, Handler h,
           Admission admission = {});
  void add_prefix(std::string method, std::string prefix, std::string route_name, Handler h,
                  Admission admission = {});

  void dispatch(HttpRequest&& request, Respond respond) const;

  Admitted admit(const HttpRequest& head) const;

  // The route dispatch() would run, or "unmatched" (404, 405).
  std::string route_name(const HttpRequest& request) const;

 private:
  struct Route {
    std::string name;
    Handler handler;
    Admission admission;
  };
  using Methods = std::map<std::string, Route>;  // by method
  static Route make_route(const std::string& method, std::string name, Handler h,
                          Admission admission);
  // 404 or 405 for a path or method without a route.
  static HttpResponse no_route(const HttpRequest& request, const Methods* methods);

  // The methods registered for the path (exact, else longest prefix), or null.
  const Methods* find(const std::string& path) const;
  static const Route* pick(const Methods& methods, const std::string& method);

  std::map<std::string, Methods> exact_;
  std::map<std::string, Methods> prefixes_;
};

}  // namespace pgdc
