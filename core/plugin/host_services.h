// The services the daemon offers a loaded plugin (pgdc_host): logging,
// the monotonic clock, leadership reports, progress and metrics.
//
// Leadership reports go straight into LeadershipState::apply, on the
// plugin's thread, so a lost term is revoked before the report returns.
// After close(), every call is ignored (and counted): a plugin must make no
// call after stop() returns, and a misbehaving one cannot change state then.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <pgdog_control/plugin.h>

#include "leadership/leadership_state.h"
#include "metrics/metrics.h"

namespace pgdc {

class HostServices {
 public:
  HostServices(std::string plugin_name, LeadershipState& state, Metrics& metrics);
  HostServices(const HostServices&) = delete;
  HostServices& operator=(const HostServices&) = delete;

  // Valid for the lifetime of this object.
  const pgdc_host* c_host() const { return &host_; }

  // Stop forwarding calls to the daemon; later calls are only counted.
  void close() { closed_.store(true); }
  std::uint64_t calls_after_close() const { return calls_after_close_.load(); }

  // Conversions between the ABI's nanoseconds and the steady clock.
  static std::int64_t to_ns(LeaseTime t);
  static LeaseTime from_ns(std::int64_t ns);

 private:
  static HostServices& self(void* ctx) { return *static_cast<HostServices*>(ctx); }
  bool accept();  // false (and counted) after close()

  static void log_cb(void* ctx, std::uint32_t level, pgdc_str message);
  static std::int64_t now_cb(void* ctx);
  static void leadership_cb(void* ctx, const pgdc_leadership* leadership);
  static void progress_cb(void* ctx);
  static std::int64_t metric_define_cb(void* ctx, std::uint32_t kind, pgdc_str name, pgdc_str help,
                                       pgdc_str labels_json, const double* buckets,
                                       std::size_t bucket_count);
  static void metric_record_cb(void* ctx, std::int64_t handle, std::uint32_t op, double value);

  std::string component_;  // "plugin:<name>" in logs
  LeadershipState& state_;
  Metrics& metrics_;
  pgdc_host host_{};
  std::atomic<bool> closed_{false};
  std::atomic<std::uint64_t> calls_after_close_{0};
};

}  // namespace pgdc
