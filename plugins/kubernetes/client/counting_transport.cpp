#include "counting_transport.h"

namespace pgdc::kube {

std::pair<std::string, std::string> CountingTransport::classify(std::string_view method,
                                                                std::string_view path) {
  const auto q = path.find('?');
  const std::string_view query = q == std::string_view::npos ? "" : path.substr(q + 1);
  std::string_view p = path.substr(0, q);
  // /api/v1/namespaces/<ns>/<resource>[/<name>] or
  // /apis/<g>/<v>/namespaces/<ns>/<resource>[/<name>]
  std::string resource;
  bool named = false;
  const auto ns = p.find("/namespaces/");
  if (ns != std::string_view::npos) {
    std::string_view rest = p.substr(ns + 12);
    const auto s1 = rest.find('/');
    if (s1 != std::string_view::npos) {
      rest = rest.substr(s1 + 1);
      const auto s2 = rest.find('/');
      resource = std::string(rest.substr(0, s2));
      named = s2 != std::string_view::npos && s2 + 1 < rest.size();
    }
  }
  std::string verb;
  if (method == "GET") {
    verb = query.find("watch=true") != std::string_view::npos ||
                   query.find("watch=1") != std::string_view::npos
               ? "watch"
               : (named ? "get" : "list");
  } else if (method == "POST") {
    verb = "create";
  } else if (method == "PUT") {
    verb = "update";
  } else if (method == "PATCH") {
    verb = "patch";
  } else if (method == "DELETE") {
    verb = "delete";
  } else {
    verb = "other";
  }
  return {verb, resource.empty() ? "other" : resource};
}

ApiResponse CountingTransport::send(const ApiRequest& request) {
  ApiResponse r = inner_->send(request);
  const auto [verb, resource] = classify(request.method, request.path);
  if (count_) count_(verb, resource, r.status);
  return r;
}

WatchResult CountingTransport::watch(const std::string& path,
                                     std::chrono::milliseconds idle_timeout,
                                     const std::function<bool(std::string_view line)>& on_line,
                                     std::stop_token stop) {
  // Counted once: at its first line (the stream is open: 200), or when it
  // ends without one (with its real status), so a long idle watch shows up
  // while it runs rather than minutes later.
  const std::string resource = classify("GET", path).second;
  bool counted = false;
  WatchResult r = inner_->watch(
      path, idle_timeout,
      [&](std::string_view line) {
        if (!counted && count_) count_("watch", resource, 200);
        counted = true;
        return on_line(line);
      },
      std::move(stop));
  if (!counted && count_) count_("watch", resource, r.status);
  return r;
}

}  // namespace pgdc::kube
