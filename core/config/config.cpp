// Reading config.yaml into Config.
//
// One pass over the document. Each known map is walked entry by entry
// (unknown, duplicate and non-string keys are problems of their own); each
// value is checked alone; cross-key rules (the leader timing chain) run after
// their map, only on values that were valid alone. Problems carry the position
// of their key and are sorted by it at the end, so they come out in file
// order. No yaml-cpp exception leaves parse_config.
#include "config/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>
#include <span>
#include <string_view>
#include <utility>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "config/config_rules.h"
#include "config/yaml_json.h"

namespace pgdc {
namespace {

namespace rules = config_rules;
using std::chrono::milliseconds;

// Below this, renewals and follower retries load the backend for no gain.
constexpr std::int64_t kMinIntervalMs = 100;

constexpr std::array<std::string_view, 7> kTopKeys = {
    "listen", "plugin_dir", "advertise_address", "leader", "http", "log", "api"};
constexpr std::array<std::string_view, 11> kLeaderKeys = {"enabled",
                                                          "backend",
                                                          "identity",
                                                          "lease_name",
                                                          "namespace",
                                                          "lease_duration_secs",
                                                          "lease_interval_secs",
                                                          "renew_deadline_secs",
                                                          "release_timeout_secs",
                                                          "stop_work_timeout_secs",
                                                          "options"};
constexpr std::array<std::string_view, 6> kHttpKeys = {"max_header_bytes", "max_body_bytes",
                                                       "read_timeout_ms",  "idle_timeout_ms",
                                                       "drain_timeout_ms", "io_threads"};
constexpr std::array<std::string_view, 2> kLogKeys = {"level", "format"};
constexpr std::array<std::string_view, 6> kApiKeys = {
    "deployments", "web", "telemetry", "liveness", "commands", "forward_to_leader"};
constexpr std::array<std::string_view, 3> kApiDeploymentKeys = {"name", "tokens", "token_file"};
constexpr std::array<std::string_view, 5> kApiWebKeys = {
    "read_access", "admin_tokens", "admin_token_file", "read_tokens", "read_token_file"};
constexpr std::array<std::string_view, 5> kApiTelemetryKeys = {
    "retention_secs", "max_nodes_per_deployment", "max_entries_per_upload", "max_upload_bytes",
    "max_string_bytes"};
constexpr std::array<std::string_view, 2> kApiLivenessKeys = {"stale_after_secs",
                                                              "evict_after_secs"};
constexpr std::array<std::string_view, 3> kApiCommandKeys = {"history", "max_wait_secs",
                                                             "default_wait_secs"};
constexpr std::array<std::pair<std::string_view, WebReadAccess>, 2> kReadAccess = {{
    {"open", WebReadAccess::kOpen},
    {"token", WebReadAccess::kToken},
}};

// Empty when `token` is acceptable. Never includes the token itself.
std::string token_problem(std::string_view token) {
  if (token.size() < 16) {
    return "a token must be at least 16 characters (this one has " + std::to_string(token.size()) +
           ")";
  }
  if (token.size() > 1024) return "a token must be at most 1024 characters";
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return "a token must be visible ASCII characters without spaces";
    }
  }
  return {};
}

// Empty when `name` is a usable deployment name (it appears in URLs).
std::string deployment_name_problem(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > 63) return "must be at most 63 characters";
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return rules::quote(name) + " may contain only letters, digits, '.', '_' and '-'";
  }
  return {};
}

constexpr std::array<std::pair<std::string_view, LogLevel>, 4> kLevels = {{
    {"debug", LogLevel::kDebug},
    {"info", LogLevel::kInfo},
    {"warn", LogLevel::kWarn},
    {"error", LogLevel::kError},
}};
constexpr std::array<std::pair<std::string_view, LogFormat>, 2> kFormats = {{
    {"text", LogFormat::kText},
    {"json", LogFormat::kJson},
}};

bool before(const YAML::Mark& a, const YAML::Mark& b) {
  return a.line < b.line || (a.line == b.line && a.column < b.column);
}

std::string join(std::span<const std::string_view> words) {
  std::string out;
  for (std::string_view w : words) {
    if (!out.empty()) out += ", ";
    out += w;
  }
  return out;
}

