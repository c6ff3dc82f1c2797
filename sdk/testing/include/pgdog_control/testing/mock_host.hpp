// A GoogleMock host for testing plugins: the services of pgdc_host, each a
// mock method, plus a controllable monotonic clock and a record of every
// leadership report.
//
//   ::testing::NiceMock<pgdc::sdk::testing::MockHost> host;
//   EXPECT_CALL(host, on_leadership(pgdc::sdk::testing::IsLeader("me")));
//   auto instance = pgdc::sdk::host::Instance::create(descriptor, host.c_host(), config, &error);
//
// The C function pointers in c_host() forward to the mock methods (strings
// copied first: what the plugin passes is only valid during the call).
// After mark_stopped() (call it when stop() returns, or when create()
// returns for an instance that will never start), every host call is a
// contract violation: it is counted, described in violations(), and not
// forwarded. Callbacks arrive on the plugin's threads; the mock is
// thread-safe, but set expectations before start().
#ifndef PGDOG_CONTROL_TESTING_MOCK_HOST_HPP
#define PGDOG_CONTROL_TESTING_MOCK_HOST_HPP

#include <pgdog_control/plugin.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>

namespace pgdc::sdk::testing {

// The host's monotonic clock, in nanoseconds. By default it follows the real
// steady clock, starting at a large offset (1000 s) so code that assumes
// "now" starts near 0 is caught. advance() jumps it forward; freeze() stops
// it, so only advance() moves it (for deterministic tests of plugin logic).
class FakeClock {
 public:
  static constexpr std::int64_t kStartNs = 1'000'000'000'000;

  std::int64_t now_ns() const {
    if (frozen_.load()) return frozen_at_.load() + offset_.load();
    return kStartNs + offset_.load() +
           std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                origin_)
               .count();
  }
  void advance(std::chrono::nanoseconds d) { offset_ += d.count(); }
  void freeze() {
    frozen_at_ = now_ns() - offset_.load();
    frozen_ = true;
  }
  bool frozen() const { return frozen_.load(); }

 private:
  const std::chrono::steady_clock::time_point origin_ = std::chrono::steady_clock::now();
  std::atomic<std::int64_t> offset_{0};
  std::atomic<std::int64_t> frozen_at_{0};
  std::atomic<bool> frozen_{false};
};

// An owned copy of one pgdc_leadership report, with the host time it arrived.
struct Observation {
  std::uint32_t size = 0;
  std::uint32_t role = PGDC_ROLE_FOLLOWER;
  std::string holder;
  std::string epoch_scope;
  std::uint64_t epoch = 0;
  std::int64_t valid_until_ns = 0;
  std::string holder_address;       // ABI 1.1; "" from a 1.0 plugin
  std::int64_t observed_at_ns = 0;  // FakeClock time of the call

  bool leader() const { return role == PGDC_ROLE_LEADER; }
};

inline void PrintTo(const Observation& o, std::ostream* os) {
  *os << "{role="
      << (o.leader()                     ? "leader"
          : o.role == PGDC_ROLE_FOLLOWER ? "follower"
                                         : "?")
      << " holder=\"" << o.holder << "\" scope=\"" << o.epoch_scope << "\" epoch=" << o.epoch
      << " valid_until_ns=" << o.valid_until_ns << " address=\"" << o.holder_address
      << "\" size=" << o.size << "}";
}

// Matchers for on_leadership.
MATCHER_P(IsLeader, holder, "is a leader report held by " + ::testing::PrintToString(holder)) {
  return arg.role == PGDC_ROLE_LEADER && arg.holder == std::string(holder);
}
MATCHER(IsFollower, "is a follower report") { return arg.role == PGDC_ROLE_FOLLOWER; }

class MockHost {
 public:
  MockHost() {
    c_host_.size = sizeof(pgdc_host);
    c_host_.abi_major = PGDC_ABI_MAJOR;
    c_host_.abi_minor = PGDC_ABI_MINOR;
    c_host_.ctx = this;
    c_host_.log = &MockHost::c_log;
    c_host_.monotonic_now_ns = &MockHost::c_now;
    c_host_.on_leadership = &MockHost::c_on_leadership;
    c_host_.report_progress = &MockHost::c_report_progress;
    c_host_.metric_define = &MockHost::c_metric_define;
    c_host_.metric_record = &MockHost::c_metric_record;
    // Defaults: metric_define hands out 0, 1, 2... (the same handle for the
    // same name, kind and labels, like the real host).
    ON_CALL(*this, metric_define)
        .WillByDefault([this](std::uint32_t kind, const std::string& name, const std::string&,
                              const std::string& labels, const std::vector<double>&) {
          std::lock_guard<std::mutex> lock(mutex_);
          const std::string key = std::to_string(kind) + "\n" + name + "\n" + labels;
          for (std::size_t i = 0; i < metric_keys_.size(); ++i) {
            if (metric_keys_[i] == key) return static_cast<std::int64_t>(i);
          }
          metric_keys_.push_back(key);
          return static_cast<std::int64_t>(metric_keys_.size() - 1);
        });
  }
  MockHost(const MockHost&) = delete;
  MockHost& operator=(const MockHost&) = delete;
  virtual ~MockHost() = default;

  MOCK_METHOD(void, log, (std::uint32_t level, const std::string& message));
  MOCK_METHOD(void, on_leadership, (const Observation& observation));
  MOCK_METHOD(void, report_progress, ());
  MOCK_METHOD(std::int64_t, metric_define,
              (std::uint32_t kind, const std::string& name, const std::string& help,
               const std::string& labels_json, const std::vector<double>& buckets));
  MOCK_METHOD(void, metric_record, (std::int64_t handle, std::uint32_t op, double value));

