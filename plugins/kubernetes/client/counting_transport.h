// An ApiTransport decorator that reports every request (verb, resource,
// status) to a callback: the plugin's kube_api_requests_total covers lease,
// watch and event traffic alike, and benchmarks read API load from it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api_transport.h"

namespace pgdc::kube {

class CountingTransport final : public ApiTransport {
 public:
  // verb: get, list, watch, create, update, delete, patch; resource: the
  // last collection name in the path (leases, events); status 0: no response.
  using Count = std::function<void(std::string_view verb, std::string_view resource, int status)>;

  CountingTransport(std::unique_ptr<ApiTransport> inner, Count count)
      : inner_(std::move(inner)), count_(std::move(count)) {}

  ApiResponse send(const ApiRequest& request) override;
  WatchResult watch(const std::string& path, std::chrono::milliseconds idle_timeout,
                    const std::function<bool(std::string_view line)>& on_line,
                    std::stop_token stop) override;
  void cancel_inflight() override { inner_->cancel_inflight(); }

  // Kubernetes verb and resource of a request. Public for tests.
  static std::pair<std::string, std::string> classify(std::string_view method,
                                                      std::string_view path);

 private:
  std::unique_ptr<ApiTransport> inner_;
  Count count_;
};

}  // namespace pgdc::kube
