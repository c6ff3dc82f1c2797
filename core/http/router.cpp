#include "http/router.h"

#include <utility>

#include "http/json_errors.h"

namespace pgdc {

Router::Route Router::make_route(const std::string& method, std::string name, Handler h,
                                 Admission admission) {
  if (!admission.max_body_bytes && (method == "GET" || method == "HEAD")) {
    admission.max_body_bytes = 0;
  }
  return Route{std::move(name), std::move(h), std::move(admission)};
}

void Router::add(std::string method, std::string path, std::string route_name, Handler h,
                 Admission admission) {
  Route route = make_route(method, std::move(route_name), std::move(h), std::move(admission));
  exact_[std::move(path)][std::move(method)] = std::move(route);
}

void Router::add_prefix(std::string method, std::string prefix, std::string route_name, Handler h,
                        Admission admission) {
  Route route = make_route(method, std::move(route_name), std::move(h), std::move(admission));
  prefixes_[std::move(prefix)][std::move(method)] = std::move(route);
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

HttpResponse Router::no_route(const HttpRequest& request, const Methods* methods) {
  if (methods == nullptr) return json_error(404, "not_found", "no route for " + request.path);
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
  return response;
}

void Router::dispatch(HttpRequest&& request, Respond respond) const {
  const Methods* methods = find(request.path);
  const Route* route = methods != nullptr ? pick(*methods, request.method) : nullptr;
  if (route == nullptr) {
    respond(no_route(request, methods));
    return;
  }
  route->handler(std::move(request), std::move(respond));
}

Admitted Router::admit(const HttpRequest& head) const {
  Admitted out;
  const Methods* methods = find(head.path);
  const Route* route = methods != nullptr ? pick(*methods, head.method) : nullptr;
  if (route == nullptr) {
    out.route_name = "unmatched";
    out.refusal = no_route(head, methods);
    return out;
  }
  out.route_name = route->name;
  out.max_body_bytes = route->admission.max_body_bytes;
  if (route->admission.check) out.refusal = route->admission.check(head);
  return out;
}

std::string Router::route_name(const HttpRequest& request) const {
  const Methods* methods = find(request.path);
  if (methods == nullptr) return "unmatched";
  const Route* route = pick(*methods, request.method);
  return route != nullptr ? route->name : "unmatched";
}

}  // namespace pgdc
