// The Kubernetes API as the Lease plugin needs it: one request at a time, or
// a watch stream of JSON lines. Authentication (bearer token, its rotation and
// the one retry after a 401), TLS verification and connection reuse live
// behind this interface, so the election logic is tested with a mock.
//
// Thread-safety: implementations are safe to use from several threads; lease
// traffic and watch traffic use separate connections.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

namespace pgdc::kube {

struct ApiRequest {
  std::string method;  // GET, POST, PUT, PATCH, DELETE
  std::string path;    // absolute API path with query, e.g. /apis/coordination.k8s.io/v1/...
  std::string body;    // JSON, empty for GET
  std::string content_type = "application/json";
  std::chrono::milliseconds timeout{5000};  // whole request, connect to last byte
};

struct ApiResponse {
  int status = 0;  // HTTP status; 0 when no response arrived
  std::string body;
  // When status == 0: what went wrong, one line (refused, TLS, timeout...).
  std::string transport_error;
  bool timed_out = false;
  std::optional<std::chrono::seconds> retry_after;  // from a 429 or 503
};

struct WatchResult {
  int status = 0;               // status of the watch response; 200 when the stream opened
  std::string body;             // the error body when status != 200
  std::string transport_error;  // when status == 0, or the stream broke
  bool stopped = false;         // ended because `stop` was requested
  bool timed_out = false;       // ended because nothing arrived within idle_timeout
};

class ApiTransport {
 public:
  virtual ~ApiTransport() = default;

  virtual ApiResponse send(const ApiRequest& request) = 0;

  // GET `path` as a stream; calls on_line for each complete line (one watch
  // event) as it arrives, until the server ends the stream, the stream is
  // idle for longer than idle_timeout, on_line returns false, or `stop` is
  // requested. Never throws.
  // Aborts the requests in flight now (they return status 0, "cancelled");
  // later requests are unaffected. Used at shutdown so a hung renewal does
  // not eat the release deadline.
  virtual void cancel_inflight() {}

  virtual WatchResult watch(const std::string& path, std::chrono::milliseconds idle_timeout,
                            const std::function<bool(std::string_view line)>& on_line,
                            std::stop_token stop) = 0;
};

}  // namespace pgdc::kube
