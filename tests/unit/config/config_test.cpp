// parse_config / load_config / default_config / resolve_environment_defaults.
//
// The bad-config table lists, for each document, the exact errors expected
// (key and message, in order): the messages are part of the user interface.
#include "config/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "config/small_file.h"
#include "text/text.h"

namespace pgdc {
namespace {

using std::chrono::milliseconds;
using Errors = std::vector<std::pair<std::string, std::string>>;  // key, message

Errors errors_of(const ConfigResult& r) {
  Errors out;
  for (const ConfigError& e : r.errors) out.emplace_back(e.key, e.message);
  return out;
}

// Parses a document that must be valid.
Config parse_ok(const std::string& yaml) {
  ConfigResult r = parse_config(yaml, "test.yaml");
  EXPECT_THAT(errors_of(r), ::testing::IsEmpty()) << yaml;
  EXPECT_TRUE(r.config.has_value());
  return r.config.value_or(Config{});
}

void expect_same(const Config& a, const Config& b) {
  EXPECT_EQ(a.listen_host, b.listen_host);
  EXPECT_EQ(a.listen_port, b.listen_port);
  EXPECT_EQ(a.plugin_dir, b.plugin_dir);
  EXPECT_EQ(a.advertise_address, b.advertise_address);
  EXPECT_EQ(a.state_dir, b.state_dir);
  EXPECT_EQ(a.leader.enabled, b.leader.enabled);
  EXPECT_EQ(a.leader.backend, b.leader.backend);
  EXPECT_EQ(a.leader.identity, b.leader.identity);
  EXPECT_EQ(a.leader.lease_name, b.leader.lease_name);
  EXPECT_EQ(a.leader.lease_namespace, b.leader.lease_namespace);
  EXPECT_EQ(a.leader.lease_duration, b.leader.lease_duration);
  EXPECT_EQ(a.leader.lease_interval, b.leader.lease_interval);
  EXPECT_EQ(a.leader.renew_deadline, b.leader.renew_deadline);
  EXPECT_EQ(a.leader.release_timeout, b.leader.release_timeout);
  EXPECT_EQ(a.leader.options_json, b.leader.options_json);
  EXPECT_EQ(a.http.max_header_bytes, b.http.max_header_bytes);
  EXPECT_EQ(a.http.max_body_bytes, b.http.max_body_bytes);
  EXPECT_EQ(a.http.max_connections, b.http.max_connections);
  EXPECT_EQ(a.http.read_timeout, b.http.read_timeout);
  EXPECT_EQ(a.http.idle_timeout, b.http.idle_timeout);
  EXPECT_EQ(a.http.drain_timeout, b.http.drain_timeout);
  EXPECT_EQ(a.http.io_threads, b.http.io_threads);
  EXPECT_EQ(a.log.level, b.log.level);
  EXPECT_EQ(a.log.format, b.log.format);
}

// ---------------------------------------------------------------------------
// Bad configs: every rule, with the exact errors.

struct BadCase {
  std::string name;
  std::string yaml;
  Errors errors;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

const std::string kSubdomainRule =
    " (use lowercase letters, digits, '-' and '.', start and end with a letter or digit, at most "
    "253 characters)";
const std::string kLabelRule =
    " (use lowercase letters, digits and '-', start and end with a letter or digit, at most 63 "
    "characters)";
const std::string kStateDirWithLeader =
    "state_dir keeps control state in files for a single replica; with leader.enabled the "
    "coordination plugin's state store keeps it (remove state_dir)";
const std::string kHostPort = "; expected host:port, e.g. \"0.0.0.0:8080\" or \"[::1]:8080\"";
const std::string kTopKeys =
    "listen, plugin_dir, advertise_address, state_dir, leader, http, log, api";

std::vector<BadCase> bad_cases() {
  const std::string long_name(254, 'a');
  const std::string long_label(64, 'a');
  return {
      // --- unknown keys ---------------------------------------------------
      {"unknown_top_suggested",
       "listn: 0.0.0.0:8080\n",
       {{"listn", R"(unknown key "listn"; did you mean "listen"?)"}}},
      {"unknown_top_listed",
       "foo: 1\n",
       {{"foo", R"(unknown key "foo"; valid keys: )" + kTopKeys}}},
      {"unknown_leader_suggested",
       "leader:\n  lease_duratin_secs: 10\n",
       {{"leader.lease_duratin_secs",
         R"(unknown key "lease_duratin_secs"; did you mean "lease_duration_secs"?)"}}},
      {"unknown_leader_prefix_suggested",
       "leader:\n  lease_duration: 10\n",
       {{"leader.lease_duration",
         R"(unknown key "lease_duration"; did you mean "lease_duration_secs"?)"}}},
      {"unknown_leader_listed",
       "leader:\n  tls: {}\n",
       {{"leader.tls",
         R"(unknown key "tls"; valid keys: enabled, backend, identity, lease_name, namespace, )"
         "lease_duration_secs, lease_interval_secs, renew_deadline_secs, "
         "release_timeout_secs, stop_work_timeout_secs, options"}}},
      {"unknown_http_suggested",
       "http:\n  max_header_size: 4096\n",
       {{"http.max_header_size",
         R"(unknown key "max_header_size"; did you mean "max_header_bytes"?)"}}},
      {"unknown_log_suggested",
       "log:\n  levle: info\n",
       {{"log.levle", R"(unknown key "levle"; did you mean "level"?)"}}},
      {"unknown_log_listed",
       "log:\n  colour: true\n",
       {{"log.colour", R"(unknown key "colour"; valid keys: level, format)"}}},
      {"duplicate_key",
       "listen: 0.0.0.0:1\nplugin_dir: /p\nlisten: 0.0.0.0:2\n",
       {{"listen", R"(duplicate key "listen" (first on line 1))"}}},
      {"non_string_key", "[a, b]: 1\n", {{"", "keys must be strings, got a sequence"}}},

      // --- wrong types ----------------------------------------------------
      {"bool_phrase",
       "leader:\n  enabled: yes please\n",
       {{"leader.enabled", R"(expected a boolean (true or false), got "yes please")"}}},
      {"bool_yaml11_yes",
       "leader:\n  enabled: yes\n",
       {{"leader.enabled", R"(expected a boolean (true or false), got "yes")"}}},
      {"bool_yaml11_on",
       "leader:\n  enabled: on\n",
       {{"leader.enabled", R"(expected a boolean (true or false), got "on")"}}},
      {"bool_number",
       "leader:\n  enabled: 1\n",
       {{"leader.enabled", R"(expected a boolean (true or false), got "1")"}}},
      {"bool_null",
       "leader:\n  enabled:\n",
       {{"leader.enabled", "expected a boolean (true or false), got null"}}},
      {"integer_word",
       "leader:\n  lease_duration_secs: abc\n",
       {{"leader.lease_duration_secs", R"(expected an integer, got "abc")"}}},
      {"integer_fraction",
       "leader:\n  lease_duration_secs: 1.5\n",
       {{"leader.lease_duration_secs", R"(expected an integer, got "1.5")"}}},
      {"integer_sequence",
       "leader:\n  lease_duration_secs: [15]\n",
       {{"leader.lease_duration_secs", "expected an integer, got a sequence"}}},
      {"integer_null",
       "leader:\n  lease_duration_secs: ~\n",
       {{"leader.lease_duration_secs", "expected an integer, got null"}}},
      {"integer_with_unit",
       "http:\n  max_body_bytes: 1MB\n",
       {{"http.max_body_bytes", R"(expected an integer, got "1MB")"}}},
      {"number_word",
       "leader:\n  lease_interval_secs: fast\n",
       {{"leader.lease_interval_secs", R"(expected a number, got "fast")"}}},
      {"number_map",
       "leader:\n  renew_deadline_secs: {a: 1}\n",
       {{"leader.renew_deadline_secs", "expected a number, got a map"}}},
      {"number_exponent",
       "leader:\n  release_timeout_secs: 1e3\n",
       {{"leader.release_timeout_secs", R"(expected a number, got "1e3")"}}},
      {"map_got_sequence",
       "leader:\n  - enabled\n",
       {{"leader", "expected a map, got a sequence"}}},
      {"map_got_scalar", "http: on\n", {{"http", R"(expected a map, got "on")"}}},
      {"options_not_map",
       "leader:\n  options: [a, b]\n",
       {{"leader.options", "expected a map, got a sequence"}}},
      {"string_got_map",
       "leader:\n  backend: {name: kubernetes}\n",
       {{"leader.backend", "expected a string, got a map"}}},
      {"string_got_sequence",
       "log:\n  level: [debug]\n",
       {{"log.level", "expected a string, got a sequence"}}},
      {"listen_sequence",
       "listen: [0.0.0.0, 8080]\n",
       {{"listen", "expected a string, got a sequence"}}},

      // --- values out of range ---------------------------------------------
      {"duration_zero",
       "leader:\n  lease_duration_secs: 0\n",
       {{"leader.lease_duration_secs", "0 must be greater than 0"}}},
      {"duration_over_int32",
       "leader:\n  lease_duration_secs: 2147483648\n",
       {{"leader.lease_duration_secs", "2147483648 must be at most 2147483647"}}},
      {"interval_zero",
       "leader:\n  lease_interval_secs: 0\n",
       {{"leader.lease_interval_secs", "0 must be greater than 0"}}},
      {"interval_negative",
       "leader:\n  lease_interval_secs: -0.5\n",
       {{"leader.lease_interval_secs", "-0.5 must be greater than 0"}}},
      {"interval_below_millisecond",
       "leader:\n  lease_interval_secs: 0.0001\n",
       {{"leader.lease_interval_secs",
         "0.0001 has more than 3 decimal places (the precision is 1 ms)"}}},
      {"renew_zero",
       "leader:\n  renew_deadline_secs: 0\n",
       {{"leader.renew_deadline_secs", "0 must be greater than 0"}}},
      {"release_negative",
       "leader:\n  release_timeout_secs: -1\n",
       {{"leader.release_timeout_secs", "-1 must not be negative"}}},
      {"backend_empty",
       "leader:\n  backend: \"\"\n",
       {{"leader.backend",
         R"(must not be empty (a plugin name such as "kubernetes", or a path to a .so))"}}},
      {"identity_empty",
       "leader:\n  identity: \"\"\n",
       {{"leader.identity", "must not be empty; leave the key out to generate one"}}},
      {"header_bytes_small",
       "http:\n  max_header_bytes: 100\n",
       {{"http.max_header_bytes", "100 must be between 1024 and 1048576"}}},
      {"header_bytes_large",
       "http:\n  max_header_bytes: 1048577\n",
       {{"http.max_header_bytes", "1048577 must be between 1024 and 1048576"}}},
      {"body_bytes_zero",
       "http:\n  max_body_bytes: 0\n",
       {{"http.max_body_bytes", "0 must be between 1 and 67108864"}}},
      {"body_bytes_huge",
       "http:\n  max_body_bytes: 99999999999999999999\n",
       {{"http.max_body_bytes", "99999999999999999999 must be between 1 and 67108864"}}},
      {"read_timeout_zero",
       "http:\n  read_timeout_ms: 0\n",
       {{"http.read_timeout_ms", "0 must be greater than 0"}}},
      {"idle_timeout_negative",
       "http:\n  idle_timeout_ms: -5\n",
       {{"http.idle_timeout_ms", "-5 must be greater than 0"}}},
      {"drain_timeout_negative",
       "http:\n  drain_timeout_ms: -1\n",
       {{"http.drain_timeout_ms", "-1 must not be negative"}}},
      {"max_connections_zero",
       "http:\n  max_connections: 0\n",
       {{"http.max_connections", "0 must be between 1 and 1000000"}}},
      {"max_connections_too_many",
       "http:\n  max_connections: 1000001\n",
       {{"http.max_connections", "1000001 must be between 1 and 1000000"}}},
      {"io_threads_zero",
       "http:\n  io_threads: 0\n",
       {{"http.io_threads", "0 must be between 1 and 64"}}},
      {"log_level_suggested",
       "log:\n  level: warning\n",
       {{"log.level",
         R"("warning" is not one of debug, info, warn, error; did you mean "warn"?)"}}},
      {"log_level_unknown",
       "log:\n  level: loud\n",
       {{"log.level", R"("loud" is not one of debug, info, warn, error)"}}},
      {"log_format_case",
       "log:\n  format: JSON\n",
       {{"log.format", R"("JSON" is not one of text, json; did you mean "json"?)"}}},

      // --- lease_name and namespace -----------------------------------------
      {"lease_name_uppercase",
       "leader:\n  lease_name: PgDog\n",
       {{"leader.lease_name",
         R"("PgDog" is not a valid DNS-1123 subdomain: 'P' is not allowed)" + kSubdomainRule}}},
      {"lease_name_underscore",
       "leader:\n  lease_name: pgdog_control\n",
       {{"leader.lease_name",
         R"("pgdog_control" is not a valid DNS-1123 subdomain: '_' is not allowed)" +
             kSubdomainRule}}},
      {"lease_name_too_long",
       "leader:\n  lease_name: " + long_name + "\n",
       {{"leader.lease_name", "\"" + std::string(60, 'a') +
                                  "\"... (254 characters) is not a valid DNS-1123 subdomain: "
                                  "it is 254 characters long" +
                                  kSubdomainRule}}},
      {"lease_name_leading_dash",
       "leader:\n  lease_name: -pgdog\n",
       {{"leader.lease_name",
         R"("-pgdog" is not a valid DNS-1123 subdomain: it starts with '-')" + kSubdomainRule}}},
      {"lease_name_trailing_dot",
       "leader:\n  lease_name: pgdog.\n",
       {{"leader.lease_name",
         R"("pgdog." is not a valid DNS-1123 subdomain: it ends with '.')" + kSubdomainRule}}},
      {"lease_name_empty_part",
       "leader:\n  lease_name: a..b\n",
       {{"leader.lease_name",
         R"("a..b" is not a valid DNS-1123 subdomain: it contains "..")" + kSubdomainRule}}},
      {"lease_name_empty",
       "leader:\n  lease_name: \"\"\n",
       {{"leader.lease_name",
         R"("" is not a valid DNS-1123 subdomain: it is empty)" + kSubdomainRule}}},
      {"namespace_uppercase",
       "leader:\n  namespace: Prod\n",
       {{"leader.namespace",
         R"("Prod" is not a valid DNS-1123 label: 'P' is not allowed)" + kLabelRule}}},
      {"namespace_dot",
       "leader:\n  namespace: my.ns\n",
       {{"leader.namespace",
         R"("my.ns" is not a valid DNS-1123 label: '.' is not allowed)" + kLabelRule}}},
      {"namespace_trailing_dash",
       "leader:\n  namespace: ns-\n",
       {{"leader.namespace",
         R"("ns-" is not a valid DNS-1123 label: it ends with '-')" + kLabelRule}}},
      {"namespace_too_long",
       "leader:\n  namespace: " + long_label + "\n",
       {{"leader.namespace", "\"" + std::string(60, 'a') +
                                 "\"... (64 characters) is not a valid DNS-1123 label: it is "
                                 "64 characters long" +
                                 kLabelRule}}},

      // --- listen and advertise_address ---------------------------------------
      {"listen_no_port", "listen: 0.0.0.0\n", {{"listen", R"("0.0.0.0" has no port)" + kHostPort}}},
      {"listen_empty_port",
       "listen: \"0.0.0.0:\"\n",
       {{"listen", R"("0.0.0.0:" has no port)" + kHostPort}}},
      {"listen_port_only", "listen: 8080\n", {{"listen", R"("8080" has no host)" + kHostPort}}},
      {"listen_no_host", "listen: \":8080\"\n", {{"listen", R"(":8080" has no host)" + kHostPort}}},
      {"listen_port_name",
       "listen: localhost:http\n",
       {{"listen", R"("localhost:http": the port "http" is not a number)"}}},
      {"listen_port_70000",
       "listen: 0.0.0.0:70000\n",
       {{"listen", R"("0.0.0.0:70000": the port 70000 is out of range (0 to 65535))"}}},
      {"listen_ipv6_unbracketed",
       "listen: \"::1:8080\"\n",
       {{"listen", R"("::1:8080": an IPv6 address must be in brackets, e.g. "[::1]:8080")"}}},
      {"listen_ipv6_unclosed",
       "listen: \"[::1:8080\"\n",
       {{"listen", R"("[::1:8080" has no closing ']')" + kHostPort}}},
      {"listen_space",
       "listen: \"local host:80\"\n",
       {{"listen", R"("local host:80": the host "local host" contains ' ')"}}},
      {"listen_empty", "listen: \"\"\n", {{"listen", "must not be empty" + kHostPort}}},
      {"advertise_port_zero",
       "advertise_address: 10.0.0.1:0\n",
       {{"advertise_address", R"("10.0.0.1:0": the port 0 is out of range (1 to 65535))"}}},
      {"advertise_no_port",
       "advertise_address: pod-0\n",
       {{"advertise_address", R"("pod-0" has no port)" + kHostPort}}},

      // --- the timing chain -------------------------------------------------
      {"renew_above_duration",
       "leader:\n  lease_duration_secs: 10\n  renew_deadline_secs: 12\n  lease_interval_secs: 2\n",
       {{"leader.renew_deadline_secs", "12 must be less than leader.lease_duration_secs (10)"}}},
      {"renew_equal_duration",
       "leader:\n  lease_duration_secs: 10\n  renew_deadline_secs: 10\n  lease_interval_secs: 2\n",
       {{"leader.renew_deadline_secs", "10 must be less than leader.lease_duration_secs (10)"}}},
      {"renew_below_interval",
       "leader:\n  lease_duration_secs: 15\n  renew_deadline_secs: 5\n  lease_interval_secs: 5\n",
       {{"leader.renew_deadline_secs",
         "5 must be greater than 1.2 x leader.lease_interval_secs (1.2 x 5 = 6)"}}},
      {"renew_equal_jittered_interval",
       "leader:\n  renew_deadline_secs: 6\n  lease_interval_secs: 5\n",
       {{"leader.renew_deadline_secs",
         "6 must be greater than 1.2 x leader.lease_interval_secs (1.2 x 5 = 6)"}}},
      {"renew_default_below_interval",
       "leader:\n  lease_duration_secs: 10\n  lease_interval_secs: 5\n",
       {{"leader.renew_deadline_secs",
         "5 (default: lease_duration_secs - max(lease_interval_secs, the safety margin)) must be "
         "greater than 1.2 x "
         "leader.lease_interval_secs (1.2 x 5 = 6)"}}},
      {"renew_default_negative",
       "leader:\n  lease_duration_secs: 5\n  lease_interval_secs: 10\n",
       {{"leader.renew_deadline_secs",
         "-5 (default: lease_duration_secs - max(lease_interval_secs, the safety margin)) must be "
         "greater than 1.2 x "
         "leader.lease_interval_secs (1.2 x 10 = 12)"}}},
      {"both_inequalities",
       "leader:\n  lease_duration_secs: 10\n  renew_deadline_secs: 12\n  lease_interval_secs: 11\n",
       {{"leader.renew_deadline_secs", "12 must be less than leader.lease_duration_secs (10)"},
        {"leader.renew_deadline_secs",
         "12 must be greater than 1.2 x leader.lease_interval_secs (1.2 x 11 = 13.2)"}}},
      {"fractional_inequality",
       "leader:\n  lease_interval_secs: 0.2\n  renew_deadline_secs: 0.24\n",
       {{"leader.renew_deadline_secs",
         "0.24 must be greater than 1.2 x leader.lease_interval_secs (1.2 x 0.2 = 0.24)"}}},
      // --- issue 11: a sane minimum interval, a real safety margin ---------
      {"interval_below_the_minimum",
       "leader:\n  lease_interval_secs: 0.099\n  renew_deadline_secs: 2\n",
       {{"leader.lease_interval_secs",
         "0.099 is below the minimum of 0.1 s: every renewal is a write to the coordination "
         "backend and every follower retry a read"}}},
      {"renew_deadline_one_ms_below_the_duration",
       "leader:\n  lease_duration_secs: 15\n  renew_deadline_secs: 14.999\n  lease_interval_secs: "
       "1\n",
       {{"leader.renew_deadline_secs",
         "14.999 leaves 0.001 s below leader.lease_duration_secs (15); the safety margin must be "
         "at least 1.5 s (the larger of 1 s and 10% of the lease duration): it absorbs "
         "clock-rate differences and the time leader work takes to stop before another "
         "replica can take over; set renew_deadline_secs to at most 13.5 or lengthen "
         "lease_duration_secs"}}},
      {"margin_rule_on_the_default_deadline",
       "leader:\n  lease_duration_secs: 2\n  lease_interval_secs: 0.9\n",
       {{"leader.renew_deadline_secs",
         "1 (default: lease_duration_secs - max(lease_interval_secs, the safety margin)) must "
         "be greater than 1.2 x leader.lease_interval_secs (1.2 x 0.9 = 1.08)"}}},
      {"stop_work_timeout_within_the_margin",
       "leader:\n  lease_duration_secs: 15\n  lease_interval_secs: 5\n"
       "  stop_work_timeout_secs: 5\n",
       {{"leader.stop_work_timeout_secs",
         "5 must be less than leader.lease_duration_secs - leader.renew_deadline_secs (5 s): "
         "leader work must have stopped before another replica can take over"}}},
      {"stop_work_timeout_positive",
       "leader:\n  stop_work_timeout_secs: 0\n",
       {{"leader.stop_work_timeout_secs", "0 must be greater than 0"}}},
      // Inequalities are checked only between values that are valid alone.
      {"invalid_interval_skips_its_inequality",
       "leader:\n  lease_duration_secs: 10\n  lease_interval_secs: abc\n  renew_deadline_secs: "
       "12\n",
       {{"leader.lease_interval_secs", R"(expected a number, got "abc")"},
        {"leader.renew_deadline_secs", "12 must be less than leader.lease_duration_secs (10)"}}},
      {"invalid_duration_skips_default_renew",
       "leader:\n  lease_duration_secs: 1.5\n  lease_interval_secs: 5\n",
       {{"leader.lease_duration_secs", R"(expected an integer, got "1.5")"}}},
      {"invalid_renew_skips_all",
       "leader:\n  lease_duration_secs: 2\n  lease_interval_secs: 5\n  renew_deadline_secs: -1\n",
       {{"leader.renew_deadline_secs", "-1 must be greater than 0"}}},
      // A cross-key error sits at the last key involved, between the others.
      {"inequality_in_file_order",
       "leader:\n  renew_deadline_secs: 5\n  lease_interval_secs: 5\n  release_timeout_secs: -1\n",
       {{"leader.renew_deadline_secs",
         "5 must be greater than 1.2 x leader.lease_interval_secs (1.2 x 5 = 6)"},
        {"leader.release_timeout_secs", "-1 must not be negative"}}},

      // --- state_dir ----------------------------------------------------------
      {"state_dir_relative",
       "state_dir: var/state\n",
       {{"state_dir", R"("var/state" is not an absolute path (it must start with "/"))"}}},
      {"state_dir_with_leader_election",
       "state_dir: /var/lib/pgdog-control/state\nleader:\n  enabled: true\n",
       {{"state_dir", kStateDirWithLeader}}},
      // Reported at the last of the two keys, in file order.
      {"state_dir_with_leader_election_in_file_order",
       "leader:\n  enabled: true\n  lease_name: Bad\nstate_dir: /s\nlog:\n  level: x\n",
       {{"leader.lease_name",
         R"("Bad" is not a valid DNS-1123 subdomain: 'B' is not allowed)" + kSubdomainRule},
        {"state_dir", kStateDirWithLeader},
        {"log.level", R"("x" is not one of debug, info, warn, error)"}}},
      // A relative state_dir is its own error only, not also the cross-key one.
      {"state_dir_invalid_skips_the_leader_rule",
       "state_dir: rel\nleader:\n  enabled: true\n",
       {{"state_dir", R"("rel" is not an absolute path (it must start with "/"))"}}},

      // --- leader.options ---------------------------------------------------
      {"options_duplicate_key",
       "leader:\n  options:\n    a: 1\n    a: 2\n",
       {{"leader.options.a", R"(duplicate key "a" (first on line 3))"}}},
      {"options_non_string_key",
       "leader:\n  options:\n    [x]: 1\n",
       {{"leader.options", "keys must be strings, got a sequence"}}},
      {"options_alias_cycle",
       "leader:\n  options: &a {x: *a}\n",
       {{"leader.options", "is nested more than 32 levels deep"}}},
      {"options_alias_bomb",
       "leader:\n  options:\n"
       "    a: &a [x, x, x, x, x, x, x, x, x, x]\n"
       "    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
       "    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
       "    d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
       {{"leader.options", "has more than 10000 values"}}},

      // --- many problems, reported in file order ------------------------------
      {"several_in_file_order",
       "listen: 0.0.0.0\n"
       "leader:\n"
       "  enabled: yes\n"
       "  lease_name: Bad_Name\n"
       "  lease_duration_secs: 10\n"
       "  renew_deadline_secs: 12\n"
       "  lease_intervl_secs: 2\n"
       "http:\n"
       "  max_body_bytes: 0\n"
       "log:\n"
       "  level: loud\n"
       "bogus: 1\n",
       {{"listen", R"("0.0.0.0" has no port)" + kHostPort},
        {"leader.enabled", R"(expected a boolean (true or false), got "yes")"},
        {"leader.lease_name",
         R"("Bad_Name" is not a valid DNS-1123 subdomain: 'B' is not allowed)" + kSubdomainRule},
        {"leader.renew_deadline_secs", "12 must be less than leader.lease_duration_secs (10)"},
        {"leader.lease_intervl_secs",
         R"(unknown key "lease_intervl_secs"; did you mean "lease_interval_secs"?)"},
        {"http.max_body_bytes", "0 must be between 1 and 67108864"},
        {"log.level", R"("loud" is not one of debug, info, warn, error)"},
        {"bogus", R"(unknown key "bogus"; valid keys: )" + kTopKeys}}},

      // --- the document as a whole ------------------------------------------
      {"syntax_error_line",
       "listen: 0.0.0.0:8080\nleader:\n  enabled: [true\n",
       {{"", "test.yaml:4:1: YAML syntax error: end of sequence flow not found"}}},
      {"syntax_error_bad_indent",
       "leader:\n  enabled: true\n backend: x\n",
       {{"", "test.yaml:3:2: YAML syntax error: end of map not found"}}},
      {"too_deep",
       std::string(1000, '[') + std::string(1000, ']'),
       {{"", "test.yaml: YAML syntax error: nested too deeply (the parser stops at 500 levels)"}}},
      {"top_level_sequence",
       "- listen: 0.0.0.0:8080\n",
       {{"", "expected a map at the top level, got a sequence"}}},
      {"top_level_scalar", "hello\n", {{"", R"(expected a map at the top level, got "hello")"}}},
      {"two_documents",
       "listen: 0.0.0.0:1\n---\nlisten: 0.0.0.0:2\n",
       {{"", R"(test.yaml: holds 2 YAML documents (separated by "---"); expected one)"}}},
  };
}

class BadConfig : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfig, ReportsExactlyTheseErrors) {
  const BadCase& c = GetParam();
  ConfigResult r = parse_config(c.yaml, "test.yaml");
  EXPECT_EQ(errors_of(r), c.errors) << c.yaml;
  EXPECT_FALSE(r.config.has_value());
}

INSTANTIATE_TEST_SUITE_P(Table, BadConfig, ::testing::ValuesIn(bad_cases()),
                         [](const ::testing::TestParamInfo<BadCase>& p) { return p.param.name; });

TEST(ConfigError, StrJoinsKeyAndMessage) {
  EXPECT_EQ((ConfigError{"leader.enabled", "bad"}.str()), "leader.enabled: bad");
  EXPECT_EQ((ConfigError{"", "test.yaml:1:1: bad"}.str()), "test.yaml:1:1: bad");
}

// Whatever the bytes, parse_config returns (no exception, no crash).
TEST(BadConfig, MalformedInputNeverThrows) {
  const std::vector<std::string> inputs = {
      "{",
      "}",
      ":",
      "? ",
      "&a *a",
      "*unknown",
      "!!binary ???",
      std::string("listen: \0\x01\xff\xfe", 13),
      "\xef\xbb\xbflisten: 0.0.0.0:1",
      "leader: {options: {a: \"\xff\xfe\"}}",
      "\t- x",
      "%YAML 9.9\n---\na: 1",
      "a: |\n bad\n  indent\n x: y",
      std::string(100000, '{'),
      std::string(100000, '-'),
      "leader: &l {options: *l}",
  };
  for (const std::string& in : inputs) {
    ConfigResult r;
    EXPECT_NO_THROW(r = parse_config(in, "fuzz.yaml")) << in.substr(0, 40);
    EXPECT_NE(r.config.has_value(), !r.errors.empty()) << in.substr(0, 40);
  }
}

// ---------------------------------------------------------------------------
// Good configs.

TEST(GoodConfig, EmptyOrNullDocumentsGiveTheDefaults) {
  for (const std::string yaml : {"", "\n", "# only a comment\n", "~\n", "null\n", "---\n",
                                 "leader:\nhttp:\nlog:\n", "leader: {}\nhttp: {}\nlog: {}\n"}) {
    SCOPED_TRACE(yaml);
    expect_same(parse_ok(yaml), default_config());
  }
}

TEST(GoodConfig, DefaultConfigIsTheDocumentedDefault) {
  Config c = default_config();
  EXPECT_EQ(c.listen_host, "0.0.0.0");
  EXPECT_EQ(c.listen_port, 8080);
  EXPECT_EQ(c.plugin_dir, "");
  EXPECT_EQ(c.advertise_address, "");
  EXPECT_EQ(c.state_dir, "");
  EXPECT_FALSE(c.leader.enabled);
  EXPECT_EQ(c.leader.backend, "kubernetes");
  EXPECT_EQ(c.leader.identity, "");
  EXPECT_EQ(c.leader.lease_name, "pgdog-control");
  EXPECT_EQ(c.leader.lease_namespace, "");
  EXPECT_EQ(c.leader.lease_duration, milliseconds(15000));
  EXPECT_EQ(c.leader.lease_interval, milliseconds(5000));
  EXPECT_EQ(c.leader.renew_deadline, milliseconds(10000));
  EXPECT_EQ(c.leader.release_timeout, milliseconds(5000));
  EXPECT_EQ(c.leader.options_json, "{}");
  EXPECT_EQ(c.http.max_header_bytes, 8192u);
  EXPECT_EQ(c.http.max_body_bytes, 262144u);
  EXPECT_EQ(c.http.max_connections, 10000u);
  EXPECT_EQ(c.http.read_timeout, milliseconds(10000));
  EXPECT_EQ(c.http.idle_timeout, milliseconds(60000));
  EXPECT_EQ(c.http.drain_timeout, milliseconds(5000));
  EXPECT_EQ(c.http.io_threads, 2);
  EXPECT_EQ(c.log.level, LogLevel::kInfo);
  EXPECT_EQ(c.log.format, LogFormat::kText);
}

TEST(GoodConfig, EveryKeySet) {
  Config c = parse_ok(R"(
listen: "127.0.0.1:9090"
plugin_dir: /opt/pgdc/plugins
advertise_address: pgdc-0.pgdc:9090
leader:
  enabled: true
  backend: /opt/pgdc/plugins/kubernetes.so
  identity: pgdc-0_fixed
  lease_name: pgdog-control.prod
  namespace: databases
  lease_duration_secs: 30
  lease_interval_secs: 2.5
  renew_deadline_secs: 20
  release_timeout_secs: 0
  options:
    qps: 5
http:
  max_header_bytes: 16384
  max_body_bytes: 2048
  max_connections: 500
  read_timeout_ms: 1500
  idle_timeout_ms: 30000
  drain_timeout_ms: 0
  io_threads: 4
log:
  level: debug
  format: json
)");
  EXPECT_EQ(c.listen_host, "127.0.0.1");
  EXPECT_EQ(c.listen_port, 9090);
  EXPECT_EQ(c.plugin_dir, "/opt/pgdc/plugins");
  EXPECT_EQ(c.advertise_address, "pgdc-0.pgdc:9090");
  EXPECT_TRUE(c.leader.enabled);
  EXPECT_EQ(c.leader.backend, "/opt/pgdc/plugins/kubernetes.so");
  EXPECT_EQ(c.leader.identity, "pgdc-0_fixed");
  EXPECT_EQ(c.leader.lease_name, "pgdog-control.prod");
  EXPECT_EQ(c.leader.lease_namespace, "databases");
  EXPECT_EQ(c.leader.lease_duration, milliseconds(30000));
  EXPECT_EQ(c.leader.lease_interval, milliseconds(2500));
  EXPECT_EQ(c.leader.renew_deadline, milliseconds(20000));
  EXPECT_EQ(c.leader.release_timeout, milliseconds(0));
  EXPECT_EQ(c.leader.options_json, R"({"qps":5})");
  EXPECT_EQ(c.http.max_header_bytes, 16384u);
  EXPECT_EQ(c.http.max_body_bytes, 2048u);
  EXPECT_EQ(c.http.max_connections, 500u);
  EXPECT_EQ(c.http.read_timeout, milliseconds(1500));
  EXPECT_EQ(c.http.idle_timeout, milliseconds(30000));
  EXPECT_EQ(c.http.drain_timeout, milliseconds(0));
  EXPECT_EQ(c.http.io_threads, 4);
  EXPECT_EQ(c.log.level, LogLevel::kDebug);
  EXPECT_EQ(c.log.format, LogFormat::kJson);
}

TEST(GoodConfig, StateDirForASingleReplica) {
  Config c = parse_ok("state_dir: /var/lib/pgdog-control/state\nleader:\n  enabled: false\n");
  EXPECT_EQ(c.state_dir, "/var/lib/pgdog-control/state");
  // Empty means in memory only, and is fine with leader election.
  c = parse_ok("state_dir: \"\"\nleader:\n  enabled: true\n");
  EXPECT_EQ(c.state_dir, "");
  EXPECT_TRUE(c.leader.enabled);
}

TEST(GoodConfig, FractionalIntervalAndDefaultRenewDeadline) {
  Config c = parse_ok("leader:\n  lease_duration_secs: 4\n  lease_interval_secs: 0.5\n");
  EXPECT_EQ(c.leader.lease_interval, milliseconds(500));
  EXPECT_EQ(c.leader.renew_deadline, milliseconds(3000))
      << "4 - max(0.5, the 1 s minimum safety margin)";
  c = parse_ok("leader:\n  lease_duration_secs: 100\n  lease_interval_secs: 3\n");
  EXPECT_EQ(c.leader.renew_deadline, milliseconds(90000)) << "100 - max(3, 10% of 100)";
}

TEST(GoodConfig, StopWorkTimeoutDefaultsToHalfTheMarginAtMostTwoSeconds) {
  EXPECT_EQ(parse_ok("").leader.stop_work_timeout, milliseconds(2000));
  EXPECT_EQ(parse_ok("leader:\n  lease_duration_secs: 4\n  lease_interval_secs: 1\n")
                .leader.stop_work_timeout,
            milliseconds(500));
  EXPECT_EQ(parse_ok("leader:\n  stop_work_timeout_secs: 4.5\n").leader.stop_work_timeout,
            milliseconds(4500));
}

TEST(GoodConfig, ReleaseTimeoutLongerThanTheDurationIsAWarningNotAnError) {
  const ConfigResult r = parse_config("leader:\n  release_timeout_secs: 20\n", "test.yaml");
  ASSERT_TRUE(r.config.has_value());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].key, "leader.release_timeout_secs");
  EXPECT_EQ(r.warnings[0].message,
            "20 exceeds leader.lease_duration_secs (15): the lease expires by itself before a "
            "release that slow would end; shutdown only waits longer");
  EXPECT_TRUE(parse_config("leader:\n  release_timeout_secs: 15\n", "test.yaml").warnings.empty());
}

TEST(GoodConfig, UploadsLargerThanTheServerReadsAreAWarning) {
  const ConfigResult r = parse_config("http:\n  max_body_bytes: 100000\n", "test.yaml");
  ASSERT_TRUE(r.config.has_value());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].key, "api.telemetry.max_upload_bytes");
  EXPECT_EQ(r.warnings[0].message,
            "262144 exceeds http.max_body_bytes (100000): the server refuses bodies over 100000 "
            "bytes first; raise http.max_body_bytes too");
  EXPECT_TRUE(parse_config("http:\n  max_body_bytes: 262144\n", "test.yaml").warnings.empty());
  EXPECT_TRUE(parse_config("", "test.yaml").warnings.empty());
}

