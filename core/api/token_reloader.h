// Takes rotated tokens without a restart: every `period` (5 s in the daemon)
// a thread asks the TokenFileWatch whether a token file changed and, if so,
// hands the newly loaded tokens to `apply` (ApiService::replace_tokens).
//
//  - A reload that fails (an unreadable or empty file, a bad or duplicate
//    token) applies nothing: the tokens in use stay. It is logged as an error
//    naming the config key (load_tokens' messages: key and file:line, never a
//    token) and counted in pgdog_control_token_reloads_total{result="error"}.
//  - A reload that succeeds is counted {result="ok"} and logs which keys
//    changed, with fingerprints (TokenAuth::fingerprint), never a token.
//  - With no token file in the config there is nothing to watch: start()
//    starts no thread.
// How soon a rotation is seen in Kubernetes: the kubelet's Secret sync (about
// a minute) plus `period`.
// Thread-safety: start/stop from one controlling thread; `apply` runs on the
// reloader's thread. poll_once() only while the thread is not running (it
// and the thread share the TokenFileWatch, which is not thread-safe).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "api/fleet_metrics.h"
#include "fleet/token_auth.h"
#include "fleet/token_file_watch.h"

namespace pgdc::api {

class TokenReloader {
 public:
  using Apply = std::function<void(std::shared_ptr<const fleet::TokenAuth>)>;
  static constexpr std::chrono::milliseconds kDefaultPeriod{5000};

  // metrics and whatever `apply` uses must outlive the reloader (stop()
  // joins the thread; declare it after them).
  TokenReloader(fleet::TokenFileWatch watch, FleetMetrics& metrics, Apply apply,
                std::chrono::milliseconds period = kDefaultPeriod);
  ~TokenReloader();  // stop()
  TokenReloader(const TokenReloader&) = delete;
  TokenReloader& operator=(const TokenReloader&) = delete;

  void start();  // once
  void stop();   // idempotent

  // One check, on the calling thread (tests; the thread's loop calls it).
  void poll_once();

 private:
  void loop();

  fleet::TokenFileWatch watch_;  // used by one thread at a time
  FleetMetrics& metrics_;
  const Apply apply_;
  const std::chrono::milliseconds period_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace pgdc::api
