#include "daemon/app.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "api/api_service.h"
#include "api/fleet_metrics.h"
#include "api/leader_forwarder.h"
#include "api/leader_proof.h"
#include "api/token_reloader.h"
#include "config/config.h"
#include "daemon/failpoints.h"
#include "daemon/fd_limit.h"
#include "daemon/plugin_config.h"
#include "daemon/shutdown.h"
#include "dashboard/dashboard_routes.h"
#include "fleet/token_auth.h"
#include "fleet/token_file_watch.h"
#include "http/http_server.h"
#include "http/router.h"
#include "leadership/leadership_state.h"
#include "log/logger.h"
#include "members/member_metrics.h"
#include "members/member_service.h"
#include "members/plugin_member_backend.h"
#include "metrics/metrics.h"
#include "plugin/host_services.h"
#include "plugin/plugin_instance.h"
#include "plugin/plugin_loader.h"
#include "state/file_state_backend.h"
#include "state/keeper_status_json.h"
#include "state/plugin_state_backend.h"
#include "state/state_metrics.h"
#include "status/leadership_metrics.h"
#include "status/status_routes.h"

namespace pgdc {
namespace {

constexpr std::string_view kLog = "core";

std::string seconds_str(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(ms.count()) / 1000.0);
  return std::string(buf) + "s";
}

// Logs every published leadership change and keeps the leader gauges fresh.
std::vector<std::string> deployment_names(const ApiConfig& api) {
  std::vector<std::string> out;
  for (const auto& d : api.deployments) out.push_back(d.name);
  return out;
}

void watch_leadership(LeadershipState& state, LeadershipMetrics& metrics) {
  auto last = std::make_shared<std::pair<bool, Epoch>>(false, Epoch{});
  state.add_listener([&metrics, last](const LeadershipSnapshot& s) {
    metrics.record(s);
    if (s.ready != last->first || !(s.epoch == last->second)) {
      if (s.ready) {
        log::info(kLog, "ready: leading with epoch " + s.epoch.str());
      } else {
        log::info(kLog, std::string("not ready: role ") + std::string(role_name(s.role)) +
                            ", holder \"" + s.holder + "\"" +
                            (s.shutting_down ? ", shutting down" : ""));
      }
      *last = {s.ready, s.epoch};
    }
  });
}

}  // namespace

