// YAML to JSON for free-form settings (leader.options).
//
// Internal to the config area. Plain scalars get the type they look like
// (true/false, integers, decimals, null); quoted or block scalars and
// anything else stay strings. Map keys must be scalars and unique. Depth and
// size are bounded, so alias cycles and alias bombs cannot hang or crash.
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

namespace pgdc::config_detail {

inline constexpr int kMaxJsonDepth = 32;
inline constexpr int kMaxJsonValues = 10000;

struct JsonProblem {
  YAML::Mark mark;
  std::string key;  // dotted path, e.g. "leader.options.tls"
  std::string message;
};

// What a node is, for "expected X, got Y": "a map", "a sequence", "null" or
// the scalar quoted.
std::string describe(const YAML::Node& node);

// Converts `node`, found at dotted path `key`. Problems are appended; the
// returned value is then partial.
nlohmann::json yaml_to_json(const YAML::Node& node, const std::string& key,
                            std::vector<JsonProblem>& problems);

}  // namespace pgdc::config_detail
