// The configuration's schema: one entry per key of config.yaml, with its type,
// its rule, its default, where its value lands in Config, and the line that
// documents it.
//
// This table is the single source for three things that must agree:
//   - the reader (config_reader.cpp) walks the YAML with it: unknown keys,
//     types, ranges and per-key rules all come from here;
//   - docs/configuration.md's key tables are rendered from it
//     (render_docs_table; a unit test fails when the file differs, and
//     PGDC_UPDATE_DOCS=1 rewrites it);
//   - the Helm chart's values.schema.json is compared with it in a unit test
//     (types, minimums, maximums, choices, the set of keys).
// Rules that involve several keys (the leader timing rule, api.liveness,
// api.commands, deployments) are in config_checks.cpp, which names the keys
// it reads.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/config_rules.h"

namespace pgdc::config_schema {

enum class Kind {
  kSection,      // a map of further keys; null means "all defaults"
  kString,       // any scalar as written; null is ""
  kBool,         // YAML 1.2 core-schema booleans
  kInteger,      // decimal integer within [min, max]
  kSeconds,      // decimal seconds to whole milliseconds, within [min, max] ms
  kChoice,       // one of `choices`
  kHostPort,     // "host:port"; `min` is the smallest port (0 or 1)
  kTokens,       // a sequence of tokens (config_rules::token_problem), unique
                 // across the whole configuration
  kHostNames,    // a sequence of host names or IP addresses (config_rules::host_name_problem)
  kDeployments,  // a sequence of maps whose keys are the "<path>[]." entries
  kFreeMap,      // any map, kept as JSON (leader.options)
};

// How an integer outside [min, max] is phrased.
enum class Phrase {
  kBetween,  // "must be between MIN and MAX"
  kBound,    // "must be greater than 0" / "must not be negative" / "must be at most MAX"
};

// What the reader hands to `apply` for one valid value.
struct Value {
  std::string text;                  // kString; kHostPort as written; kFreeMap as JSON
  bool boolean = false;              // kBool
  std::int64_t number = 0;           // kInteger; kSeconds in milliseconds
  std::size_t choice = 0;            // kChoice: index into choices
  config_rules::HostPort host_port;  // kHostPort (port 0 when text is empty)
  std::vector<std::string> strings;  // kTokens
};

struct KeySpec {
  // Dotted path from the top: "leader.lease_interval_secs". Items of a
  // kDeployments list: "api.deployments[].name".
  std::string_view path;
  Kind kind;

  // --- the rule
  std::int64_t min = 0;  // kInteger, kSeconds (ms), kHostPort (port)
  std::int64_t max = config_rules::kMaxValue;
  Phrase phrase = Phrase::kBound;
  std::span<const std::string_view> choices = {};  // kChoice
  // A further rule on a string's value: empty when acceptable, else the
  // message (it may quote the value; it must never quote a secret).
  std::string (*check)(std::string_view value) = nullptr;
  // kSeconds: the message after the value when it is positive but below
  // `min`, instead of a generic rule (which would name milliseconds).
  std::string_view below_min = {};
  // kHostPort: an empty value is accepted (and means "derive it").
  bool empty_ok = false;

  // --- where it lands; null for sections and list item keys
  void (*apply)(Config& config, const Value& value) = nullptr;

  // --- docs/configuration.md (markdown)
  std::string_view type = {};          // the Type column: "integer", "string `host:port`"
  std::string_view default_text = {};  // the Default column: "`15`", "empty", "see below"
  std::string_view rule = {};          // the Rule column
};

// Every key, sections before their keys, in documentation order (also the
// order "valid keys: ..." lists them).
std::span<const KeySpec> keys();

// The entry for a full path, or null.
const KeySpec* find(std::string_view path);

// The names (last path component) of the keys directly under `section` ("" for
// the top level; "api.deployments[]" for a deployment's keys), in order.
std::vector<std::string_view> children(std::string_view section);

// The markdown table docs/configuration.md shows for `section` ("" for the
// top level): a header and one row per key directly under it; keys of
// sub-sections listed as "sub.key" rows when `flatten` (the api table).
std::string render_docs_table(std::string_view section, bool flatten);

}  // namespace pgdc::config_schema
