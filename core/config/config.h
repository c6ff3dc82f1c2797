// The daemon's configuration: what the YAML file says after validation.
//
// Config is validated once, at the edge (load_config); code behind it only
// ever sees valid values. Every problem in a file is reported in one run, each
// naming the key, the value and the rule it breaks.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "log/log_level.h"

namespace pgdc {

struct LeaderConfig {
  // false: the noop plugin, exactly one replica, no election.
  bool enabled = false;
  // Plugin name resolved in plugin_dir as <name>.so, or a path to a .so.
  std::string backend = "kubernetes";
  // Unique per process start; default <POD_NAME or host name>_<random suffix>.
  std::string identity;
  // A DNS-1123 subdomain.
  std::string lease_name = "pgdog-control";
  // Empty: the backend decides (POD_NAMESPACE, then the service account's).
  std::string lease_namespace;
  // Invariants (docs/configuration.md#the-timing-rule):
  //   lease_interval >= 100 ms;
  //   lease_duration > renew_deadline > 1.2 * lease_interval;
  //   lease_duration - renew_deadline >= max(1 s, lease_duration / 10);
  //   0 < stop_work_timeout < lease_duration - renew_deadline.
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds lease_interval{5000};
  // Default: duration - max(interval, max(1 s, duration / 10)).
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds release_timeout{5000};  // >= 0
  // How long the end of a term waits for in-flight leader-only work before
  // giving up on it (and, at shutdown, keeping the lease instead of
  // releasing it). Default: min(2 s, (lease_duration - renew_deadline) / 2).
  std::chrono::milliseconds stop_work_timeout{2000};
  // Free-form backend settings (leader.options), as a JSON object string.
  std::string options_json = "{}";
};

struct HttpConfig {
  std::size_t max_header_bytes = 8 * 1024;
  // The largest body the server reads (routes have smaller limits of their
  // own); matches api.telemetry.max_upload_bytes, the largest the APIs take.
  std::size_t max_body_bytes = 256 * 1024;
  // Open connections at most; more are closed at once (a warning, a metric).
  std::size_t max_connections = 10000;
  std::chrono::milliseconds read_timeout{10000};  // per request, headers and body
  std::chrono::milliseconds idle_timeout{60000};  // keep-alive between requests
  std::chrono::milliseconds drain_timeout{5000};  // graceful shutdown bound
  // Server I/O threads. Two keep a burst of requests (a fleet's long polls
  // ending together) from queueing behind one thread; handlers are short.
  int io_threads = 2;
};

// One PgDog deployment the machine API serves. Its nodes authenticate with any
// of its tokens (inline, plus one per line of token_file, read at startup).
struct ApiDeploymentConfig {
  std::string name;  // 1-63 of [A-Za-z0-9._-]; unique
  std::vector<std::string> tokens;
  std::string token_file;
};

enum class WebReadAccess { kOpen, kToken };

// The /api/v2 (machine) and /api/web (dashboard) APIs; see docs/api.md.
// Invariants: stale_after < evict_after; default_wait <= max_wait; a token
// (inline) is at least 16 visible ASCII characters and names one role only.
struct ApiConfig {
  std::vector<ApiDeploymentConfig> deployments;  // none: every machine token is 401
  // Secure by default: fleet data (query text, telemetry) needs a token.
  WebReadAccess web_read_access = WebReadAccess::kToken;
  // With open reads, the Host names web API requests may carry (besides
  // localhost, the listen and the advertised hosts): DNS rebinding cannot
  // reach the API under another name. Lower-case, without ports.
  std::vector<std::string> web_allowed_hosts;
  std::vector<std::string> web_admin_tokens;
  std::string web_admin_token_file;
  std::vector<std::string> web_read_tokens;
  std::string web_read_token_file;
  std::chrono::milliseconds retention{300000};
  std::size_t max_nodes_per_deployment = 10000;
  std::size_t max_entries_per_upload = 1000;
  std::size_t max_upload_bytes = 256 * 1024;
  std::size_t max_string_bytes = 4096;
  std::chrono::milliseconds stale_after{5000};
  std::chrono::milliseconds evict_after{60000};
  std::size_t command_history = 200;
  // Fleet data memory budget (fleet::FleetStore): 64 MiB in all, 32 MiB per
  // deployment, within the chart's suggested 128 MiB limit.
  std::size_t memory_max_bytes = 64 * 1024 * 1024;
  std::size_t memory_max_bytes_per_deployment = 32 * 1024 * 1024;
  std::chrono::milliseconds max_wait{30000};
  std::chrono::milliseconds default_wait{25000};
  bool forward_to_leader = false;
  // The secret the replicas share to prove which of them leads
  // (api/leader_proof.h); needed with forward_to_leader.
  std::string forward_secret_file;
};

struct LogConfig {
  LogLevel level = LogLevel::kInfo;
  LogFormat format = LogFormat::kText;
};

struct Config {
  std::string listen_host = "0.0.0.0";
  std::uint16_t listen_port = 8080;
  // Empty: <directory of the executable>/../lib/pgdog-control/plugins.
  std::string plugin_dir;
  // host:port other replicas and clients use to reach this one; default
  // <POD_IP or host name>:<listen port>.
  std::string advertise_address;
  // An absolute path, or empty. Set: a single replica keeps its control state
  // (node registry, command log) in files there (state::FileStateBackend).
  // Never with leader.enabled (config_checks.cpp): replicas then share the
  // coordination plugin's state store instead.
  std::string state_dir;
  LeaderConfig leader;
  HttpConfig http;
  LogConfig log;
  ApiConfig api;
};

// One problem found in a config: the dotted key path, and what is wrong.
struct ConfigError {
  std::string key;      // e.g. "leader.lease_interval_secs"
  std::string message;  // names the value and the rule
  std::string str() const { return key.empty() ? message : key + ": " + message; }
};

struct ConfigResult {
  std::optional<Config> config;     // set only when errors is empty
  std::vector<ConfigError> errors;  // every problem, in file order
  // Valid but questionable settings; the daemon logs each at startup.
  std::vector<ConfigError> warnings;
};

// Parses and validates YAML text. `source` names the file in messages.
ConfigResult parse_config(const std::string& yaml_text, const std::string& source);

// Reads and parses a file; a missing or unreadable file is one error.
ConfigResult load_config(const std::string& path);

// The configuration used when no file is given: the embedded default
// (no-op plugin, single replica, listen on 0.0.0.0:8080).
Config default_config();

// Fills derived defaults that depend on the environment: leader.identity
// (POD_NAME or host name, plus a random suffix) and advertise_address.
void resolve_environment_defaults(Config& config);

}  // namespace pgdc
