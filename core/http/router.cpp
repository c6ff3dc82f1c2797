#include "http/router.h"

#include <utility>

#include "http/json_errors.h"

namespace pgdc {

void Router::add(std::string method, std::string path, std::string route_name, Handler h) {
  exact_[std::move(path)][std::move(method)] = Route{std::move(route_name), std::move(h)};
}

void Router::add_prefix(std::string method, std::string prefix, std::string route_name, Handler h) {
  prefixes_[std::move(prefix)][std::move(method)] = Route{std::move(route_name), std::move(h)};
}

const Router::Methods* Router::find(const std::string& path) const {
  if (auto it = exact_.find(path); it != exact_.end()) return &it->second;
  const Methods* best = nullptr;
  std::size_t best_len = 0;
  for (const auto& [prefix, methods] : prefixes_) {
    if (path.compare(0, prefix.size(), prefix) == 0 &&
        (best == nullptr || prefix.size() > best_len)) {
      best = &methods;
      best_len = prefix.size();
    }
  }
  return best;
}

const Router::Route* Router::pick(const Methods& methods, const std::string& method) {
  if (auto it = methods.find(method); it != methods.end()) return &it->second;
  if (method == "HEAD") {
    if (auto it = methods.find("GET"); it != methods.end()) return &it->second;
  }
  return nullptr;
}

void Router::dispatch(HttpRequest&& request, Respond respond) const {
  const Methods* methods = find(request.path);
  if (methods == nullptr) {
    respond(json_error(404, "not_found", "no route for " + request.path));
    return;
  }
  const Route* route = pick(*methods, request.method);
  if (route == nullptr) {
    std::string allow;
    bool has_get = false;
    bool has_head = false;
    for (const auto& [method, r] : *methods) {
      has_get = has_get || method == "GET";
      has_head = has_head || method == "HEAD";
      allow += (allow.empty() ? "" : ", ") + method;
    }
    if (has_get && !has_head) allow += ", HEAD";
    auto response = json_error(
        405, "method_not_allowed",
        request.method + " is not allowed on " + request.path + " (allowed: " + allow + ")");
    response.headers.emplace_back("Allow", allow);
    respond(std::move(response));
    return;
  }
  route->handler(std::move(request), std::move(respond));
}

std::string Router::route_name(const HttpRequest& request) const {
  const Methods* methods = find(request.path);
  if (methods == nullptr) return "unmatched";
  const Route* route = pick(*methods, request.method);
  return route != nullptr ? route->name : "unmatched";
}

}  // namespace pgdc