TEST(GoodConfig, RenewDeadlineDefaultsToDurationMinusInterval) {
  EXPECT_EQ(parse_ok("leader:\n  lease_duration_secs: 30\n").leader.renew_deadline,
            milliseconds(25000));
  EXPECT_EQ(parse_ok("leader:\n  lease_interval_secs: 4\n").leader.renew_deadline,
            milliseconds(11000));
  EXPECT_EQ(parse_ok("leader:\n  lease_duration_secs: 30\n  lease_interval_secs: 4\n")
                .leader.renew_deadline,
            milliseconds(26000));
}

TEST(GoodConfig, TimingChainBoundaries) {
  // On each bound: a margin of exactly 1 s (10 - 9), and 9 > 1.2 x 7.499 = 8.9988.
  Config c = parse_ok(
      "leader:\n  lease_duration_secs: 10\n  renew_deadline_secs: 9\n"
      "  lease_interval_secs: 7.499\n");
  EXPECT_EQ(c.leader.renew_deadline, milliseconds(9000));
  EXPECT_EQ(c.leader.lease_interval, milliseconds(7499));
  // The smallest values: a 0.1 s interval, a renew deadline above 0.12 s and
  // a lease duration 1 s beyond it.
  c = parse_ok(
      "leader:\n  lease_duration_secs: 2\n  lease_interval_secs: 0.1\n"
      "  renew_deadline_secs: 0.121\n  stop_work_timeout_secs: 0.001\n");
  EXPECT_EQ(c.leader.lease_interval, milliseconds(100));
  EXPECT_EQ(c.leader.stop_work_timeout, milliseconds(1));
}

