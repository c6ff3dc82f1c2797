#include "token_source.h"

#include "cluster_config.h"
#include "text.h"

#include <utility>

namespace pgdc::kube {

TokenSource::TokenSource(std::string static_token, std::string token_file,
                         std::chrono::steady_clock::duration reload_interval, Clock clock,
                         LogFn log)
    : file_(std::move(token_file)),
      interval_(reload_interval),
      clock_(clock ? std::move(clock) : Clock(&std::chrono::steady_clock::now)),
      log_(std::move(log)),
      token_(trim(static_token)) {
  if (!file_.empty()) {
    std::lock_guard lock(mu_);
    reload_locked();
  }
}

std::string TokenSource::token() {
  std::lock_guard lock(mu_);
  if (!file_.empty() && clock_() - last_read_ >= interval_) reload_locked();
  return token_;
}

bool TokenSource::refresh() {
  if (file_.empty()) return false;
  std::lock_guard lock(mu_);
  return reload_locked();
}

std::string TokenSource::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

bool TokenSource::reload_locked() {
  last_read_ = clock_();
  std::string content, error;
  if (!detail::read_file(file_, content, error)) {
    // Keep the last good token: a rotation in progress or a transient error
    // must not drop authentication.
    if (error != last_error_ && log_) {
      log_(LogSeverity::kWarn, "bearer token: " + error + "; keeping the previous token");
    }
    last_error_ = std::move(error);
    return false;
  }
  content = trim(content);
  if (content.empty()) {
    const std::string message = "token file " + file_ + " is empty";
    if (message != last_error_ && log_) {
      log_(LogSeverity::kWarn, "bearer token: " + message + "; keeping the previous token");
    }
    last_error_ = message;
    return false;
  }
  if (!last_error_.empty() && log_) {
    log_(LogSeverity::kInfo, "bearer token: " + file_ + " is readable again");
  }
  last_error_.clear();
  if (content == token_) return false;
  const bool had_token = !token_.empty();
  token_ = std::move(content);
  if (had_token && log_)
    log_(LogSeverity::kInfo, "bearer token: reloaded a new token from " + file_);
  return true;
}

}  // namespace pgdc::kube
