// A test double for ConfigMapStore: an ApiTransport that serves core/v1
// ConfigMaps of one namespace the way kube-apiserver does for the three
// requests the store makes (GET, POST, PUT with a resourceVersion
// precondition; 404 / 409 Status bodies shaped like the real server's), and
// records every request. Versions are opaque strings on purpose ("rv-<n>-x"):
// a store that parsed or ordered them would fail the tests.
//
// Faults: a response queued with `next()` is returned instead of serving the
// following request (after recording it); admin edits and deletes change the
// stored objects directly, as kubectl would.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/api_transport.h"

namespace pgdc::kube::testing {

inline constexpr const char* kNamespace = "pgdog";
inline constexpr const char* kLease = "pgdog-control";
inline constexpr const char* kCollection = "/api/v1/namespaces/pgdog/configmaps";

// A Status object the way kube-apiserver writes it.
std::string status_body(int code, std::string_view reason, std::string_view message);

class FakeConfigMaps final : public ApiTransport {
 public:
  ApiResponse send(const ApiRequest& request) override;
  WatchResult watch(const std::string&, std::chrono::milliseconds,
                    const std::function<bool(std::string_view)>&, std::stop_token) override {
    return WatchResult{};
  }

  // The response to the next request instead of serving it.
  void next(ApiResponse response) { scripted_.push_back(std::move(response)); }

  // kubectl label: a metadata-only change that moves the version.
  void admin_label(const std::string& name, const std::string& key, const std::string& value);
  void admin_delete(const std::string& name) { objects_.erase(name); }
  // The stored object (null when absent).
  nlohmann::json object(const std::string& name) const;

  const std::vector<ApiRequest>& requests() const { return requests_; }

 private:
  std::string next_version() { return "rv-" + std::to_string(++counter_) + "-x"; }

  std::map<std::string, nlohmann::json> objects_;
  std::deque<ApiResponse> scripted_;
  std::vector<ApiRequest> requests_;
  int counter_ = 100;
};

}  // namespace pgdc::kube::testing