TEST(GoodConfig, OptionsBecomeAJsonObject) {
  Config c = parse_ok(R"(
leader:
  options:
    qps: 5
    burst: -2
    ratio: 1.5
    insecure: false
    yaml11_word: yes
    quoted_number: "5"
    tagged: !!str 7
    nothing: ~
    api: https://kubernetes.default.svc
    headers:
      X-Team: db
    watch: [leases, pods]
    note: |
      line one
)");
  nlohmann::json expected = {
      {"qps", 5},
      {"burst", -2},
      {"ratio", 1.5},
      {"insecure", false},
      {"yaml11_word", "yes"},
      {"quoted_number", "5"},
      {"tagged", "7"},
      {"nothing", nullptr},
      {"api", "https://kubernetes.default.svc"},
      {"headers", {{"X-Team", "db"}}},
      {"watch", {"leases", "pods"}},
      {"note", "line one\n"},
  };
  EXPECT_EQ(nlohmann::json::parse(c.leader.options_json), expected);
  EXPECT_TRUE(nlohmann::json::parse(c.leader.options_json)["qps"].is_number_integer());
}

TEST(GoodConfig, EmptyOptionsAreAnEmptyObject) {
  EXPECT_EQ(parse_ok("leader:\n  options:\n").leader.options_json, "{}");
  EXPECT_EQ(parse_ok("leader:\n  options: {}\n").leader.options_json, "{}");
}

