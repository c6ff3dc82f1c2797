// The fleet's housekeeping thread: about once a second, evicts nodes silent
// for evict_after (failing their open deliveries) and refreshes the node
// gauges. Runs on every replica, leading or not: a follower's store is
// idle, so a sweep there costs next to nothing.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "api/fleet_metrics.h"
#include "fleet/fleet_store.h"

namespace pgdc::api {

class FleetSweeper {
 public:
  // store and metrics must outlive the sweeper (stop() joins the thread).
  FleetSweeper(fleet::FleetStore& store, FleetMetrics& metrics);
  ~FleetSweeper();  // stop()
  FleetSweeper(const FleetSweeper&) = delete;
  FleetSweeper& operator=(const FleetSweeper&) = delete;

  void start();  // once
  void stop();   // idempotent

 private:
  void loop();

  fleet::FleetStore& store_;
  FleetMetrics& metrics_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace pgdc::api
