#include "api/token_reloader.h"

#include <string>
#include <utility>
#include <vector>

#include "log/logger.h"

namespace pgdc::api {
namespace {

constexpr std::string_view kLog = "api";

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : "; ") + l;
  return out;
}

}  // namespace

TokenReloader::TokenReloader(fleet::TokenFileWatch watch, FleetMetrics& metrics, Apply apply,
                             std::chrono::milliseconds period)
    : watch_(std::move(watch)), metrics_(metrics), apply_(std::move(apply)), period_(period) {}

TokenReloader::~TokenReloader() { stop(); }

void TokenReloader::start() {
  if (!watch_.has_files() || thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

void TokenReloader::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TokenReloader::poll_once() {
  std::optional<fleet::TokenFileWatch::Reload> r = watch_.poll();
  if (!r) return;
  for (const auto& w : r->load.warnings) log::warn(kLog, w);
  if (!r->load.auth) {
    metrics_.token_reload(false);
    log::error(kLog, "token files changed but cannot be loaded, the tokens in use are kept: " +
                         join(r->load.errors));
    return;
  }
  apply_(std::make_shared<const fleet::TokenAuth>(std::move(*r->load.auth)));
  metrics_.token_reload(true);
  if (r->changes.empty()) {
    log::info(kLog, "token files changed; the tokens are the same");
    return;
  }
  log::info(kLog, "tokens reloaded: " + join(r->changes));
}

void TokenReloader::loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    cv_.wait_for(lock, period_, [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    poll_once();
    lock.lock();
  }
}

}  // namespace pgdc::api
