// Maps (method, path) to a handler.
//
// Exact paths win over prefixes; among prefixes the longest wins. Prefixes are
// plain string prefixes: end them with '/' to match whole segments. HEAD falls
// back to the GET route (the server then sends headers only).
//
// Unknown path: 404 json_error "not_found". Known path, other method: 405
// json_error "method_not_allowed" with an Allow header.
//
// Thread-safety: add routes before the server starts; dispatch() and
// route_name() are then safe from any thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "http/http_types.h"

namespace pgdc {

class Router {
 public:
  // route_name labels metrics (bounded cardinality), e.g. "/api/status".
  // Adding the same (method, path) twice replaces the first.
  void add(std::string method, std::string path, std::string route_name, Handler h);
  void add_prefix(std::string method, std::string prefix, std::string route_name, Handler h);

  void dispatch(HttpRequest&& request, Respond respond) const;

  // The route dispatch() would run, or "unmatched" (404, 405).
  std::string route_name(const HttpRequest& request) const;

 private:
  struct Route {
    std::string name;
    Handler handler;
  };
  using Methods = std::map<std::string, Route>;  // by method

  // The methods registered for the path (exact, else longest prefix), or null.
  const Methods* find(const std::string& path) const;
  static const Route* pick(const Methods& methods, const std::string& method);

  std::map<std::string, Methods> exact_;
  std::map<std::string, Methods> prefixes_;
};

}  // namespace pgdc
