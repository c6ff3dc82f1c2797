// ApiTransport over cpprestsdk (Boost.Asio + OpenSSL underneath).
//
// - TLS is always verified: only the CA bundle of the ClusterConfig is trusted
//   (the system store only when the config has no CA), and the server's
//   certificate must name the host of the server URL (DNS name or IP SAN),
//   checked by OpenSSL and again by cpprest. Redirects are never followed.
// - Bearer token from a TokenSource (rotation, one refresh-and-retry on 401).
// - Two separate cpprest clients (connection pools): one for send(), one for
//   watch(), so lease traffic never queues behind a watch.
// - Every request is bounded by its own timeout (send) or idle timeout
//   (watch), enforced here, independently of cpprest's inactivity timer.
//
// cpprest headers stay in the .cpp.
#pragma once

#include "api_transport.h"
#include "cluster_config.h"
#include "token_source.h"

#include <memory>
#include <string>

namespace pgdc::kube {

struct TransportOptions {
  std::string user_agent = "pgdog-control";
  std::string name = "kubernetes";  // prefix of log messages and errors
  std::chrono::steady_clock::duration token_reload_interval = TokenSource::kDefaultReloadInterval;
  LogFn log;  // optional
};

// Sizes cpprest's process-wide thread pool (40 threads by default) before
// its first use; later calls, or a pool already in use, change nothing.
void limit_cpprest_threads(std::size_t threads);

class CpprestTransport final : public ApiTransport {
 public:
  // Checks the config (server URL, CA and client certificate PEM) and builds
  // the clients. Returns nullptr and sets `error` (one line) on failure.
  // `tokens` may be null: one is made from config.token / config.token_file.
  static std::unique_ptr<CpprestTransport> create(const ClusterConfig& config,
                                                  const TransportOptions& options,
                                                  std::string& error,
                                                  std::shared_ptr<TokenSource> tokens = nullptr);

  ~CpprestTransport() override;
  CpprestTransport(const CpprestTransport&) = delete;
  CpprestTransport& operator=(const CpprestTransport&) = delete;

  ApiResponse send(const ApiRequest& request) override;
  WatchResult watch(const std::string& path, std::chrono::milliseconds idle_timeout,
                    const std::function<bool(std::string_view line)>& on_line,
                    std::stop_token stop) override;

  // The token source in use (shared when one was passed to create()).
  void cancel_inflight() override;

  TokenSource& tokens();

 private:
  struct Impl;
  explicit CpprestTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgdc::kube
