// pgdc_kube_state_driver <plugin> <config_json>
//
// Drives a plugin's state store (ABI 1.3) the way the host does: loads the
// plugin through core/plugin (as the daemon does), creates and starts an
// instance with <config_json>, runs the operations read from stdin, stops it
// (release) and prints one JSON object on stdout:
//   {"results":[...], "requests":{"<verb>/<resource>/<code>":n, ...}}
// stdin: a JSON array of operations, each
//   {"op":"read","key":"k"} or {"op":"write","key":"k","value":"...","expected":"v"}
// (values go through stdin: a 768 KiB value does not fit in one argument).
// Each result: {"status":"ok"|"conflict"|"config"|"unavailable"|"internal",
// "found":bool, "value":"...", "version":"...", "error":"..."}.
// "requests" counts kube_api_requests_total as the plugin reported it, so a
// test sees how many API requests the operations cost.
// Exit 0 when the instance started and every operation ran (whatever its
// result); 1 with {"error":"..."} otherwise.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>

#include <pgdog_control/plugin.h>
#include <nlohmann/json.hpp>
#include <pgdog_control/host.hpp>

#include "plugin/plugin_loader.h"

namespace {

using json = nlohmann::json;

// The host table's context: plugin log lines go to stderr, counter handles
// are remembered by their labels so the driver can print request counts.
struct DriverHost {
  std::mutex mutex;
  std::map<std::int64_t, std::string> labels;  // handle -> labels of kube_api_requests_total
  std::map<std::string, double> counts;        // labels -> sum recorded

  static DriverHost& self(void* ctx) { return *static_cast<DriverHost*>(ctx); }
  static std::string text(pgdc_str s) { return s.data ? std::string(s.data, s.len) : ""; }

  static void log(void*, std::uint32_t level, pgdc_str message) {
    std::cerr << "plugin log [" << level << "]: " << text(message) << "\n";
  }
  static std::int64_t now(void*) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  static void leadership(void*, const pgdc_leadership*) {}
  static void progress(void*) {}
  static std::int64_t metric_define(void* ctx, std::uint32_t, pgdc_str name, pgdc_str,
                                    pgdc_str labels, const double*, std::size_t) {
    DriverHost& h = self(ctx);
    std::lock_guard lock(h.mutex);
    const std::int64_t handle = static_cast<std::int64_t>(h.labels.size()) + 1;
    h.labels[handle] = text(name) == "kube_api_requests_total" ? text(labels) : "";
    return handle;
  }
  static void metric_record(void* ctx, std::int64_t handle, std::uint32_t, double value) {
    DriverHost& h = self(ctx);
    std::lock_guard lock(h.mutex);
    auto it = h.labels.find(handle);
    if (it == h.labels.end() || it->second.empty()) return;
    const json l = json::parse(it->second, nullptr, false);
    if (!l.is_object()) return;
    h.counts[l.value("verb", "?") + "/" + l.value("resource", "?") + "/" + l.value("code", "?")] +=
        value;
  }
};

std::string status_name(std::int32_t status) {
  switch (status) {
    case PGDC_OK:
      return "ok";
    case PGDC_ERR_CONFLICT:
      return "conflict";
    case PGDC_ERR_CONFIG:
      return "config";
    case PGDC_ERR_UNAVAILABLE:
      return "unavailable";
    default:
      return "internal";
  }
}

int fail(const std::string& error) {
  std::cout << json{{"error", error}}.dump() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: pgdc_kube_state_driver <plugin> <config_json> < operations.json\n";
    return 2;
  }
  std::ostringstream input;
  input << std::cin.rdbuf();
  const json ops = json::parse(input.str(), nullptr, false);
  if (!ops.is_array()) return fail("stdin is not a JSON array of operations");

  const pgdc::LoadResult loaded = pgdc::load_plugin(pgdc::resolve_plugin_path(argv[1], ""));
  if (!loaded.plugin) return fail(loaded.error);
  DriverHost state;
  pgdc_host host{};
  host.size = sizeof(host);
  host.abi_major = PGDC_ABI_MAJOR;
  host.abi_minor = PGDC_ABI_MINOR;
  host.ctx = &state;
  host.log = &DriverHost::log;
  host.monotonic_now_ns = &DriverHost::now;
  host.on_leadership = &DriverHost::leadership;
  host.report_progress = &DriverHost::progress;
  host.metric_define = &DriverHost::metric_define;
  host.metric_record = &DriverHost::metric_record;

  std::string error;
  auto instance =
      pgdc::sdk::host::Instance::create(loaded.plugin->descriptor, &host, argv[2], &error);
  if (!instance) return fail(error);
  if (!instance->has_state_store()) return fail("the plugin offers no state store");
  if (!instance->start(&error)) return fail(error);

  constexpr std::int64_t kTimeoutNs = 10'000'000'000;  // per operation, as a host might
  json results = json::array();
  for (const json& op : ops) {
    const std::string key = op.value("key", "");
    const std::int64_t deadline = DriverHost::now(nullptr) + kTimeoutNs;
    const auto r =
        op.value("op", "") == "write"
            ? instance->state_write(key, op.value("value", ""), op.value("expected", ""), deadline)
            : instance->state_read(key, deadline);
    results.push_back({{"status", status_name(r.status)},
                       {"found", r.found},
                       {"value", r.value},
                       {"version", r.version},
                       {"error", r.error}});
  }
  instance->stop(true, DriverHost::now(nullptr) + 5'000'000'000, &error);
  instance.reset();
  json requests = json::object();
  {
    std::lock_guard lock(state.mutex);
    for (const auto& [k, v] : state.counts) requests[k] = v;
  }
  std::cout << json{{"results", results}, {"requests", requests}}.dump() << "\n";
  return 0;
}