TEST(GoodConfig, BooleansAreTheCoreSchemaOnes) {
  for (const std::string yes : {"true", "True", "TRUE", "\"true\""}) {
    EXPECT_TRUE(parse_ok("leader:\n  enabled: " + yes + "\n").leader.enabled) << yes;
  }
  for (const std::string no : {"false", "False", "FALSE"}) {
    EXPECT_FALSE(parse_ok("leader:\n  enabled: " + no + "\n").leader.enabled) << no;
  }
}

TEST(GoodConfig, QuotedNumbersAreNumbers) {
  Config c = parse_ok("leader:\n  lease_duration_secs: \"20\"\nhttp:\n  read_timeout_ms: '750'\n");
  EXPECT_EQ(c.leader.lease_duration, milliseconds(20000));
  EXPECT_EQ(c.http.read_timeout, milliseconds(750));
}

TEST(GoodConfig, ListenForms) {
  Config c = parse_ok("listen: \"[::1]:8080\"\n");
  EXPECT_EQ(c.listen_host, "::1");
  EXPECT_EQ(c.listen_port, 8080);
  c = parse_ok("listen: 127.0.0.1:0\n");
  EXPECT_EQ(c.listen_host, "127.0.0.1");
  EXPECT_EQ(c.listen_port, 0);
  c = parse_ok("listen: localhost:65535\n");
  EXPECT_EQ(c.listen_host, "localhost");
  EXPECT_EQ(c.listen_port, 65535);
}

