// pgdc_kube_members_driver <plugin> <config_json>
//
// Drives a plugin's members (ABI 1.4) and election the way the host does:
// loads the plugin through core/plugin (as the daemon does), creates and
// starts an instance with <config_json>, then answers one command per stdin
// line with one JSON line on stdout:
//   publish <0|1> <address> <version>  member_publish (eligible, address, version)
//                                      -> {"status":"ok"|...,"error":"..."}
//   list                               members_list (5 s deadline)
//                                      -> {"status":..., "error":..., "members":[{...}]}
//   role                               -> {"leading":bool,"holder":"...","epoch":n}
//   stop                               stop (release) -> {"status":..., "stopped":true}; exit
// Plugin log lines go to stderr. Exit 0 after stop; 1 with {"error":"..."}
// when the instance does not start.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>

#include <pgdog_control/plugin.h>
#include <nlohmann/json.hpp>
#include <pgdog_control/host.hpp>

#include "plugin/plugin_loader.h"

namespace {

using json = nlohmann::json;

struct DriverHost {
  std::mutex mutex;
  bool leading = false;
  std::string holder;
  std::uint64_t epoch = 0;

  static DriverHost& self(void* ctx) { return *static_cast<DriverHost*>(ctx); }
  static std::string text(pgdc_str s) { return s.data ? std::string(s.data, s.len) : ""; }
  static void log(void*, std::uint32_t level, pgdc_str message) {
    std::cerr << "plugin log [" << level << "]: " << text(message) << std::endl;
  }
  static std::int64_t now(void*) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  static void leadership(void* ctx, const pgdc_leadership* l) {
    DriverHost& h = self(ctx);
    std::lock_guard lock(h.mutex);
    h.leading = l->role == PGDC_ROLE_LEADER;
    h.holder = text(l->holder);
    h.epoch = l->epoch;
  }
  static void progress(void*) {}
  static std::int64_t metric_define(void*, std::uint32_t, pgdc_str, pgdc_str, pgdc_str,
                                    const double*, std::size_t) {
    return 1;
  }
  static void metric_record(void*, std::int64_t, std::uint32_t, double) {}
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

void reply(const json& j) { std::cout << j.dump() << std::endl; }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: pgdc_kube_members_driver <plugin> <config_json>\n";
    return 2;
  }
  const pgdc::LoadResult loaded = pgdc::load_plugin(pgdc::resolve_plugin_path(argv[1], ""));
  if (!loaded.plugin) {
    reply(json{{"error", loaded.error}});
    return 1;
  }
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
  if (!instance) {
    reply(json{{"error", error}});
    return 1;
  }
  if (!instance->has_member_publish() || !instance->has_members_list()) {
    reply(json{{"error", "the plugin offers no members"}});
    return 1;
  }
  const json config = json::parse(argv[2], nullptr, false);
  const std::string identity = config.is_object() ? config.value("identity", "") : "";
  if (!instance->start(&error)) {
    reply(json{{"error", error}});
    return 1;
  }
  reply(json{{"started", true}});
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd == "publish") {
      int eligible = 1;
      pgdc::sdk::host::Instance::Member m;
      in >> eligible >> m.address >> m.version;
      m.identity = identity;
      m.backend = "kubernetes test";
      m.eligible = eligible != 0;
      const auto r = instance->member_publish(m);
      reply(json{{"status", status_name(r.status)}, {"error", r.error}});
    } else if (cmd == "list") {
      const auto r = instance->members_list(DriverHost::now(nullptr) + 5'000'000'000);
      json members = json::array();
      for (const auto& m : r.members) {
        members.push_back({{"identity", m.identity},
                           {"address", m.address},
                           {"version", m.version},
                           {"backend", m.backend},
                           {"eligible", m.eligible},
                           {"heartbeat_age_ms", m.heartbeat_age_ms},
                           {"stale", m.stale}});
      }
      reply(json{{"status", status_name(r.status)}, {"error", r.error}, {"members", members}});
    } else if (cmd == "role") {
      std::lock_guard lock(state.mutex);
      reply(json{{"leading", state.leading}, {"holder", state.holder}, {"epoch", state.epoch}});
    } else if (cmd == "stop") {
      break;
    } else {
      reply(json{{"error", "unknown command: " + cmd}});
    }
  }
  const bool ok = instance->stop(true, DriverHost::now(nullptr) + 5'000'000'000, &error);
  instance.reset();
  reply(json{{"status", ok ? "ok" : "failed"}, {"error", error}, {"stopped", true}});
  return 0;
}