// What a node is, for "expected X, got Y".
std::string describe(const YAML::Node& node) {
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a sequence";
  if (node.IsNull()) return "null";
  return rules::quote(node.Scalar());
}

// One "key: value" of a known map.
struct Entry {
  std::string key;  // dotted path
  YAML::Mark mark;  // where the key is
  YAML::Node value;
};

// How a leader timing key fared; the value itself is stored in the config.
struct Timing {
  bool given = false;
  bool valid = true;
  YAML::Mark mark;
};

// How out-of-range integers are phrased.
enum class Range {
  kBetween,  // "must be between MIN and MAX"
  kBound,    // "must be greater than 0" / "must not be negative" / "must be at most MAX"
};

class Reader {
 public:
  explicit Reader(Config& config) : config_(config) {}

  void read_document(const YAML::Node& root) {
    if (root.IsNull()) return;  // empty document: all defaults
    if (!root.IsMap()) {
      error(root.Mark(), "", "expected a map at the top level, got " + describe(root));
      return;
    }
    for_each_entry(root, "", kTopKeys,
                   [this](const Entry& e, std::string_view name) { read_top(e, name); });
  }

  void error(const YAML::Mark& at, std::string key, std::string message) {
    errors_.push_back({at, ConfigError{std::move(key), std::move(message)}});
  }

  std::vector<ConfigError> take_warnings() { return std::move(warnings_); }