TEST(GoodConfig, EmptyStringsMeanDefaults) {
  Config c = parse_ok("plugin_dir: \"\"\nadvertise_address:\nleader:\n  namespace: \"\"\n");
  EXPECT_EQ(c.plugin_dir, "");
  EXPECT_EQ(c.advertise_address, "");
  EXPECT_EQ(c.leader.lease_namespace, "");
}

TEST(GoodConfig, AnchorsAndAliasesWork) {
  Config c = parse_ok("leader:\n  lease_interval_secs: &i 2\n  options: {retry: *i}\n");
  EXPECT_EQ(c.leader.options_json, R"({"retry":2})");
}

// Every ```yaml block in docs/configuration.md is a valid config.
TEST(GoodConfig, DocumentationExamplesAreValid) {
  std::ifstream in(std::string(PGDC_TEST_SOURCE_DIR) + "/../docs/configuration.md");
  ASSERT_TRUE(in) << "docs/configuration.md not found";
  std::string line;
  std::string block;
  bool inside = false;
  int blocks = 0;
  while (std::getline(in, line)) {
    if (!inside && line == "```yaml") {
      inside = true;
      block.clear();
    } else if (inside && line == "```") {
      inside = false;
      ++blocks;
      SCOPED_TRACE(block);
      parse_ok(block);
    } else if (inside) {
      block += line + "\n";
    }
  }
  EXPECT_GE(blocks, 2);
}

