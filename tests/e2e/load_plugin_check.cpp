// pgdc_load_plugin_check <plugin> [config_json]
//
// Loads a plugin through core/plugin exactly as the daemon does (resolve,
// load, validate), then create -> start -> wait for the first leadership
// report (5 s) -> stop(release) -> destroy, with a minimal host that prints
// what the plugin reports. Prints the descriptor line first:
//   plugin "<path>": <name> <version> (ABI <major>.<minor>): <description>
// <plugin>: a name (looked up in the default plugin dir) or a path.
// Exit 0 on success; 1 with the loader's one-line message on stderr.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include <pgdog_control/plugin.h>

#include "plugin/plugin_instance.h"
#include "plugin/plugin_loader.h"

namespace {

struct CheckHost {
  std::mutex mutex;
  std::condition_variable reported;
  bool have_report = false;
  std::atomic<bool> stopped{false};
  std::atomic<int> calls_after_stop{0};
  std::chrono::steady_clock::time_point origin = std::chrono::steady_clock::now();

  static CheckHost& self(void* ctx) { return *static_cast<CheckHost*>(ctx); }
  static std::string text(pgdc_str s) { return s.data ? std::string(s.data, s.len) : ""; }
  bool accept() {
    if (!stopped.load()) return true;
    ++calls_after_stop;
    return false;
  }

  static void log(void* ctx, std::uint32_t level, pgdc_str message) {
    if (!self(ctx).accept()) return;
    std::cerr << "plugin log [" << level << "]: " << text(message) << "\n";
  }
  static std::int64_t now(void* ctx) {
    self(ctx).accept();
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  static void leadership(void* ctx, const pgdc_leadership* l) {
    CheckHost& h = self(ctx);
    if (!h.accept() || l == nullptr) return;
    std::cout << "leadership: role=" << (l->role == PGDC_ROLE_LEADER ? "leader" : "follower")
              << " holder=" << text(l->holder) << " scope=" << text(l->epoch_scope)
              << " epoch=" << l->epoch << "\n";
    std::lock_guard<std::mutex> lock(h.mutex);
    h.have_report = true;
    h.reported.notify_all();
  }
  static void progress(void* ctx) { self(ctx).accept(); }
  static std::int64_t metric_define(void* ctx, std::uint32_t, pgdc_str, pgdc_str, pgdc_str,
                                    const double*, std::size_t) {
    self(ctx).accept();
    return 0;
  }
  static void metric_record(void* ctx, std::int64_t, std::uint32_t, double) { self(ctx).accept(); }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: pgdc_load_plugin_check <plugin name or path> [config_json]\n";
    return 2;
  }
  const std::string config =
      argc == 3 ? argv[2] : R"({"identity":"pgdc-load-plugin-check","options":{}})";
  const std::string path = pgdc::resolve_plugin_path(argv[1], "");
  const pgdc::LoadResult loaded = pgdc::load_plugin(path);
  if (!loaded.plugin) {
    std::cerr << loaded.error << "\n";
    return 1;
  }
  const pgdc_plugin_descriptor* d = loaded.plugin->descriptor;
  std::cout << "plugin \"" << loaded.plugin->path << "\": " << d->name << " " << d->version
            << " (ABI " << d->abi_major << "." << d->abi_minor << "): " << d->description << "\n";

  CheckHost state;
  pgdc_host host{};
  host.size = sizeof(host);
  host.abi_major = PGDC_ABI_MAJOR;
  host.abi_minor = PGDC_ABI_MINOR;
  host.ctx = &state;
  host.log = &CheckHost::log;
  host.monotonic_now_ns = &CheckHost::now;
  host.on_leadership = &CheckHost::leadership;
  host.report_progress = &CheckHost::progress;
  host.metric_define = &CheckHost::metric_define;
  host.metric_record = &CheckHost::metric_record;

  std::string error;
  auto instance = pgdc::PluginInstance::create(*loaded.plugin, &host, config, &error);
  if (!instance) {
    std::cerr << error << "\n";
    return 1;
  }
  if (!instance->start(&error)) {
    std::cerr << error << "\n";
    return 1;
  }
  bool reported = false;
  {
    std::unique_lock<std::mutex> lock(state.mutex);
    reported =
        state.reported.wait_for(lock, std::chrono::seconds(5), [&] { return state.have_report; });
  }
  const std::string label = instance->label();
  const bool stopped = instance->stop(true, CheckHost::now(&state) + 2'000'000'000, &error);
  state.stopped = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // catch stragglers
  instance.reset();
  if (!stopped) {
    std::cerr << error << "\n";
    return 1;
  }
  if (!reported) {
    std::cerr << label << ": no leadership report within 5 s of start()\n";
    return 1;
  }
  if (state.calls_after_stop.load() != 0) {
    std::cerr << label << ": " << state.calls_after_stop.load()
              << " host call(s) after stop() returned\n";
    return 1;
  }
  std::cout << "ok\n";
  return 0;
}