  std::vector<ConfigError> sorted_errors() {
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const auto& a, const auto& b) { return before(a.first, b.first); });
    std::vector<ConfigError> out;
    for (auto& e : errors_) out.push_back(std::move(e.second));
    return out;
  }

 private:
  // Calls visit(entry, name) for each entry of `map` whose key is in `known`;
  // reports non-string, duplicate and unknown keys.
  template <typename Visit>
  void for_each_entry(const YAML::Node& map, const std::string& path,
                      std::span<const std::string_view> known, Visit visit) {
    std::vector<std::pair<std::string, int>> seen;  // key, line
    for (const auto& kv : map) {
      const YAML::Node& k = kv.first;
      if (!k.IsScalar()) {
        error(k.Mark(), path, "keys must be strings, got " + describe(k));
        continue;
      }
      const std::string& name = k.Scalar();
      const std::string key = path.empty() ? name : path + "." + name;
      auto first = std::find_if(seen.begin(), seen.end(), [&](auto& s) { return s.first == name; });
      if (first != seen.end()) {
        error(k.Mark(), key,
              "duplicate key " + rules::quote(name) + " (first on line " +
                  std::to_string(first->second) + ")");
        continue;
      }
      seen.emplace_back(name, k.Mark().line + 1);
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        std::vector<std::string_view> candidates(known.begin(), known.end());
        std::string message = "unknown key " + rules::quote(name);
        if (auto match = rules::closest_match(name, candidates)) {
          message += "; did you mean " + rules::quote(*match) + "?";
        } else {
          message += "; valid keys: " + join(known);
        }
        error(k.Mark(), key, message);
        continue;
      }
      visit(Entry{key, k.Mark(), kv.second}, name);
    }
  }

  // --- values -------------------------------------------------------------

  // A section: true for a map to walk; null means "all defaults".
  bool read_map(const Entry& e) {
    if (e.value.IsMap()) return true;
    if (!e.value.IsNull()) error(e.mark, e.key, "expected a map, got " + describe(e.value));
    return false;
  }

  // Any scalar, as written; null is the empty string.
  std::optional<std::string> read_string(const Entry& e) {
    if (e.value.IsNull()) return std::string();
    if (e.value.IsScalar()) return e.value.Scalar();
    error(e.mark, e.key, "expected a string, got " + describe(e.value));
    return std::nullopt;
  }

  std::optional<bool> read_bool(const Entry& e) {
    if (e.value.IsScalar()) {
      if (auto b = rules::parse_bool(e.value.Scalar())) return b;
    }
    error(e.mark, e.key, "expected a boolean (true or false), got " + describe(e.value));
    return std::nullopt;
  }

  std::optional<std::int64_t> read_integer(const Entry& e, std::int64_t min, std::int64_t max,
                                           Range range) {
    rules::Number n;
    if (e.value.IsScalar()) n = rules::parse_integer(e.value.Scalar());
    if (n.status == rules::NumberStatus::kSyntax) {
      error(e.mark, e.key, "expected an integer, got " + describe(e.value));
      return std::nullopt;
    }
    if (n.status == rules::NumberStatus::kOk && n.value >= min && n.value <= max) return n.value;
    const std::string& text = e.value.Scalar();
    if (range == Range::kBetween) {
      error(e.mark, e.key,
            text + " must be between " + std::to_string(min) + " and " + std::to_string(max));
    } else {
      error(e.mark, e.key, text + " " + bound_rule(n.value < min, min, max));
    }
    return std::nullopt;
  }

  // Seconds, possibly fractional, as milliseconds. min_millis is 0 or 1.
  std::optional<milliseconds> read_seconds(const Entry& e, std::int64_t min_millis) {
    rules::Number n;
    if (e.value.IsScalar()) n = rules::parse_seconds(e.value.Scalar());
    const std::string text = e.value.IsScalar() ? e.value.Scalar() : "";
    switch (n.status) {
      case rules::NumberStatus::kSyntax:
        error(e.mark, e.key, "expected a number, got " + describe(e.value));
        return std::nullopt;
      case rules::NumberStatus::kPrecision:
        error(e.mark, e.key, text + " has more than 3 decimal places (the precision is 1 ms)");
        return std::nullopt;
      case rules::NumberStatus::kRange:
        error(e.mark, e.key, text + " " + bound_rule(n.value < 0, min_millis, rules::kMaxValue));
        return std::nullopt;
      case rules::NumberStatus::kOk:
        break;
    }
    if (n.value < min_millis) {
      error(e.mark, e.key, text + " " + bound_rule(true, min_millis, rules::kMaxValue));
      return std::nullopt;
    }
    return milliseconds(n.value);
  }

  static std::string bound_rule(bool below, std::int64_t min, std::int64_t max) {
    if (!below) return "must be at most " + std::to_string(max);
    if (min == 1) return "must be greater than 0";
    if (min == 0) return "must not be negative";
    return "must be at least " + std::to_string(min);
  }

  template <typename T, std::size_t N>
  std::optional<T> read_choice(const Entry& e,
                               const std::array<std::pair<std::string_view, T>, N>& choices) {
    auto text = read_string(e);
    if (!text) return std::nullopt;
    std::vector<std::string_view> names;
    for (const auto& [name, value] : choices) {
      if (*text == name) return value;
      names.push_back(name);
    }
    std::string message = rules::quote(*text) + " is not one of " + join(names);
    if (auto match = rules::closest_match(*text, names)) {
      message += "; did you mean " + rules::quote(*match) + "?";
    }
    error(e.mark, e.key, message);
    return std::nullopt;
  }

  // --- sections -----------------------------------------------------------

  void read_top(const Entry& e, std::string_view name) {
    if (name == "listen") {
      if (auto text = read_string(e)) {
        auto parsed = rules::parse_host_port(*text, 0);
        if (parsed.value) {
          config_.listen_host = parsed.value->host;
          config_.listen_port = parsed.value->port;
        } else {
          error(e.mark, e.key, parsed.problem);
        }
      }
    } else if (name == "plugin_dir") {
      if (auto text = read_string(e)) config_.plugin_dir = *text;
    } else if (name == "advertise_address") {
      if (auto text = read_string(e)) {
        auto parsed = text->empty() ? rules::HostPortResult{rules::HostPort{}, {}}
                                    : rules::parse_host_port(*text, 1);
        if (parsed.value) {
          config_.advertise_address = *text;
        } else {
          error(e.mark, e.key, parsed.problem);
        }
      }
    } else if (name == "leader") {
      if (read_map(e)) read_leader(e);
    } else if (name == "http") {
      if (read_map(e)) {
        for_each_entry(e.value, e.key, kHttpKeys,
                       [this](const Entry& h, std::string_view n) { read_http(h, n); });
      }
    } else if (name == "log") {
      if (read_map(e)) {
        for_each_entry(e.value, e.key, kLogKeys,
                       [this](const Entry& l, std::string_view n) { read_log(l, n); });
      }
    } else if (name == "api") {
      if (read_map(e)) read_api(e);
    }
  }

  // --- api ------------------------------------------------------------------

  // A list of tokens; each checked alone and remembered for the clash check.
  std::optional<std::vector<std::string>> read_tokens(const Entry& e) {
    if (e.value.IsNull()) return std::vector<std::string>{};
    if (!e.value.IsSequence()) {
      error(e.mark, e.key, "expected a sequence of tokens, got " + describe(e.value));
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (std::size_t i = 0; i < e.value.size(); ++i) {
      const YAML::Node& t = e.value[i];
      const std::string key = e.key + "[" + std::to_string(i) + "]";
      if (!t.IsScalar()) {
        error(t.Mark(), key, "expected a string token, got " + describe(t));
        ok = false;
        continue;
      }
      if (std::string problem = token_problem(t.Scalar()); !problem.empty()) {
        error(t.Mark(), key, problem);
        ok = false;
        continue;
      }
      auto clash = std::find_if(tokens_seen_.begin(), tokens_seen_.end(),
                                [&](const auto& s) { return s.first == t.Scalar(); });
      if (clash != tokens_seen_.end()) {
        error(t.Mark(), key,
              "the same token is already given at " + clash->second +
                  " (a token identifies exactly one deployment or web role)");
        ok = false;
        continue;
      }
      tokens_seen_.emplace_back(t.Scalar(), key);
      out.push_back(t.Scalar());
    }
    if (!ok) return std::nullopt;
    return out;
  }

  void read_api(const Entry& section) {
    ApiConfig& api = config_.api;
    Timing stale, evict, max_wait, default_wait;
    auto mark = [](Timing& t, const Entry& e, bool valid) {
      t.given = true;
      t.mark = e.mark;
      t.valid = valid;
    };
    for_each_entry(section.value, section.key, kApiKeys, [&](const Entry& e, std::string_view n) {
      if (n == "deployments") {
        read_deployments(e);
      } else if (n == "forward_to_leader") {
        if (auto b = read_bool(e)) api.forward_to_leader = *b;
      } else if (n == "web") {
        if (!read_map(e)) return;
        for_each_entry(e.value, e.key, kApiWebKeys, [&](const Entry& w, std::string_view k) {
          if (k == "read_access") {
            if (auto v = read_choice(w, kReadAccess)) api.web_read_access = *v;
          } else if (k == "admin_tokens") {
            if (auto v = read_tokens(w)) api.web_admin_tokens = std::move(*v);
          } else if (k == "read_tokens") {
            if (auto v = read_tokens(w)) api.web_read_tokens = std::move(*v);
          } else if (k == "admin_token_file") {
            if (auto v = read_string(w)) api.web_admin_token_file = *v;
          } else if (k == "read_token_file") {
            if (auto v = read_string(w)) api.web_read_token_file = *v;
          }
        });
      } else if (n == "telemetry") {
        if (!read_map(e)) return;
        for_each_entry(e.value, e.key, kApiTelemetryKeys, [&](const Entry& t, std::string_view k) {
          if (k == "retention_secs") {
            if (auto v = read_integer(t, 1, 86400, Range::kBetween)) {
              api.retention = std::chrono::seconds(*v);
            }
          } else if (k == "max_nodes_per_deployment") {
            if (auto v = read_integer(t, 1, 1000000, Range::kBetween)) {
              api.max_nodes_per_deployment = static_cast<std::size_t>(*v);
            }
          } else if (k == "max_entries_per_upload") {
            if (auto v = read_integer(t, 1, 100000, Range::kBetween)) {
              api.max_entries_per_upload = static_cast<std::size_t>(*v);
            }
          } else if (k == "max_upload_bytes") {
            if (auto v = read_integer(t, 1024, 67108864, Range::kBetween)) {
              api.max_upload_bytes = static_cast<std::size_t>(*v);
            }
          } else if (k == "max_string_bytes") {
            if (auto v = read_integer(t, 64, 1048576, Range::kBetween)) {
              api.max_string_bytes = static_cast<std::size_t>(*v);
            }
          }
        });
      } else if (n == "liveness") {
        if (!read_map(e)) return;
        for_each_entry(e.value, e.key, kApiLivenessKeys, [&](const Entry& l, std::string_view k) {
          auto v = read_seconds(l, 1);
          if (k == "stale_after_secs") {
            mark(stale, l, v.has_value());
            if (v) api.stale_after = *v;
          } else {
            mark(evict, l, v.has_value());
            if (v) api.evict_after = *v;
          }
        });
      } else if (n == "commands") {
        if (!read_map(e)) return;
        for_each_entry(e.value, e.key, kApiCommandKeys, [&](const Entry& c, std::string_view k) {
          if (k == "history") {
            if (auto v = read_integer(c, 1, 100000, Range::kBetween)) {
              api.command_history = static_cast<std::size_t>(*v);
            }
          } else if (k == "max_wait_secs") {
            auto v = read_integer(c, 1, 600, Range::kBetween);
            mark(max_wait, c, v.has_value());
            if (v) api.max_wait = std::chrono::seconds(*v);
          } else if (k == "default_wait_secs") {
            auto v = read_integer(c, 0, 600, Range::kBetween);
            mark(default_wait, c, v.has_value());
            if (v) api.default_wait = std::chrono::seconds(*v);
          }
        });
      }
    });
    if ((stale.given || evict.given) && stale.valid && evict.valid &&
        !(api.stale_after < api.evict_after)) {
      const Timing& last =
          (stale.given && (!evict.given || before(evict.mark, stale.mark))) ? stale : evict;
      error(last.mark, "api.liveness.evict_after_secs",
            rules::format_seconds(api.evict_after.count()) +
                " must be greater than api.liveness.stale_after_secs (" +
                rules::format_seconds(api.stale_after.count()) + ")");
    }
    if (max_wait.given && !default_wait.given && max_wait.valid) {
      api.default_wait = std::min(api.default_wait, api.max_wait);  // the default follows
    }
    if (default_wait.given && max_wait.valid && default_wait.valid &&
        api.default_wait > api.max_wait) {
      const Timing& last =
          (default_wait.given && (!max_wait.given || before(max_wait.mark, default_wait.mark)))
              ? default_wait
              : max_wait;
      error(last.mark, "api.commands.default_wait_secs",
            std::to_string(api.default_wait.count() / 1000) +
                " must not exceed api.commands.max_wait_secs (" +
                std::to_string(api.max_wait.count() / 1000) + ")");
    }
  }

  void read_deployments(const Entry& e) {
    if (e.value.IsNull()) return;
    if (!e.value.IsSequence()) {
      error(e.mark, e.key, "expected a sequence of deployments, got " + describe(e.value));
      return;
    }
    for (std::size_t i = 0; i < e.value.size(); ++i) {
      const YAML::Node& d = e.value[i];
      const std::string key = e.key + "[" + std::to_string(i) + "]";
      if (!d.IsMap()) {
        error(d.Mark(), key, "expected a map with name and tokens, got " + describe(d));
        continue;
      }
      ApiDeploymentConfig dep;
      bool has_name = false;
      bool valid = true;
      for_each_entry(d, key, kApiDeploymentKeys, [&](const Entry& f, std::string_view k) {
        if (k == "name") {
          auto text = read_string(f);
          if (!text) {
            valid = false;
            return;
          }
          has_name = true;
          if (std::string problem = deployment_name_problem(*text); !problem.empty()) {
            error(f.mark, f.key, problem);
            valid = false;
            return;
          }
          if (std::find(deployment_names_.begin(), deployment_names_.end(), *text) !=
              deployment_names_.end()) {
            error(f.mark, f.key, "duplicate deployment name " + rules::quote(*text));
            valid = false;
            return;
          }
          deployment_names_.push_back(*text);
          dep.name = *text;
        } else if (k == "tokens") {
          if (auto v = read_tokens(f)) {
            dep.tokens = std::move(*v);
          } else {
            valid = false;
          }
        } else if (k == "token_file") {
          if (auto v = read_string(f)) dep.token_file = *v;
        }
      });
      if (!has_name) {
        error(d.Mark(), key, "a deployment needs a name");
        continue;
      }
      if (valid && dep.tokens.empty() && dep.token_file.empty()) {
        error(d.Mark(), key,
              "deployment " + rules::quote(dep.name) + " needs tokens or a token_file");
        continue;
      }
      if (valid) config_.api.deployments.push_back(std::move(dep));
    }
  }

  void read_leader(const Entry& section) {
    LeaderConfig& leader = config_.leader;
    Timing duration, interval, renew, stop_work, release;
    auto timing = [](Timing& t, const Entry& e) {
      t.given = true;
      t.mark = e.mark;
    };
    for_each_entry(
        section.value, section.key, kLeaderKeys, [&](const Entry& e, std::string_view name) {
          if (name == "enabled") {
            if (auto b = read_bool(e)) leader.enabled = *b;
          } else if (name == "backend") {
            if (auto text = read_string(e)) {
              if (text->empty()) {
                error(
                    e.mark, e.key,
                    "must not be empty (a plugin name such as \"kubernetes\", or a path to a .so)");
              } else {
                leader.backend = *text;
              }
            }
          } else if (name == "identity") {
            if (auto text = read_string(e)) {
              if (text->empty()) {
                error(e.mark, e.key, "must not be empty; leave the key out to generate one");
              } else {
                leader.identity = *text;
              }
            }
          } else if (name == "lease_name") {
            if (auto text = read_string(e)) {
              std::string problem = rules::dns1123_subdomain_problem(*text);
              if (problem.empty()) {
                leader.lease_name = *text;
              } else {
                error(
                    e.mark, e.key,
                    rules::quote(*text) + " is not a valid DNS-1123 subdomain: " + problem +
                        " (use lowercase letters, digits, '-' and '.', start and end with a letter "
                        "or digit, at most 253 characters)");
              }
            }
          } else if (name == "namespace") {
            if (auto text = read_string(e)) {
              std::string problem = text->empty() ? "" : rules::dns1123_label_problem(*text);
              if (problem.empty()) {
                leader.lease_namespace = *text;
              } else {
                error(e.mark, e.key,
                      rules::quote(*text) + " is not a valid DNS-1123 label: " + problem +
                          " (use lowercase letters, digits and '-', start and end with a letter or "
                          "digit, at most 63 characters)");
              }
            }
          } else if (name == "lease_duration_secs") {
            timing(duration, e);
            auto v = read_integer(e, 1, rules::kMaxValue, Range::kBound);
            duration.valid = v.has_value();
            if (v) leader.lease_duration = std::chrono::seconds(*v);
          } else if (name == "lease_interval_secs") {
            timing(interval, e);
            auto v = read_seconds(e, 1);
            interval.valid = v.has_value();
            if (v) leader.lease_interval = *v;
          } else if (name == "renew_deadline_secs") {
            timing(renew, e);
            auto v = read_seconds(e, 1);
            renew.valid = v.has_value();
            if (v) leader.renew_deadline = *v;
          } else if (name == "release_timeout_secs") {
            timing(release, e);
            auto v = read_seconds(e, 0);
            release.valid = v.has_value();
            if (v) leader.release_timeout = *v;
          } else if (name == "stop_work_timeout_secs") {
            timing(stop_work, e);
            auto v = read_seconds(e, 1);
            stop_work.valid = v.has_value();
            if (v) leader.stop_work_timeout = *v;
          } else if (name == "options") {
            read_options(e);
          }
        });
    check_timing(duration, interval, renew, stop_work, release);
  }

  // The timing rule (docs/configuration.md#the-timing-rule), on values that
  // were valid alone:
  //   lease_interval >= 0.1 s;
  //   lease_duration > renew_deadline > 1.2 x lease_interval;
  //   lease_duration - renew_deadline >= max(1 s, lease_duration / 10): the
  //     safety margin between this replica's deadline and the earliest
  //     takeover by another, which absorbs clock-rate differences and the
  //     time leader work takes to stop;
  //   renew_deadline defaults to lease_duration - max(lease_interval, that
  //     minimum margin): 10 s for the default 15 s / 5 s;
  //   0 < stop_work_timeout < the margin (default: min(2 s, margin / 2));
  //   release_timeout > lease_duration is only a warning.
  void check_timing(const Timing& duration, const Timing& interval, const Timing& renew,
                    const Timing& stop_work, const Timing& release) {
    LeaderConfig& leader = config_.leader;
    const std::int64_t d = leader.lease_duration.count();
    const std::int64_t i = leader.lease_interval.count();
    if (interval.valid && i < kMinIntervalMs) {
      error(interval.mark, "leader.lease_interval_secs",
            rules::format_seconds(i) + " is below the minimum of " +
                rules::format_seconds(kMinIntervalMs) +
                " s: every renewal is a write to the coordination backend and every follower "
                "retry a read");
    }
    const std::int64_t min_margin = std::max<std::int64_t>(1000, d / 10);
    if (!renew.given && duration.valid && interval.valid) {
      leader.renew_deadline = milliseconds(d - std::max(i, min_margin));
    }
    const std::int64_t r = leader.renew_deadline.count();
    const std::string key = "leader.renew_deadline_secs";
    // The position of the last key involved, so the problem sorts after all of them.
    auto last = [](std::initializer_list<const Timing*> involved) {
      YAML::Mark mark = YAML::Mark::null_mark();
      for (const Timing* t : involved) {
        if (t->given && (mark.is_null() || before(mark, t->mark))) mark = t->mark;
      }
      return mark;
    };

    if (renew.given && renew.valid && duration.valid && !(d > r)) {
      error(last({&duration, &renew}), key,
            rules::format_seconds(r) + " must be less than leader.lease_duration_secs (" +
                rules::format_seconds(d) + ")");
    }
    bool renew_known = renew.given ? renew.valid : duration.valid;
    const char* kDefaultRule =
        " (default: lease_duration_secs - max(lease_interval_secs, the safety margin))";
    if (renew_known && interval.valid && !(r * 10 > i * 12)) {
      std::string shown = rules::format_seconds(r);
      if (!renew.given) shown += kDefaultRule;
      error(last({&duration, &interval, &renew}), key,
            shown + " must be greater than 1.2 x leader.lease_interval_secs (1.2 x " +
                rules::format_seconds(i) + " = " + rules::format_decimal(i * 12, 4) + ")");
    }
    if (!renew_known || !duration.valid || !(d > r)) return;
    const std::int64_t margin = d - r;
    if (margin < min_margin) {
      std::string shown = rules::format_seconds(r);
      if (!renew.given) shown += kDefaultRule;
      error(last({&duration, &interval, &renew}), key,
            shown + " leaves " + rules::format_seconds(margin) +
                " s below leader.lease_duration_secs (" + rules::format_seconds(d) +
                "); the safety margin must be at least " + rules::format_seconds(min_margin) +
                " s (the larger of 1 s and 10% of the lease duration): it absorbs clock-rate "
                "differences and the time leader work takes to stop before another replica "
                "can take over; set renew_deadline_secs to at most " +
                rules::format_seconds(d - min_margin) + " or lengthen lease_duration_secs");
      return;
    }
    const std::string stop_key = "leader.stop_work_timeout_secs";
    if (!stop_work.given) {
      leader.stop_work_timeout = milliseconds(std::min<std::int64_t>(2000, margin / 2));
    } else if (stop_work.valid && leader.stop_work_timeout.count() >= margin) {
      error(last({&duration, &interval, &renew, &stop_work}), stop_key,
            rules::format_seconds(leader.stop_work_timeout.count()) +
                " must be less than leader.lease_duration_secs - leader.renew_deadline_secs (" +
                rules::format_seconds(margin) +
                " s): leader work must have stopped before another replica can take over");
    }
    if (release.valid && leader.release_timeout.count() > d) {
      warnings_.push_back(
          {"leader.release_timeout_secs",
           rules::format_seconds(leader.release_timeout.count()) +
               " exceeds leader.lease_duration_secs (" + rules::format_seconds(d) +
               "): the lease expires by itself before a release that slow would end; shutdown "
               "only waits longer"});
    }
  }

  void read_options(const Entry& e) {
    if (e.value.IsNull()) {
      config_.leader.options_json = "{}";
      return;
    }
    if (!e.value.IsMap()) {
      error(e.mark, e.key, "expected a map, got " + describe(e.value));
      return;
    }
    std::vector<config_detail::JsonProblem> problems;
    nlohmann::json json = config_detail::yaml_to_json(e.value, e.key, problems);
    for (auto& p : problems) error(p.mark, std::move(p.key), std::move(p.message));
    // Invalid UTF-8 in the YAML text is replaced rather than thrown on.
    config_.leader.options_json =
        json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  void read_http(const Entry& e, std::string_view name) {
    HttpConfig& http = config_.http;
    constexpr std::int64_t kMax = rules::kMaxValue;
    if (name == "max_header_bytes") {
      if (auto v = read_integer(e, 1024, 1048576, Range::kBetween)) {
        http.max_header_bytes = static_cast<std::size_t>(*v);
      }
    } else if (name == "max_body_bytes") {
      if (auto v = read_integer(e, 1, 67108864, Range::kBetween)) {
        http.max_body_bytes = static_cast<std::size_t>(*v);
      }
    } else if (name == "read_timeout_ms") {
      if (auto v = read_integer(e, 1, kMax, Range::kBound)) http.read_timeout = milliseconds(*v);
    } else if (name == "idle_timeout_ms") {
      if (auto v = read_integer(e, 1, kMax, Range::kBound)) http.idle_timeout = milliseconds(*v);
    } else if (name == "drain_timeout_ms") {
      if (auto v = read_integer(e, 0, kMax, Range::kBound)) http.drain_timeout = milliseconds(*v);
    } else if (name == "io_threads") {
      if (auto v = read_integer(e, 1, 64, Range::kBetween)) http.io_threads = static_cast<int>(*v);
    }
  }

  void read_log(const Entry& e, std::string_view name) {
    if (name == "level") {
      if (auto v = read_choice(e, kLevels)) config_.log.level = *v;
    } else if (name == "format") {
      if (auto v = read_choice(e, kFormats)) config_.log.format = *v;
    }
  }

  Config& config_;
  std::vector<std::pair<YAML::Mark, ConfigError>> errors_;
  std::vector<ConfigError> warnings_;
  std::vector<std::pair<std::string, std::string>> tokens_seen_;  // token, key
  std::vector<std::string> deployment_names_;                     // api.deployments so far
};

std::string syntax_error(const std::string& source, const YAML::ParserException& e) {
  std::string where = source.empty() ? "config" : source;
  if (!e.mark.is_null()) {
    where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
  }
  return where + ": YAML syntax error: " + e.msg;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::string(value) : fallback;
}

std::string random_suffix() {
  std::random_device device;
  std::uint32_t bits = device();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(8, '0');
  for (char& c : out) {
    c = kHex[bits & 0xf];
    bits >>= 4;
  }
  return out;
}

ConfigResult failure(std::string message) {
  ConfigResult result;
  result.errors.push_back({"", std::move(message)});
  return result;
}

}  // namespace