int run_daemon(const CliOptions& cli, ShutdownSignals& signals) {
  // 1. Configuration: every problem reported at once, then exit 2.
  ConfigResult loaded = cli.config_path.empty() ? ConfigResult{default_config(), {}, {}}
                                                : load_config(cli.config_path);
  if (!loaded.config) {
    const std::string source = cli.config_path.empty() ? "<embedded default>" : cli.config_path;
    std::cerr << "pgdog-control: invalid configuration in " << source << " ("
              << loaded.errors.size() << (loaded.errors.size() == 1 ? " problem" : " problems")
              << "):\n";
    for (const auto& e : loaded.errors) std::cerr << "  " << e.str() << "\n";
    return kExitUsage;
  }
  Config config = std::move(*loaded.config);
  if (cli.log_level) config.log.level = *cli.log_level;
  if (cli.log_format) config.log.format = *cli.log_format;
  log::configure(config.log.level, config.log.format);
  for (const auto& w : loaded.warnings) log::warn(kLog, "configuration: " + w.str());
  resolve_environment_defaults(config);
  // Token files: a startup error here; later changes are reloaded (step 3).
  fleet::TokenFileWatch token_files(config.api);
  fleet::TokenLoad tokens = token_files.load();
  if (!tokens.auth) {
    std::cerr << "pgdog-control: invalid API tokens:\n";
    for (const auto& e : tokens.errors) std::cerr << "  " << e << "\n";
    return kExitUsage;
  }
  for (const auto& w : tokens.warnings) log::warn(kLog, w);
  // The replicas' shared secret for leader proofs (api/leader_proof.h).
  std::optional<api::ForwardSecret> forward_secret;
  if (!config.api.forward_secret_file.empty()) {
    api::ForwardSecretLoad s = api::load_forward_secret(config.api.forward_secret_file);
    if (!s.secret) {
      std::cerr << "pgdog-control: " << s.error << "\n";
      return kExitUsage;
    }
    if (!s.warning.empty()) log::warn(kLog, s.warning);
    forward_secret = std::move(s.secret);
  }
  if (const std::string w = raise_fd_limit(config.http.max_connections); !w.empty()) {
    log::warn(kLog, w);
  }

  // 2. The coordination plugin: loaded, validated and created before anything
  // listens, so a broken plugin is a startup error, not a half-running daemon.
  const std::string backend = config.leader.enabled ? config.leader.backend : "noop";
  const std::string plugin_path = resolve_plugin_path(backend, config.plugin_dir);
  LoadResult plugin_lib = load_plugin(plugin_path);
  if (!plugin_lib.plugin) {
    std::cerr << "pgdog-control: " << plugin_lib.error << "\n";
    return kExitUsage;
  }

  LeadershipOptions leadership_options;
  leadership_options.progress_timeout = 2 * config.leader.lease_duration;
  leadership_options.stop_work_timeout = config.leader.stop_work_timeout;
  // A plugin renews (and reports) every interval: a refusal that outlives
  // one is a disagreement, not a race.
  leadership_options.disagreement_timeout = config.leader.lease_interval;
  LeadershipState state(leadership_options);
  // After the state it hooks into: destroyed first, its tasks are joined
  // while the state still exists.
  std::string failpoint_error;
  std::unique_ptr<DaemonFailpoints> failpoints = DaemonFailpoints::from_env(&failpoint_error);
  if (!failpoint_error.empty()) {
    std::cerr << "pgdog-control: " << failpoint_error << "\n";
    return kExitUsage;
  }
  // Every core series is defined before the plugin runs, so a plugin cannot
  // take one of their names.
  Metrics metrics;
  LeadershipMetrics leadership_metrics(metrics);
  api::FleetMetrics fleet_metrics(metrics, deployment_names(config.api));
  members::MemberMetrics member_metrics(metrics);
  const std::string plugin_name = plugin_lib.plugin->descriptor->name;
  HostServices host(plugin_name, state, metrics);
  std::string error;
  std::unique_ptr<PluginInstance> plugin =
      PluginInstance::create(*plugin_lib.plugin, host.c_host(), plugin_config_json(config), &error);
  if (!plugin) {
    std::cerr << "pgdog-control: " << error << "\n";
    return kExitUsage;
  }

  const std::string listen = config.listen_host + ":" + std::to_string(config.listen_port);
  const LeaderConfig& lc = config.leader;
  const std::string summary =
      "plugin " + plugin->name() + " " + plugin->version() + " (" + plugin_lib.plugin->path +
      "); " +
      (lc.enabled
           ? "leader election on: lease " + lc.lease_name + ", duration " +
                 seconds_str(lc.lease_duration) + ", renew deadline " +
                 seconds_str(lc.renew_deadline) + ", interval " + seconds_str(lc.lease_interval) +
                 ", release timeout " + seconds_str(lc.release_timeout) + ", stop-work timeout " +
                 seconds_str(lc.stop_work_timeout)
           : std::string("leader election off (single replica)")) +
      "; listen " + listen + "; identity " + lc.identity;
  if (cli.check) {
    std::cout << "pgdog-control: configuration OK ("
              << (cli.config_path.empty() ? "<embedded default>" : cli.config_path)
              << "): " << summary << "\n";
    return kExitOk;  // created, never started: destroy is all it needs
  }
  log::info(kLog, "pgdog-control " PGDC_VERSION " starting: " + summary);

  // 3. HTTP: the probes must answer before the election starts, so the
  // replica is live (and not ready) from its first second.
  watch_leadership(state, leadership_metrics);
  if (failpoints) {
    log::warn(kLog, "failpoints active (testing only; unset PGDC_FAILPOINTS in production): " +
                        failpoints->describe());
    failpoints->attach(state);
  }
  leadership_metrics.record(state.snapshot());
  const StatusInfo status_info{lc.identity, plugin->name(), plugin->version(), lc,
                               config.advertise_address};
  // Durable control state: the plugin's state store (ABI 1.3) when it has
  // one, else files in state_dir (a single replica; the config refuses
  // state_dir with leader election).
  std::unique_ptr<state::StateBackend> state_backend = state::PluginStateBackend::of(*plugin);
  if (!state_backend && !config.state_dir.empty()) {
    state_backend = state::FileStateBackend::open(config.state_dir, &error);
    if (!state_backend) {
      std::cerr << "pgdog-control: " << error << "\n";
      return kExitUsage;
    }
  }
  if (state_backend) {
    log::info(kLog,
              "control state (node registry, command log) is kept in " + state_backend->describe());
  } else {
    log::warn(kLog, "control state is kept in memory only: plugin " + plugin->name() +
                        " has no state store and state_dir is not set, so registered nodes, "
                        "commands and their delivery state are lost at every restart, handover "
                        "and failover");
  }
  state::KeeperOptions keeper_options;
  // A store call runs as leader work: the end of a term waits for it, so it
  // is bounded by the stop-work timeout.
  keeper_options.store_timeout = std::min<std::chrono::milliseconds>(
      lc.stop_work_timeout,
      std::max<std::chrono::milliseconds>(std::chrono::milliseconds(500), lc.renew_deadline / 2));
  api::ApiService api(config.api, std::move(*tokens.auth), state, fleet_metrics, status_info,
                      std::move(state_backend), keeper_options);
  const state::StateMetrics state_metrics(metrics, api.keeper(), deployment_names(config.api));
  // The replicas (ABI 1.4 members and handover, each optional): after `api`,
  // whose keeper says whether this replica is fenced; stopped before it.
  members::PluginMemberBackend member_backend(*plugin);
  members::MemberServiceOptions member_options;
  member_options.self = {lc.identity, config.advertise_address, PGDC_VERSION,
                         plugin->name() + " " + plugin->version()};
  member_options.transfer_timeout = lc.release_timeout;
  member_options.check_interval = std::clamp<std::chrono::milliseconds>(
      lc.lease_interval, std::chrono::seconds(1), std::chrono::seconds(15));
  members::MemberService member_service(member_backend, state, &member_metrics, member_options);
  member_service.set_fenced([&api] { return api.state_status().fenced; });
  api.set_members(&member_service);
  // Followers proxy /api/ requests to the leader's advertised address (from
  // the backend) instead of answering 503, when configured. Declared before
  // the server so it outlives every handler that may call it.
  std::unique_ptr<LeaderForwarder> forwarder;
  if (config.api.forward_to_leader && forward_secret) {  // the config requires the secret
    LeaderForwarder::Options fo;
    fo.identity = lc.identity;
    fo.secret = forward_secret->value;
    fo.timeout = config.api.max_wait + std::chrono::seconds(10);  // a forwarded long poll
    forwarder = std::make_unique<LeaderForwarder>(fo);
    api.set_forward([&state, fwd = forwarder.get(), self = config.advertise_address](
                        HttpRequest& request, Respond& respond) {
      const LeadershipSnapshot s = state.snapshot();
      if (s.shutting_down || s.holder_address == self ||
          !LeaderForwarder::can_forward(request, s.holder_address)) {
        return false;  // the gate answers 503 not_leader
      }
      fwd->forward(std::move(request), s.holder, s.holder_address, std::move(respond));
      return true;
    });
  }
  // Rotated tokens are taken without a restart. After `api`: stopped before it.
  api::TokenReloader token_reloader(
      std::move(token_files), fleet_metrics,
      [&api](std::shared_ptr<const fleet::TokenAuth> t) { api.replace_tokens(std::move(t)); });
  Router router;
  add_status_routes(
      router, state, metrics, leadership_metrics, status_info,
      [&api] { return state::state_status_json(api.state_status()); },
      [&api, wait = 2 * lc.lease_interval] { return api.state_wedged(wait); });
  api.add_routes(router);  // /api/v2/ and /api/web/, leader-gated
  if (forward_secret) {
    api::add_leader_proof_route(router, state, lc.identity, config.advertise_address,
                                *forward_secret);
  }
  api.start();
  token_reloader.start();
  log::info(kLog, "api: " + std::to_string(config.api.deployments.size()) + " deployment(s)" +
                      (config.api.deployments.empty()
                           ? " (none configured: the machine API answers 401 to every token)"
                           : std::string()));
  add_dashboard_routes(router);  // GET / and /assets/: the embedded web dashboard
  HttpServer server(config.http, router,
                    [&metrics](std::string_view method, std::string_view route, int status,
                               std::chrono::duration<double> latency) {
                      metrics.record_http(method, route, status, latency);
                    });
  try {
    server.listen(config.listen_host, config.listen_port);
  } catch (const std::exception& e) {
    log::error(kLog, e.what());
    return kExitRuntime;
  }
  server.start(config.http.io_threads);
  const Metrics::Collector connections = metrics.add_collector([&metrics, &server] {
    metrics.record_http_connections(server.open_connections(), server.refused_connections());
  });
  log::info(kLog, "listening on " + config.listen_host + ":" + std::to_string(server.port()));

  // 4. The election.
  state.start_watchdog();
  if (!plugin->start(&error)) {
    log::error(kLog, error);  // already names the plugin file and version
    state.begin_shutdown();
    server.stop();
    return kExitRuntime;
  }
  member_service.start();  // publishes this replica as eligible

  // 5. Run until told to stop.
  const int sig = signals.wait();
  signals.exit_on_second_signal();
  log::info(kLog, sig == 0 ? std::string("stopping after a runtime failure")
                           : "received signal " + std::to_string(sig) + ", shutting down");
  member_service.begin_shutdown();  // not eligible: no replica hands over to this one

  // 6. Shutdown, in this order: readiness false and leader work stopped
  // (begin_shutdown), then the plugin releases within release_timeout (only
  // now is it safe for another replica to act), then HTTP drains.
  // Pending state changes are written while this replica still leads, and
  // the keeper's store calls end before the plugin is stopped.
  if (!api.finish_state(lc.stop_work_timeout)) {
    log::warn(kLog,
              "shutdown: some state changes were not written (their requests were "
              "answered 503; the next leader resumes from the last write)");
  }
  const LeadershipStopResult stopped = stop_leadership(
      state, *plugin, host, lc.release_timeout, std::chrono::milliseconds(1000), &member_service);
  if (stopped.hung) {
    log::error(kLog, "plugin " + plugin->name() + " did not return from stop() within " +
                         seconds_str(lc.release_timeout) + " + 1s; exiting without it");
    std::fflush(nullptr);
    ::_exit(kExitRuntime);  // its thread still runs inside the plugin: no safe unwind
  }
  if (!stopped.release_allowed) {
    log::error(kLog, "leader-only work was still running " + seconds_str(lc.stop_work_timeout) +
                         " after leadership ended: the lease was not released, so no other "
                         "replica acts beside it; it expires after the lease duration");
  }
  if (stopped.handover_tried) {
    const members::HandoverOutcome& h = stopped.handover;
    if (h.handed_over) {
      log::info(kLog, "shutdown: handed the leadership over to \"" + h.target + "\"" +
                          (h.newer ? " (a newer version)" : ""));
    } else {
      log::warn(kLog, "shutdown: no handover (" + h.why +
                          (h.target.empty() ? std::string() : ", target \"" + h.target + "\"") +
                          "); released the leadership instead");
    }
  }
  if (!stopped.clean) log::warn(kLog, "plugin stop: " + stopped.error);
  member_service.stop();
  token_reloader.stop();
  api.stop();  // parked command polls answered before the drain waits for them
  if (forwarder) forwarder->shutdown();  // so are forwarded ones
  server.stop_accepting();
  if (!server.drain(config.http.drain_timeout)) {
    log::warn(kLog, "HTTP drain timed out after " + seconds_str(config.http.drain_timeout) +
                        "; closed remaining connections");
  }
  server.stop();
  state.stop_watchdog();
  log::info(kLog, std::string(stopped.handover.handed_over ? "stopped; leadership handed over in "
                                                           : "stopped; leadership released in ") +
                      std::to_string(stopped.took.count()) + "ms" +
                      (!stopped.release_allowed ? " (lease kept until it expires)"
                       : stopped.clean          ? ""
                                                : " (release not confirmed)"));
  return kExitOk;
}

}  // namespace pgdc
