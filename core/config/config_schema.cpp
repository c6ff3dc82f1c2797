#include "config/config_schema.h"

#include <array>
#include <chrono>

namespace pgdc::config_schema {
namespace {

namespace rules = config_rules;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::int64_t kMax = rules::kMaxValue;

// --- choices (the order is the order of the enums they map to) ---

constexpr std::array<std::string_view, 4> kLevels = {"debug", "info", "warn", "error"};
constexpr std::array<std::string_view, 2> kFormats = {"text", "json"};
constexpr std::array<std::string_view, 2> kReadAccess = {"open", "token"};

// --- string rules ---

std::string backend_problem(std::string_view v) {
  return v.empty() ? "must not be empty (a plugin name such as \"kubernetes\", or a path to a .so)"
                   : std::string();
}

std::string identity_problem(std::string_view v) {
  return v.empty() ? "must not be empty; leave the key out to generate one" : std::string();
}

std::string lease_name_problem(std::string_view v) {
  const std::string problem = rules::dns1123_subdomain_problem(v);
  if (problem.empty()) return {};
  return rules::quote(v) + " is not a valid DNS-1123 subdomain: " + problem +
         " (use lowercase letters, digits, '-' and '.', start and end with a letter or digit, at "
         "most 253 characters)";
}

std::string namespace_problem(std::string_view v) {
  const std::string problem = v.empty() ? "" : rules::dns1123_label_problem(v);
  if (problem.empty()) return {};
  return rules::quote(v) + " is not a valid DNS-1123 label: " + problem +
         " (use lowercase letters, digits and '-', start and end with a letter or digit, at most "
         "63 characters)";
}

std::string state_dir_problem(std::string_view v) {
  if (v.empty() || v.front() == '/') return {};
  return rules::quote(v) + " is not an absolute path (it must start with \"/\")";
}

std::string deployment_name_problem(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > 63) return "must be at most 63 characters";
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return rules::quote(name) + " may contain only letters, digits, '.', '_' and '-'";
  }
  return {};
}

std::size_t as_size(const Value& v) { return static_cast<std::size_t>(v.number); }

