// A test double for MemberRegistry: an ApiTransport that serves the
// coordination.k8s.io/v1 Leases of one namespace the way kube-apiserver does
// for the requests the registry makes (POST, PUT with a resourceVersion
// precondition, GET, DELETE with DeleteOptions preconditions, LIST; 404 / 409
// Status bodies), and records every request. Versions are opaque strings.
// A response queued with next() answers the following request instead.
// Thread-safe: the registry's thread and the test share it.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/api_transport.h"

namespace pgdc::kube::testing {

inline constexpr const char* kNamespace = "pgdog";
inline constexpr const char* kCollection = "/apis/coordination.k8s.io/v1/namespaces/pgdog/leases";

class FakeLeases final : public ApiTransport {
 public:
  ApiResponse send(const ApiRequest& request) override;
  WatchResult watch(const std::string&, std::chrono::milliseconds,
                    const std::function<bool(std::string_view)>&, std::stop_token) override {
    return WatchResult{};
  }

  void next(ApiResponse response);
  // Raw items the LIST returns besides the stored objects (hostile input).
  void add_raw_item(nlohmann::json item);
  // kubectl apply: stores an object as is (a version is assigned).
  void admin_put(nlohmann::json object);
  void admin_delete(const std::string& name);
  nlohmann::json object(const std::string& name) const;  // null when absent
  std::vector<ApiRequest> requests() const;
  std::size_t count(const std::string& method) const;

 private:
  std::string next_version() { return "rv-" + std::to_string(++counter_) + "-x"; }

  mutable std::mutex mutex_;
  std::map<std::string, nlohmann::json> objects_;
  std::vector<nlohmann::json> raw_;
  std::deque<ApiResponse> scripted_;
  std::vector<ApiRequest> requests_;
  int counter_ = 100;
};

}  // namespace pgdc::kube::testing