// ---------------------------------------------------------------------------
// load_config.

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("pgdc_config_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path dir_;
};

using LoadConfig = TempDir;

TEST_F(LoadConfig, MissingFileIsOneError) {
  std::string path = (dir_ / "absent.yaml").string();
  ConfigResult r = load_config(path);
  EXPECT_EQ(errors_of(r),
            (Errors{{"", "cannot read config file \"" + path + "\": No such file or directory"}}));
  EXPECT_FALSE(r.config.has_value());
}

TEST_F(LoadConfig, DirectoryIsOneError) {
  ConfigResult r = load_config(dir_.string());
  EXPECT_EQ(errors_of(r), (Errors{{"", "cannot read config file \"" + dir_.string() +
                                           "\": not a regular file (a directory)"}}));
}

// A FIFO would block open() for ever (signals are blocked by then, so not
// even SIGTERM would end the daemon); a device never ends.
TEST_F(LoadConfig, FifosAndDevicesAreRefusedAtOnce) {
  const std::string fifo = (dir_ / "fifo.yaml").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(
      errors_of(load_config(fifo)),
      (Errors{{"", "cannot read config file \"" + fifo + "\": not a regular file (a FIFO)"}}));
  EXPECT_EQ(errors_of(load_config("/dev/zero")),
            (Errors{{"",
                     "cannot read config file \"/dev/zero\": not a regular file (a character "
                     "device)"}}));
}

