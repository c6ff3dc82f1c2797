#include "api/fleet_sweeper.h"

#include <chrono>
#include <string>

#include "log/logger.h"

namespace pgdc::api {

FleetSweeper::FleetSweeper(fleet::FleetStore& store, FleetMetrics& metrics)
    : store_(store), metrics_(metrics) {}

FleetSweeper::~FleetSweeper() { stop(); }

void FleetSweeper::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
}

void FleetSweeper::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void FleetSweeper::loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    lock.unlock();
    std::size_t evicted = 0;
    metrics_.node_counts(store_.sweep(&evicted));
    if (evicted > 0) log::info("api", "evicted " + std::to_string(evicted) + " silent node(s)");
    lock.lock();
    cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; });
  }
}

}  // namespace pgdc::api