// The table. Sections come before their keys; each section's keys are in
// documentation order.
const KeySpec kKeys[] = {
    // --- top level
    {.path = "listen",
     .kind = Kind::kHostPort,
     .min = 0,
     .apply =
         [](Config& c, const Value& v) {
           c.listen_host = v.host_port.host;
           c.listen_port = v.host_port.port;
         },
     .type = "string `host:port`",
     .default_text = "`0.0.0.0:8080`",
     .rule = "Address the HTTP server binds. Port 0 to 65535; 0 takes any free port. IPv6 in "
             "brackets: `[::1]:8080`. The host may be an IP address or a name; it must not be "
             "empty (`:8080` is rejected; use `0.0.0.0:8080`)."},
    {.path = "plugin_dir",
     .kind = Kind::kString,
     .apply = [](Config& c, const Value& v) { c.plugin_dir = v.text; },
     .type = "string",
     .default_text = "empty",
     .rule = "Where plugins are looked up as `<backend>.so`. Empty: `<directory of the "
             "executable>/../lib/pgdog-control/plugins`."},
    {.path = "advertise_address",
     .kind = Kind::kHostPort,
     .min = 1,
     .empty_ok = true,
     .apply = [](Config& c, const Value& v) { c.advertise_address = v.text; },
     .type = "string `host:port`",
     .default_text = "empty",
     .rule = "How other replicas and clients reach this one. Same form as `listen`, port 1 to "
             "65535. Empty: `<POD_IP or host name>:<listen port>` (an IPv6 `POD_IP` is put in "
             "brackets). With `listen` port 0 the default ends in `:0`, so set it explicitly "
             "then."},
    {.path = "state_dir",
     .kind = Kind::kString,
     .check = state_dir_problem,
     .apply = [](Config& c, const Value& v) { c.state_dir = v.text; },
     .type = "string",
     .default_text = "empty",
     .rule = "A directory (absolute path) where a single replica keeps its control state (node "
             "registry, command log) in files, so a restart keeps it; created (mode 0700) if "
             "missing, locked by one process at a time. Empty: kept in memory only. Not with "
             "`leader.enabled: true` (see [State](#state))."},
    {.path = "leader",
     .kind = Kind::kSection,
     .type = "map",
     .default_text = "see below",
     .rule = "Leader election."},
    {.path = "http",
     .kind = Kind::kSection,
     .type = "map",
     .default_text = "see below",
     .rule = "HTTP server limits."},
    {.path = "log",
     .kind = Kind::kSection,
     .type = "map",
     .default_text = "see below",
     .rule = "Logging."},
    {.path = "api",
     .kind = Kind::kSection,
     .type = "map",
     .default_text = "see below",
     .rule = "The PgDog machine API and the dashboard's web API."},

    // --- leader
    {.path = "leader.enabled",
     .kind = Kind::kBool,
     .apply = [](Config& c, const Value& v) { c.leader.enabled = v.boolean; },
     .type = "boolean",
     .default_text = "`false`",
     .rule = "`false`: the `noop` plugin, exactly one replica, no election; the other `leader` "
             "keys are still validated. `true`: the `backend` plugin elects a leader among the "
             "replicas."},
    {.path = "leader.backend",
     .kind = Kind::kString,
     .check = backend_problem,
     .apply = [](Config& c, const Value& v) { c.leader.backend = v.text; },
     .type = "string",
     .default_text = "`kubernetes`",
     .rule = "Plugin name, looked up in `plugin_dir` as `<name>.so`, or a path to a `.so`. Must "
             "not be empty."},
    {.path = "leader.identity",
     .kind = Kind::kString,
     .check = identity_problem,
     .apply = [](Config& c, const Value& v) { c.leader.identity = v.text; },
     .type = "string",
     .default_text = "generated",
     .rule = "This replica's name in the lease. Must not be empty if given. Default: `<POD_NAME "
             "or host name>_<8 random lowercase hex digits>`, new at every process start: two "
             "processes must never share an identity, or both can believe they hold the lease."},
    {.path = "leader.lease_name",
     .kind = Kind::kString,
     .check = lease_name_problem,
     .apply = [](Config& c, const Value& v) { c.leader.lease_name = v.text; },
     .type = "string",
     .default_text = "`pgdog-control`",
     .rule = "Name of the Lease object: a DNS-1123 subdomain, i.e. lowercase letters, digits, `-` "
             "and `.`, each dot-separated part starting and ending with a letter or digit, at "
             "most 253 characters."},
    {.path = "leader.namespace",
     .kind = Kind::kString,
     .check = namespace_problem,
     .apply = [](Config& c, const Value& v) { c.leader.lease_namespace = v.text; },
     .type = "string",
     .default_text = "empty",
     .rule = "Namespace of the Lease. Empty: the backend decides (`POD_NAMESPACE`, then the "
             "service account's namespace). Otherwise a DNS-1123 label: lowercase letters, "
             "digits and `-`, starting and ending with a letter or digit, at most 63 characters."},
    {.path = "leader.lease_duration_secs",
     .kind = Kind::kInteger,
     .min = 1,
     .apply = [](Config& c, const Value& v) { c.leader.lease_duration = seconds(v.number); },
     .type = "integer",
     .default_text = "`15`",
     .rule = "How long a lease holds without renewal. Greater than 0, at most 2147483647: "
             "Kubernetes stores it as `leaseDurationSeconds`, an int32 of whole seconds."},
    {.path = "leader.lease_interval_secs",
     .kind = Kind::kSeconds,
     .min = 100,
     .below_min = "is below the minimum of 0.1 s: every renewal is a write to the coordination "
                  "backend and every follower retry a read",
     .apply = [](Config& c, const Value& v) { c.leader.lease_interval = milliseconds(v.number); },
     .type = "number",
     .default_text = "`5`",
     .rule = "How often the leader renews and followers retry. At least `0.1` (every renewal is "
             "a write to the API server); fractions allowed (`0.5`), in steps of 1 ms."},
    {.path = "leader.renew_deadline_secs",
     .kind = Kind::kSeconds,
     .min = 1,
     .apply = [](Config& c, const Value& v) { c.leader.renew_deadline = milliseconds(v.number); },
     .type = "number",
     .default_text = "`lease_duration_secs - max(lease_interval_secs, the minimum safety "
                     "margin)`: `10`",
     .rule = "How long the leader keeps trying to renew before it stops leading. Greater than 0; "
             "fractions allowed. See the timing rule."},
    {.path = "leader.release_timeout_secs",
     .kind = Kind::kSeconds,
     .min = 0,
     .apply = [](Config& c, const Value& v) { c.leader.release_timeout = milliseconds(v.number); },
     .type = "number",
     .default_text = "`5`",
     .rule = "How long shutdown waits to release the lease. 0 or more; 0 skips the wait. Longer "
             "than `lease_duration_secs` is accepted with a warning at startup: the lease expires "
             "by itself before such a release would end."},
    {.path = "leader.stop_work_timeout_secs",
     .kind = Kind::kSeconds,
     .min = 1,
     .apply = [](Config& c,
                 const Value& v) { c.leader.stop_work_timeout = milliseconds(v.number); },
     .type = "number",
     .default_text = "`min(2, (lease_duration_secs - renew_deadline_secs) / 2)`: `2`",
     .rule = "How long the end of a leadership term (lost, expired, shutdown) waits for "
             "in-flight leader-only work to stop before the state moves on. Greater than 0 and "
             "less than `lease_duration_secs - renew_deadline_secs` (the timing rule). At "
             "shutdown, work that is still running after it means no release: the lease expires "
             "instead, so no other replica acts beside that work."},
    {.path = "leader.options",
     .kind = Kind::kFreeMap,
     .apply = [](Config& c, const Value& v) { c.leader.options_json = v.text; },
     .type = "map",
     .default_text = "`{}`",
     .rule = "Settings for the backend plugin, passed to it as a JSON object. Any content."},

    // --- http
    {.path = "http.max_header_bytes",
     .kind = Kind::kInteger,
     .min = 1024,
     .max = 1048576,
     .phrase = Phrase::kBetween,
     .apply = [](Config& c, const Value& v) { c.http.max_header_bytes = as_size(v); },
     .type = "integer",
     .default_text = "`8192`",
     .rule = "Largest request head (request line and headers). 1024 to 1048576."},
    {.path = "http.max_body_bytes",
     .kind = Kind::kInteger,
     .min = 1,
     .max = 67108864,
     .phrase = Phrase::kBetween,
     .apply = [](Config& c, const Value& v) { c.http.max_body_bytes = as_size(v); },
     .type = "integer",
     .default_text = "`262144`",
     .rule = "Largest request body the server reads (413 beyond); each route also has a limit "
             "of its own (docs/api.md). 1 to 67108864."},
    {.path = "http.max_connections",
     .kind = Kind::kInteger,
     .min = 1,
     .max = 1000000,
     .phrase = Phrase::kBetween,
     .apply = [](Config& c, const Value& v) { c.http.max_connections = as_size(v); },
     .type = "integer",
     .default_text = "`10000`",
     .rule = "Open connections at most (each PgDog node keeps about one). Beyond, a new "
             "connection is closed at once, counted in "
             "`pgdog_control_http_connections_refused_total` and logged (at most once a "
             "minute). 1 to 1000000."},
    {.path = "http.read_timeout_ms",
     .kind = Kind::kInteger,
     .min = 1,
     .apply = [](Config& c, const Value& v) { c.http.read_timeout = milliseconds(v.number); },
     .type = "integer",
     .default_text = "`10000`",
     .rule = "Time to receive one request, headers and body. Greater than 0."},
    {.path = "http.idle_timeout_ms",
     .kind = Kind::kInteger,
     .min = 1,
     .apply = [](Config& c, const Value& v) { c.http.idle_timeout = milliseconds(v.number); },
     .type = "integer",
     .default_text = "`60000`",
     .rule = "Time a keep-alive connection may sit idle between requests. Greater than 0."},
    {.path = "http.drain_timeout_ms",
     .kind = Kind::kInteger,
     .min = 0,
     .apply = [](Config& c, const Value& v) { c.http.drain_timeout = milliseconds(v.number); },
     .type = "integer",
     .default_text = "`5000`",
     .rule = "How long a graceful shutdown waits for requests in flight. 0 or more."},
    {.path = "http.io_threads",
     .kind = Kind::kInteger,
     .min = 1,
     .max = 64,
     .phrase = Phrase::kBetween,
     .apply = [](Config& c, const Value& v) { c.http.io_threads = static_cast<int>(v.number); },
     .type = "integer",
     .default_text = "`2`",
     .rule = "Server I/O threads for all connections. 1 to 64. 5,000 simulated nodes on 2 cores: "
             "p99 1.4 ms / max 66 ms with 1 thread, p99 1.0 ms / max 10 ms with 2 "
             "([benchmarks.md](benchmarks.md#fleet-load-the-machine-api-under-5000-simulated-"
             "pgdog-nodes))."},

    // --- log
    {.path = "log.level",
     .kind = Kind::kChoice,
     .choices = kLevels,
     .apply = [](Config& c, const Value& v) { c.log.level = static_cast<LogLevel>(v.choice); },
     .type = "string",
     .default_text = "`info`",
     .rule = "One of `debug`, `info`, `warn`, `error` (lowercase)."},
    {.path = "log.format",
     .kind = Kind::kChoice,
     .choices = kFormats,
     .apply = [](Config& c, const Value& v) { c.log.format = static_cast<LogFormat>(v.choice); },
     .type = "string",
     .default_text = "`text`",
     .rule = "`text` (human-readable lines) or `json` (one JSON object per line)."},

    // --- api
    {.path = "api.deployments",
     .kind = Kind::kDeployments,
     .type = "sequence of maps",
     .default_text = "`[]`",
     .rule = "One entry per PgDog deployment, see below."},
    {.path = "api.deployments[].name",
     .kind = Kind::kString,
     .check = deployment_name_problem,
     .type = "string",
     .rule = "Required, unique; 1 to 63 of letters, digits, `.`, `_`, `-` (it appears in URLs)."},
    {.path = "api.deployments[].tokens",
     .kind = Kind::kTokens,
     .type = "sequence of strings",
     .rule = "The deployment's tokens."},
    {.path = "api.deployments[].token_file",
     .kind = Kind::kString,
     .type = "string",
     .rule = "A file with more tokens. At least one of `tokens` and `token_file`."},
    {.path = "api.web", .kind = Kind::kSection, .type = "map", .default_text = "see below"},
    {.path = "api.web.read_access",
     .kind = Kind::kChoice,
     .choices = kReadAccess,
     .apply = [](Config& c,
                 const Value& v) { c.api.web_read_access = static_cast<WebReadAccess>(v.choice); },
     .type = "string",
     .default_text = "`token`",
     .rule = "`token`: web reads need a read or admin token; `open`: no token, only for a "
             "trusted network (a warning unless listening on loopback), and only under an "
             "allowed Host name (`allowed_hosts`)."},
    {.path = "api.web.allowed_hosts",
     .kind = Kind::kHostNames,
     .apply = [](Config& c, const Value& v) { c.api.web_allowed_hosts = v.strings; },
     .type = "sequence of strings",
     .default_text = "`[]`",
     .rule = "With `read_access: open`: the Host names (no port) a read without a token may "
             "carry, besides `localhost`, any IP address and the listen and advertised host "
             "names; others get 403, so a DNS-rebinding page cannot read the API."},
    {.path = "api.web.admin_tokens",
     .kind = Kind::kTokens,
     .apply = [](Config& c, const Value& v) { c.api.web_admin_tokens = v.strings; },
     .type = "sequence of strings",
     .default_text = "`[]`",
     .rule = "Tokens that may issue commands (and read)."},
    {.path = "api.web.admin_token_file",
     .kind = Kind::kString,
     .apply = [](Config& c, const Value& v) { c.api.web_admin_token_file = v.text; },
     .type = "string",
     .default_text = "none",
     .rule = "A file with more admin tokens, one per line."},
    {.path = "api.web.read_tokens",
     .kind = Kind::kTokens,
     .apply = [](Config& c, const Value& v) { c.api.web_read_tokens = v.strings; },
     .type = "sequence of strings",
     .default_text = "`[]`",
     .rule = "Tokens that may read the web API (so may admin tokens)."},
    {.path = "api.web.read_token_file",
     .kind = Kind::kString,
     .apply = [](Config& c, const Value& v) { c.api.web_read_token_file = v.text; },
     .type = "string",
     .default_text = "none",
     .rule = "A file with more read tokens."},
    {.path = "api.telemetry", .kind = Kind::kSection, .type = "map", .default_text = "see below"},
    {.path = "api.telemetry.retention_secs",
     .kind = Kind::kInteger,
     .min = 1,
     .max = 86400,
     .phrase = Phrase::kBetween,
     .apply = [](Config& c, const Value& v) { c.api.retention = seconds(v.number); },
     .type = "integer",
     .default_text = "`300`",
     .rule = "Seconds of metric points kept per node. 1 to 86400."},
    {.path = "api.telemetry.max_nodes_per_deployment",
     .kind = Kind::kInteger,
     .min = 1,
     .max = 1000000,
     .phrase = Phrase::kBetween,
     .apply = [](Config& c, const Value& v) { c.api.max_nodes_per_deployment = as_size(v); },
     .type = "integer",
     .default_text = "`10000`",
     .rule = "Registering more nodes is refused (409). 1 to 1000000."},
    {.path = "api.telemetry.max_entries_per_upload",
     .kind = Kind::kInteger,
     .min = 1,
     .max = 100000,
     .phrase = Phrase::kBetween,
     .apply = [](Config& c, const Value& v) { c.api.max_entries_per_upload = as_size(v); },
     .type = "integer",
     .default_text = "`1000`",
     .rule = "Entries in one query_stats / active_queries / errors upload (more: 413). 1 to "
             "100000."},
    {.path = "api.telemetry.max_upload_bytes",
     .kind = Kind::kInteger,
     .min = 1024,
     .max = 67108864,
     .phrase = Phrase::kBetween,
     .apply = [](Config& c, const Value& v) { c.api.max_upload_bytes = as_size(v); },
     .type = "integer",
     .default_text = "`262144`",
     .rule = "Largest machine API body (more: 413). 1024 to 67108864; `http.max_body_bytes` "
             "applies first."},
    {.path = "api.telemetry.max_string_bytes",
     .kind = Kind::kInteger,
     .min = 64,
     .max = 1048576,
     .phrase = Phrase::kBetween,
     .apply = [](Config& c, const Value& v) { c.api.max_string_bytes = as_size(v); },
     .type = "integer",
     .default_text = "`4096`",
     .rule = "Longest string in an upload entry or ack message (more: 400). 64 to 1048576."},
    {.path = "api.liveness", .kind = Kind::kSection, .type = "map", .default_text = "see below"},
    {.path = "api.liveness.stale_after_secs",
     .kind = Kind::kSeconds,
     .min = 1,
     .apply = [](Config& c, const Value& v) { c.api.stale_after = milliseconds(v.number); },
     .type = "seconds",
     .default_text = "`5`",
     .rule = "A node without metrics this long is `stale`. Greater than 0."},
    {.path = "api.liveness.evict_after_secs",
     .kind = Kind::kSeconds,
     .min = 1,
     .apply = [](Config& c, const Value& v) { c.api.evict_after = milliseconds(v.number); },
     .type = "seconds",
     .default_text = "`60`",
     .rule = "... and forgotten after this long. Greater than `stale_after_secs`."},
    {.path = "api.commands", .kind = Kind::kSection, .type = "map", .default_text = "see below"},
    {.path = "api.commands.history",
     .kind = Kind::kInteger,
     .min = 1,
     .max = 100000,
     .phrase = Phrase::kBetween,
     .apply = [](Config& c, const Value& v) { c.api.command_history = as_size(v); },
     .type = "integer",
     .default_text = "`200`",
     .rule = "Commands kept per deployment (oldest dropped). 1 to 100000."},
    {.path = "api.commands.max_wait_secs",
     .kind = Kind::kInteger,
     .min = 1,
     .max = 600,
     .phrase = Phrase::kBetween,
     .apply = [](Config& c, const Value& v) { c.api.max_wait = seconds(v.number); },
     .type = "integer",
     .default_text = "`30`",
     .rule = "Cap on a command poll's `wait_ms`. 1 to 600."},
    {.path = "api.commands.default_wait_secs",
     .kind = Kind::kInteger,
     .min = 0,
     .max = 600,
     .phrase = Phrase::kBetween,
     .apply = [](Config& c, const Value& v) { c.api.default_wait = seconds(v.number); },
     .type = "integer",
     .default_text = "`25`",
     .rule = "`wait_ms` when a poll gives none. 0 to `max_wait_secs` (follows `max_wait_secs` "
             "down when not given)."},
    {.path = "api.memory", .kind = Kind::kSection, .type = "map", .default_text = "see below"},
    {.path = "api.memory.max_bytes",
     .kind = Kind::kInteger,
     .min = 1048576,
     .max = 68719476736,
     .phrase = Phrase::kBetween,
     .apply = [](Config& c, const Value& v) { c.api.memory_max_bytes = as_size(v); },
     .type = "integer",
     .default_text = "`67108864`",
     .rule = "Budget for fleet data (nodes, their telemetry, commands) across all deployments; "
             "what would exceed it is refused with 429. 1 MiB to 64 GiB."},
    {.path = "api.memory.max_bytes_per_deployment",
     .kind = Kind::kInteger,
     .min = 1048576,
     .max = 68719476736,
     .phrase = Phrase::kBetween,
     .apply = [](Config& c, const Value& v) { c.api.memory_max_bytes_per_deployment = as_size(v); },
     .type = "integer",
     .default_text = "`33554432`",
     .rule = "The same budget for each deployment, so one deployment's token cannot take it all. "
             "1 MiB to `max_bytes`."},
    {.path = "api.forward_to_leader",
     .kind = Kind::kBool,
     .apply = [](Config& c, const Value& v) { c.api.forward_to_leader = v.boolean; },
     .type = "boolean",
     .default_text = "`false`",
     .rule = "A follower proxies `/api/` requests to the leader's advertised address instead of "
             "answering 503, after the leader proved itself with `forward_secret_file`."},
    {.path = "api.forward_secret_file",
     .kind = Kind::kString,
     .apply = [](Config& c, const Value& v) { c.api.forward_secret_file = v.text; },
     .type = "string",
     .default_text = "none",
     .rule = "A file holding a secret of at least 32 visible characters, the same on every "
             "replica; required with `forward_to_leader`, so a follower forwards requests (and "
             "their tokens) only to a leader that proves it holds the secret."},
};

