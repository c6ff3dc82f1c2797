// Drives an ApiService through its Router without sockets: requests are
// dispatched directly and responses captured (possibly later, from another
// thread, for long polls).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "http/http_types.h"
#include "http/router.h"

namespace pgdc::test {

struct Pending {
  std::mutex mutex;
  std::condition_variable cv;
  std::optional<HttpResponse> response;

  // Waits up to `timeout` (a liveness bound, not a timing assertion).
  std::optional<HttpResponse> wait(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex);
    cv.wait_for(lock, timeout, [this] { return response.has_value(); });
    return response;
  }
  bool answered() {
    std::lock_guard lock(mutex);
    return response.has_value();
  }
};

inline std::shared_ptr<Pending> send(const Router& router, const std::string& method,
                                     const std::string& target, const std::string& body = "",
                                     const std::string& token = "") {
  HttpRequest r;
  r.method = method;
  r.target = target;
  const auto q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = target.substr(q + 1);
  r.body = body;
  if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
  auto p = std::make_shared<Pending>();
  router.dispatch(std::move(r), [p](HttpResponse response) {
    std::lock_guard lock(p->mutex);
    if (!p->response) p->response = std::move(response);
    p->cv.notify_all();
  });
  return p;
}

inline std::string header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

inline nlohmann::json body_json(const HttpResponse& r) {
  return nlohmann::json::parse(r.body, nullptr, false);
}

}  // namespace pgdc::test