  // The table to give the plugin; valid while this object lives.
  const pgdc_host* c_host() const { return &c_host_; }
  FakeClock& clock() { return clock_; }

  // From now on any host call is a violation (call it when stop() returns).
  void mark_stopped() { stopped_ = true; }
  bool stopped() const { return stopped_.load(); }
  int calls_after_stop() const { return calls_after_stop_.load(); }

  // Every leadership report so far, in order (recorded before forwarding).
  std::vector<Observation> observations() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return observations_;
  }
  // Every logged line so far, as "<level>: <message>".
  std::vector<std::string> logs() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return logs_;
  }
  // Descriptions of contract violations (calls after stop, malformed reports).
  std::vector<std::string> violations() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return violations_;
  }
  int progress_count() const { return progress_count_.load(); }

  // Waits (real time) until a report satisfies pred; true if one did.
  bool wait_for_observation(const std::function<bool(const Observation&)>& pred,
                            std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
      for (const Observation& o : observations_) {
        if (pred(o)) return true;
      }
      return false;
    });
  }
  bool wait_for_leader(std::chrono::milliseconds timeout) {
    return wait_for_observation([](const Observation& o) { return o.leader(); }, timeout);
  }
  bool wait_for_any_observation(std::chrono::milliseconds timeout) {
    return wait_for_observation([](const Observation&) { return true; }, timeout);
  }

 private:
  static MockHost& self(void* ctx) { return *static_cast<MockHost*>(ctx); }
  static std::string copy(pgdc_str s) {
    return s.data == nullptr ? std::string() : std::string(s.data, s.len);
  }

  // Records a call after stop; true if the call must not be forwarded.
  bool after_stop(const char* what) {
    if (!stopped_.load()) return false;
    ++calls_after_stop_;
    std::lock_guard<std::mutex> lock(mutex_);
    violations_.push_back(std::string("host call after stop() returned: ") + what);
    return true;
  }

  static void c_log(void* ctx, std::uint32_t level, pgdc_str message) {
    MockHost& h = self(ctx);
    if (h.after_stop("log")) return;
    std::string text = copy(message);
    {
      std::lock_guard<std::mutex> lock(h.mutex_);
      h.logs_.push_back(std::to_string(level) + ": " + text);
    }
    h.log(level, text);
  }
  static std::int64_t c_now(void* ctx) {
    MockHost& h = self(ctx);
    h.after_stop("monotonic_now_ns");
    return h.clock_.now_ns();
  }
  static void c_on_leadership(void* ctx, const pgdc_leadership* l) {
    MockHost& h = self(ctx);
    if (h.after_stop("on_leadership")) return;
    Observation o;
    o.observed_at_ns = h.clock_.now_ns();
    if (l == nullptr) {
      std::lock_guard<std::mutex> lock(h.mutex_);
      h.violations_.push_back("on_leadership called with a null report");
      return;
    }
    o.size = l->size;
    o.role = l->role;
    if ((l->holder.data == nullptr && l->holder.len != 0) ||
        (l->epoch_scope.data == nullptr && l->epoch_scope.len != 0)) {
      std::lock_guard<std::mutex> lock(h.mutex_);
      h.violations_.push_back("on_leadership: a string with a null pointer and a length");
    } else {
      o.holder = copy(l->holder);
      o.epoch_scope = copy(l->epoch_scope);
    }
    o.epoch = l->epoch;
    o.valid_until_ns = l->valid_until_ns;
    if (l->size >= offsetof(pgdc_leadership, holder_address) + sizeof(l->holder_address)) {
      if (l->holder_address.data == nullptr && l->holder_address.len != 0) {
        std::lock_guard<std::mutex> lock(h.mutex_);
        h.violations_.push_back("on_leadership: holder_address with a null pointer and a length");
      } else {
        o.holder_address = copy(l->holder_address);
      }
    }
    {
      std::lock_guard<std::mutex> lock(h.mutex_);
      h.observations_.push_back(o);
    }
    h.changed_.notify_all();
    h.on_leadership(o);
  }
  static void c_report_progress(void* ctx) {
    MockHost& h = self(ctx);
    if (h.after_stop("report_progress")) return;
    ++h.progress_count_;
    h.report_progress();
  }
  static std::int64_t c_metric_define(void* ctx, std::uint32_t kind, pgdc_str name, pgdc_str help,
                                      pgdc_str labels_json, const double* buckets,
                                      std::size_t bucket_count) {
    MockHost& h = self(ctx);
    if (h.after_stop("metric_define")) return -1;
    std::vector<double> b;
    if (buckets != nullptr) b.assign(buckets, buckets + bucket_count);
    return h.metric_define(kind, copy(name), copy(help), copy(labels_json), b);
  }
  static void c_metric_record(void* ctx, std::int64_t handle, std::uint32_t op, double value) {
    MockHost& h = self(ctx);
    if (h.after_stop("metric_record")) return;
    h.metric_record(handle, op, value);
  }

  pgdc_host c_host_{};
  FakeClock clock_;
  std::atomic<bool> stopped_{false};
  std::atomic<int> calls_after_stop_{0};
  std::atomic<int> progress_count_{0};
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Observation> observations_;
  std::vector<std::string> logs_;
  std::vector<std::string> violations_;
  std::vector<std::string> metric_keys_;
};

}  // namespace pgdc::sdk::testing

#endif  // PGDOG_CONTROL_TESTING_MOCK_HOST_HPP