// The parent section of a path: "api.web.read_access" -> "api.web";
// "api.deployments[].name" -> "api.deployments[]"; "listen" -> "".
std::string_view parent(std::string_view path) {
  const auto dot = path.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : path.substr(0, dot);
}

std::string_view last(std::string_view path) {
  const auto dot = path.rfind('.');
  return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

}  // namespace

std::span<const KeySpec> keys() { return kKeys; }

const KeySpec* find(std::string_view path) {
  for (const KeySpec& k : kKeys) {
    if (k.path == path) return &k;
  }
  return nullptr;
}

std::vector<std::string_view> children(std::string_view section) {
  std::vector<std::string_view> out;
  for (const KeySpec& k : kKeys) {
    if (parent(k.path) == section) out.push_back(last(k.path));
  }
  return out;
}

std::string render_docs_table(std::string_view section, bool flatten) {
  // A deployment's keys have no defaults: they are parts of a list entry.
  const bool item = section.ends_with("[]");
  std::string out = item ? "| Key | Type | Rule |\n|-----|------|------|\n"
                         : "| Key | Type | Default | Rule |\n|-----|------|---------|------|\n";
  const std::string prefix = section.empty() ? "" : std::string(section) + ".";
  for (const KeySpec& k : kKeys) {
    if (!k.path.starts_with(prefix)) continue;
    const std::string_view rel = k.path.substr(prefix.size());
    const bool direct = rel.find('.') == std::string_view::npos;
    if (rel.find("[]") != std::string_view::npos) continue;  // list items: their own table
    if (direct && k.kind == Kind::kSection && flatten) continue;
    if (!direct && !flatten) continue;
    out += "| `" + std::string(rel) + "` | " + std::string(k.type) + " | ";
    if (!item) out += std::string(k.default_text) + " | ";
    out += std::string(k.rule) + " |\n";
  }
  return out;
}

}  // namespace pgdc::config_schema