ConfigResult parse_config(const std::string& yaml_text, const std::string& source) {
  const std::string name = source.empty() ? "config" : source;
  try {
    std::vector<YAML::Node> documents = YAML::LoadAll(yaml_text);
    std::size_t count = 0;
    for (const YAML::Node& d : documents) count += d.IsNull() ? 0 : 1;
    if (count > 1) {
      return failure(name + ": holds " + std::to_string(count) +
                     " YAML documents (separated by \"---\"); expected one");
    }
    Config config = default_config();
    Reader reader(config);
    for (const YAML::Node& d : documents) reader.read_document(d);
    ConfigResult result;
    result.errors = reader.sorted_errors();
    result.warnings = reader.take_warnings();
    if (result.errors.empty()) result.config = std::move(config);
    return result;
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp reports this as "bad file" at the start of the document.
    return failure(name + ": YAML syntax error: nested too deeply (the parser stops at " +
                   std::to_string(e.depth()) + " levels)");
  } catch (const YAML::ParserException& e) {
    return failure(syntax_error(source, e));
  } catch (const std::exception& e) {
    return failure(name + ": cannot read the YAML: " + e.what());
  } catch (...) {
    return failure(name + ": cannot read the YAML: unknown error");
  }
}

ConfigResult load_config(const std::string& path) {
  auto cannot_read = [&](int err) {
    return failure("cannot read config file " + config_rules::quote(path) + ": " +
                   std::strerror(err));
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return cannot_read(errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    int err = S_ISDIR(st.st_mode) ? EISDIR : errno;
    ::close(fd);
    return cannot_read(err);
  }
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return cannot_read(err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return parse_config(text, path);
}

Config default_config() { return Config{}; }

void resolve_environment_defaults(Config& config) {
  if (config.leader.identity.empty()) {
    config.leader.identity = env_or("POD_NAME", host_name()) + "_" + random_suffix();
  }
  if (config.advertise_address.empty()) {
    std::string host = env_or("POD_IP", host_name());
    if (host.find(':') != std::string::npos) host = "[" + host + "]";  // IPv6
    config.advertise_address = host + ":" + std::to_string(config.listen_port);
  }
}

}  // namespace pgdc
