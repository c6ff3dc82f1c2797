// Reading config.yaml into Config, driven by the schema (config_schema.h).
//
// Internal to the config area; parse_config (config.cpp) is the entry point.
// One pass over the document: each map is walked entry by entry against the
// keys the schema lists under it (unknown, duplicate and non-string keys are
// problems of their own), each value is parsed and checked by its schema
// entry and applied to the Config. The rules that involve several keys run
// afterwards (config_checks.h), only on values that were valid alone. Every
// problem carries the position of its key; they are sorted by it at the end,
// so they come out in file order. No yaml-cpp exception leaves the reader.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/config.h"
#include "config/config_schema.h"

namespace pgdc::config_detail {

// How a key fared: given in the file (where), and valid alone. A key not
// given counts as valid (its default is).
struct KeyState {
  bool given = false;
  bool valid = true;
  YAML::Mark mark = YAML::Mark::null_mark();
};

class Problems {
 public:
  void error(const YAML::Mark& at, std::string key, std::string message);
  void warning(std::string key, std::string message);
  // In file order (by the position of each problem's key).
  std::vector<ConfigError> sorted_errors();
  std::vector<ConfigError> take_warnings() { return std::move(warnings_); }

 private:
  std::vector<std::pair<YAML::Mark, ConfigError>> errors_;
  std::vector<ConfigError> warnings_;
};

class Reader {
 public:
  Reader(Config& config, Problems& problems) : config_(config), problems_(problems) {}

  void read_document(const YAML::Node& root);

  // The state of a top-level key path, e.g. "leader.renew_deadline_secs".
  KeyState state(std::string_view path) const;

 private:
  struct Entry {
    std::string key;  // dotted path with list indexes, for messages
    YAML::Mark mark;  // where the key is
    YAML::Node value;
  };

  // Walks `map` (displayed as `display`) against the keys the schema lists
  // under `section`, calling visit(entry, spec) for each known key.
  template <typename Visit>
  void walk(const YAML::Node& map, const std::string& display, std::string_view section,
            Visit visit);
  void read_key(const Entry& e, const config_schema::KeySpec& spec);
  // One value by its schema entry; nullopt (and a problem reported) if invalid.
  std::optional<config_schema::Value> parse(const Entry& e, const config_schema::KeySpec& spec);

  std::optional<std::string> read_string(const Entry& e);
  std::optional<bool> read_bool(const Entry& e);
  std::optional<std::int64_t> read_integer(const Entry& e, const config_schema::KeySpec& spec);
  std::optional<std::int64_t> read_seconds(const Entry& e, const config_schema::KeySpec& spec);
  std::optional<std::size_t> read_choice(const Entry& e, const config_schema::KeySpec& spec);
  std::optional<std::vector<std::string>> read_tokens(const Entry& e);
  std::optional<std::vector<std::string>> read_host_names(const Entry& e);
  std::optional<std::string> read_free_map(const Entry& e);
  void read_deployments(const Entry& e);

  Config& config_;
  Problems& problems_;
  std::map<std::string, KeyState, std::less<>> states_;
  std::vector<std::pair<std::string, std::string>> tokens_seen_;  // token, where
  std::vector<std::string> deployment_names_;
};

}  // namespace pgdc::config_detail
