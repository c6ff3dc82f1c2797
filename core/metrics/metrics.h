// The daemon's Prometheus metrics: one registry for the core's own series
// (defined by the parts that own them, e.g. LeadershipMetrics) and the series
// plugins define through the host services.
//
// All names get the prefix "pgdog_control_". Thread-safe. serialize() returns
// the Prometheus text exposition format (checked by `promtool check metrics`).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pgdc {

class Metrics {
 public:
  enum class Kind { kCounter, kGauge, kHistogram };
  enum class Op { kAdd, kSet, kObserve };
  // Who defines a family: core families are the daemon's own (no plugin may
  // define or write them); plugin families count against the plugin limits.
  enum class Owner { kCore, kPlugin };

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One HTTP request: route is the matched route pattern (bounded
  // cardinality), never the raw target.
  void record_http(std::string_view method, std::string_view route, int status,
                   std::chrono::duration<double> latency);
  // The server's connections now, and its running total of refused ones.
  void record_http_connections(std::size_t open, std::uint64_t refused_total);

  // A series (name without the prefix). define() returns a handle >= 0, the
  // same one for the same (name, kind, labels), or -1 with `error` set when
  // the name, labels or kind are invalid or clash with an existing family
  // (also one of the other owner).
  std::int64_t define(Kind kind, std::string_view name, std::string_view help,
                      std::string_view labels_json, const std::vector<double>& buckets,
                      std::string* error = nullptr, Owner owner = Owner::kPlugin);
  // Unknown handles and ops that do not fit the kind are ignored.
  void record(std::int64_t handle, Op op, double value);

  // Removes its collector when destroyed (waiting for a run in progress).
  class Collector {
   public:
    Collector() = default;
    Collector(Collector&& other) noexcept;
    Collector& operator=(Collector&& other) noexcept;
    ~Collector();

   private:
    friend class Metrics;
    Collector(Metrics* metrics, std::uint64_t id) : metrics_(metrics), id_(id) {}
    Metrics* metrics_ = nullptr;
    std::uint64_t id_ = 0;
  };
  // `refresh` runs at the start of every serialize() (on the scraping
  // thread), so a gauge that mirrors other state is current when scraped.
  // Keep the Collector no longer than what refresh uses, and no longer than
  // this registry.
  [[nodiscard]] Collector add_collector(std::function<void()> refresh);

  std::string serialize() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgdc
