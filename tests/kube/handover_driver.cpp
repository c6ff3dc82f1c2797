// pgdc_kube_handover_driver <plugin> <config_json> <replicas> <rounds>
//
// Switchover (ABI 1.4 transfer) on a real API server, driven the way the
// host drives it: loads the plugin through core/plugin (as the daemon does),
// creates <replicas> instances in this process with <config_json> (its
// "identity" gets the suffix -0, -1, ...), starts them, waits for a leader,
// then <rounds> times asks the leader to transfer to the next replica and
// waits until that replica reports LEADER. Prints one JSON object:
//   {"rounds":[{"from":..,"to":..,"status":"ok"|..,"latency_ms":x,
//               "new_leader":..,"epoch":n}...],
//    "refusals":{"from_follower":s,"to_self":s},
//    "violations":[...], "p50_ms":x, "p99_ms":x, "max_ms":x}
// refusals: the status of a transfer asked of a follower, and of the leader
// to itself, before the rounds ("conflict" expected for both).
// latency_ms: transfer called -> the target's LEADER report arrives.
// violations (the HA checker's rule, on this process's one clock): two
// instances with overlapping leader intervals (a LEADER report until the
// next FOLLOWER report of the same instance, or its valid_until, whichever
// is first); a leader other than the target taking over in a round; epochs
// not strictly increasing within one scope.
// Exit 0 when every instance started and the rounds ran; 1 with
// {"error":...} otherwise.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

// cpprest's pool header needs asio's deprecated io_service, which the
// core's flags switch off; only this file includes it.
#undef BOOST_ASIO_NO_DEPRECATED
#include <pplx/threadpool.h>

#include <pgdog_control/plugin.h>
#include <nlohmann/json.hpp>
#include <pgdog_control/host.hpp>

#include "plugin/plugin_loader.h"

namespace {

using json = nlohmann::json;

std::int64_t now_ns() {
  // CLOCK_BOOTTIME, as the plugin's clock (pgdc::sdk::BootClock).
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

struct Report {
  std::int64_t at;
  int who;
  bool leader;
  std::string scope;
  std::uint64_t epoch;
  std::int64_t valid_until;
};

// Every instance's reports on one clock. Each instance has its own ctx.
struct World {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<Report> reports;
  std::map<int, bool> leading;  // last report per instance
};

struct Ctx {
  World* world;
  int who;
};

std::string text(pgdc_str s) { return s.data ? std::string(s.data, s.len) : ""; }

void host_log(void* ctx, std::uint32_t level, pgdc_str message) {
  if (level >= PGDC_LOG_WARN || std::getenv("PGDC_DRIVER_VERBOSE") != nullptr) {
    std::cerr << "[" << static_cast<Ctx*>(ctx)->who << "] " << text(message) << "\n";
  }
}
std::int64_t host_now(void*) { return now_ns(); }
void host_leadership(void* ctx, const pgdc_leadership* l) {
  Ctx& c = *static_cast<Ctx*>(ctx);
  std::lock_guard lock(c.world->mutex);
  const bool leader = l->role == PGDC_ROLE_LEADER;
  c.world->reports.push_back(
      Report{now_ns(), c.who, leader, text(l->epoch_scope), l->epoch, l->valid_until_ns});
  c.world->leading[c.who] = leader;
  c.world->cv.notify_all();
}
void host_progress(void*) {}
std::int64_t host_metric_define(void*, std::uint32_t, pgdc_str, pgdc_str, pgdc_str, const double*,
                                std::size_t) {
  return 1;
}
void host_metric_record(void*, std::int64_t, std::uint32_t, double) {}

// Leader intervals per instance, then pairwise overlap; epochs per scope.
std::vector<std::string> check(const std::vector<Report>& reports, std::int64_t end) {
  struct Interval {
    int who;
    std::int64_t from, to;
    std::uint64_t epoch;
  };
  std::vector<Interval> intervals;
  std::map<int, std::size_t> open;  // who -> index of its open interval
  std::map<std::string, std::uint64_t> last_epoch;
  std::vector<std::string> out;
  for (const Report& r : reports) {
    auto it = open.find(r.who);
    if (it != open.end()) {
      Interval& i = intervals[it->second];
      i.to = std::min(i.to, r.at);
      if (!r.leader || r.epoch != i.epoch) open.erase(it);
    }
    if (r.leader) {
      if (open.count(r.who) == 0) {
        const auto seen = last_epoch.find(r.scope);
        if (seen != last_epoch.end() && r.epoch <= seen->second) {
          out.push_back("epoch " + std::to_string(r.epoch) + " of instance " +
                        std::to_string(r.who) + " does not exceed " + std::to_string(seen->second));
        }
        last_epoch[r.scope] = r.epoch;
        intervals.push_back(Interval{r.who, r.at, r.valid_until, r.epoch});
        open[r.who] = intervals.size() - 1;
      } else {
        intervals[open[r.who]].to = r.valid_until;  // a renewal extends it
      }
    }
  }
  for (auto& [who, idx] : open) intervals[idx].to = std::min(intervals[idx].to, end);
  for (std::size_t i = 0; i < intervals.size(); ++i) {
    for (std::size_t j = i + 1; j < intervals.size(); ++j) {
      const Interval& a = intervals[i];
      const Interval& b = intervals[j];
      if (a.who != b.who && a.from < b.to && b.from < a.to) {
        out.push_back(
            "instances " + std::to_string(a.who) + " (epoch " + std::to_string(a.epoch) + ") and " +
            std::to_string(b.who) + " (epoch " + std::to_string(b.epoch) + ") overlap by " +
            std::to_string((std::min(a.to, b.to) - std::max(a.from, b.from)) / 1000) + " us");
      }
    }
  }
  return out;
}

int fail(const std::string& error) {
  std::cout << json{{"error", error}}.dump() << "\n";
  return 1;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: pgdc_kube_handover_driver <plugin> <config_json> <replicas> <rounds>\n";
    return 2;
  }
  const json base = json::parse(argv[2], nullptr, false);
  if (!base.is_object()) return fail("config_json is not a JSON object");
  const int n = std::atoi(argv[3]);
  const int rounds = std::atoi(argv[4]);
  if (n < 2 || n > 9 || rounds < 0) return fail("replicas must be 2..9, rounds >= 0");

  // One daemon runs one instance; this process runs n, each with a watch
  // (a long poll) on each's transports: size cpprest's shared pool for them
  // before the plugin sizes it for one (limit_cpprest_threads).
  crossplat::threadpool::initialize_with_threads(static_cast<std::size_t>(4 * n));

  const pgdc::LoadResult loaded = pgdc::load_plugin(pgdc::resolve_plugin_path(argv[1], ""));
  if (!loaded.plugin) return fail(loaded.error);
  World world;
  std::vector<std::unique_ptr<Ctx>> ctxs;
  std::vector<pgdc_host> hosts(static_cast<std::size_t>(n));
  std::vector<std::unique_ptr<pgdc::sdk::host::Instance>> instances;
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    ctxs.push_back(std::make_unique<Ctx>(Ctx{&world, i}));
    pgdc_host& h = hosts[static_cast<std::size_t>(i)];
    h.size = sizeof(h);
    h.abi_major = PGDC_ABI_MAJOR;
    h.abi_minor = PGDC_ABI_MINOR;
    h.ctx = ctxs.back().get();
    h.log = &host_log;
    h.monotonic_now_ns = &host_now;
    h.on_leadership = &host_leadership;
    h.report_progress = &host_progress;
    h.metric_define = &host_metric_define;
    h.metric_record = &host_metric_record;
    json config = base;
    ids.push_back(base.value("identity", "handover") + "-" + std::to_string(i));
    config["identity"] = ids.back();
    std::string error;
    auto instance =
        pgdc::sdk::host::Instance::create(loaded.plugin->descriptor, &h, config.dump(), &error);
    if (!instance) return fail(error);
    if (!instance->has_transfer()) return fail("the plugin offers no transfer");
    instances.push_back(std::move(instance));
  }
  for (auto& instance : instances) {
    std::string error;
    if (!instance->start(&error)) return fail(error);
  }
  const auto leader_now = [&]() -> int {  // with world.mutex held
    for (auto& [who, leading] : world.leading) {
      if (leading) return who;
    }
    return -1;
  };
  int leader = -1;
  {
    std::unique_lock lock(world.mutex);
    world.cv.wait_for(lock, std::chrono::seconds(60), [&] { return leader_now() >= 0; });
    leader = leader_now();
  }
  if (leader < 0) return fail("no leader within 60 s");

  // Refusals, before any handover: a follower is not leading, and the
  // leader does not hand over to itself (the host checks both first; the
  // plugin must refuse them on its own too). Both: PGDC_ERR_CONFLICT.
  const auto status_name = [](std::int32_t status) -> std::string {
    return status == PGDC_OK                ? "ok"
           : status == PGDC_ERR_CONFLICT    ? "conflict"
           : status == PGDC_ERR_UNAVAILABLE ? "unavailable"
                                            : "error " + std::to_string(status);
  };
  const int follower = (leader + 1) % n;
  const json refusals{
      {"from_follower",
       status_name(instances[static_cast<std::size_t>(follower)]
                       ->transfer(ids[static_cast<std::size_t>(leader)], now_ns() + 5'000'000'000)
                       .status)},
      {"to_self",
       status_name(instances[static_cast<std::size_t>(leader)]
                       ->transfer(ids[static_cast<std::size_t>(leader)], now_ns() + 5'000'000'000)
                       .status)}};

  json results = json::array();
  std::vector<double> latencies;
  std::vector<std::string> violations;
  constexpr std::int64_t kDeadlineNs = 5'000'000'000;
  for (int round = 0; round < rounds; ++round) {
    const int target = (leader + 1) % n;
    std::size_t seen;
    {
      std::lock_guard lock(world.mutex);
      seen = world.reports.size();
    }
    const std::int64_t t0 = now_ns();
    const auto r = instances[static_cast<std::size_t>(leader)]->transfer(
        ids[static_cast<std::size_t>(target)], t0 + kDeadlineNs);
    json row{{"from", ids[static_cast<std::size_t>(leader)]},
             {"to", ids[static_cast<std::size_t>(target)]},
             {"status", r.status == PGDC_OK ? "ok" : r.error}};
    if (r.status != PGDC_OK) {
      results.push_back(row);
      violations.push_back("round " + std::to_string(round) + ": transfer failed: " + r.error);
      break;
    }
    // The first LEADER report after the call must be the target's.
    std::unique_lock lock(world.mutex);
    std::int64_t took_at = 0;
    int next = -1;
    std::uint64_t epoch = 0;
    world.cv.wait_for(lock, std::chrono::seconds(30), [&] {
      for (std::size_t k = seen; k < world.reports.size(); ++k) {
        if (world.reports[k].leader) {
          next = world.reports[k].who;
          took_at = world.reports[k].at;
          epoch = world.reports[k].epoch;
          return true;
        }
      }
      return false;
    });
    if (next < 0) {
      violations.push_back("round " + std::to_string(round) + ": nobody took over within 30 s");
      break;
    }
    if (next != target) {
      violations.push_back("round " + std::to_string(round) + ": " +
                           ids[static_cast<std::size_t>(next)] + " took over, not the target");
    }
    const double ms = static_cast<double>(took_at - t0) / 1e6;
    latencies.push_back(ms);
    row["latency_ms"] = ms;
    row["new_leader"] = ids[static_cast<std::size_t>(next)];
    row["epoch"] = epoch;
    results.push_back(row);
    leader = next;
  }
  // Let every instance settle (a late takeover would show here), then stop.
  {
    std::unique_lock lock(world.mutex);
    world.cv.wait_for(lock, std::chrono::milliseconds(500), [] { return false; });
  }
  const std::int64_t end = now_ns();
  for (auto& instance : instances) {
    std::string error;
    instance->stop(true, now_ns() + 5'000'000'000, &error);
  }
  instances.clear();
  {
    std::lock_guard lock(world.mutex);
    for (auto& v : check(world.reports, end)) violations.push_back(v);
  }
  std::cout << json{{"rounds", results},
                    {"refusals", refusals},
                    {"violations", violations},
                    {"p50_ms", percentile(latencies, 0.5)},
                    {"p99_ms", percentile(latencies, 0.99)},
                    {"max_ms", latencies.empty()
                                   ? 0.0
                                   : *std::max_element(latencies.begin(), latencies.end())}}
                   .dump()
            << "\n";
  return 0;
}