TEST_F(LoadConfig, LargeFilesAreRefused) {
  const std::string path = write("big.yaml", "# " + std::string(kMaxConfigFileBytes, 'x') + "\n");
  EXPECT_EQ(errors_of(load_config(path)),
            (Errors{{"", "cannot read config file \"" + path + "\": larger than " +
                             std::to_string(kMaxConfigFileBytes) + " bytes"}}));
}

// Bytes of the file quoted in a YAML error are escaped: one line, and no
// terminal escape reaches the operator's terminal.
TEST_F(LoadConfig, ControlBytesInSyntaxErrorsAreEscaped) {
  const std::string path = write("esc.yaml", "a: \"\\\x1b\"\n");
  const auto errors = errors_of(load_config(path));
  ASSERT_EQ(errors.size(), 1u);
  const std::string& message = errors[0].second;
  EXPECT_NE(message.find("YAML syntax error"), std::string::npos) << message;
  for (char c : message) {
    EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
        << "raw control byte " << static_cast<int>(c) << " in: " << text::one_line(message);
  }
}

TEST_F(LoadConfig, ReadsAFile) {
  ConfigResult r = load_config(write("ok.yaml", "listen: 0.0.0.0:9000\nlog:\n  level: warn\n"));
  ASSERT_TRUE(r.config.has_value());
  EXPECT_EQ(r.config->listen_port, 9000);
  EXPECT_EQ(r.config->log.level, LogLevel::kWarn);
}

TEST_F(LoadConfig, EmptyFileGivesDefaults) {
  ConfigResult r = load_config(write("empty.yaml", ""));
  ASSERT_TRUE(r.config.has_value());
  expect_same(*r.config, default_config());
}

TEST_F(LoadConfig, SyntaxErrorsNameTheFile) {
  std::string path = write("bad.yaml", "leader:\n  enabled: true\n backend: x\n");
  EXPECT_EQ(errors_of(load_config(path)),
            (Errors{{"", path + ":3:2: YAML syntax error: end of map not found"}}));
}

// ---------------------------------------------------------------------------
// resolve_environment_defaults.

// Sets or unsets an environment variable for one test, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string this_host() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

TEST(Environment, IdentityIsHostNamePlusRandomSuffix) {
  ScopedEnv pod("POD_NAME", nullptr);
  Config a = default_config();
  Config b = default_config();
  resolve_environment_defaults(a);
  resolve_environment_defaults(b);
  EXPECT_TRUE(std::regex_match(a.leader.identity, std::regex(".+_[0-9a-f]{8}")))
      << a.leader.identity;
  EXPECT_EQ(a.leader.identity.substr(0, a.leader.identity.size() - 9), this_host());
  EXPECT_NE(a.leader.identity, b.leader.identity);
}

TEST(Environment, IdentityUsesPodName) {
  ScopedEnv pod("POD_NAME", "pgdog-control-7d9f8-x2k4q");
  Config c = default_config();
  resolve_environment_defaults(c);
  EXPECT_TRUE(
      std::regex_match(c.leader.identity, std::regex("pgdog-control-7d9f8-x2k4q_[0-9a-f]{8}")))
      << c.leader.identity;
}

TEST(Environment, EmptyPodNameFallsBackToHostName) {
  ScopedEnv pod("POD_NAME", "");
  Config c = default_config();
  resolve_environment_defaults(c);
  EXPECT_EQ(c.leader.identity.substr(0, c.leader.identity.size() - 9), this_host());
}

TEST(Environment, ConfiguredValuesAreKept) {
  ScopedEnv pod("POD_NAME", "pod-a");
  ScopedEnv ip("POD_IP", "10.0.0.7");
  Config c = default_config();
  c.leader.identity = "fixed";
  c.advertise_address = "svc:1234";
  resolve_environment_defaults(c);
  EXPECT_EQ(c.leader.identity, "fixed");
  EXPECT_EQ(c.advertise_address, "svc:1234");
}

TEST(Environment, AdvertiseAddressUsesPodIpAndListenPort) {
  ScopedEnv ip("POD_IP", "10.0.0.7");
  Config c = default_config();
  c.listen_port = 9000;
  resolve_environment_defaults(c);
  EXPECT_EQ(c.advertise_address, "10.0.0.7:9000");
}

TEST(Environment, AdvertiseAddressBracketsIpv6PodIp) {
  ScopedEnv ip("POD_IP", "fd00::7");
  Config c = default_config();
  resolve_environment_defaults(c);
  EXPECT_EQ(c.advertise_address, "[fd00::7]:8080");
}

TEST(Environment, AdvertiseAddressFallsBackToHostName) {
  ScopedEnv ip("POD_IP", nullptr);
  Config c = default_config();
  resolve_environment_defaults(c);
  EXPECT_EQ(c.advertise_address, this_host() + ":8080");
}

}  // namespace
}  // namespace pgdc
