#include "config/config_reader.h"

#include <algorithm>

#include "config/config_rules.h"
#include "config/yaml_json.h"
#include "text/text.h"

namespace pgdc::config_detail {
namespace {

namespace rules = config_rules;
using config_schema::KeySpec;
using config_schema::Kind;
using config_schema::Phrase;
using config_schema::Value;

bool before(const YAML::Mark& a, const YAML::Mark& b) {
  return a.line < b.line || (a.line == b.line && a.column < b.column);
}

std::string join(const std::vector<std::string_view>& words) {
  std::string out;
  for (std::string_view w : words) {
    if (!out.empty()) out += ", ";
    out += w;
  }
  return out;
}

// The rule a number outside [min, max] breaks, as phrased after the value.
std::string bound_rule(bool below, std::int64_t min, std::int64_t max) {
  if (!below) return "must be at most " + std::to_string(max);
  if (min == 1) return "must be greater than 0";
  if (min == 0) return "must not be negative";
  return "must be at least " + std::to_string(min);
}

// The rule a number of seconds (in ms) below the key's minimum breaks.
std::string seconds_below(std::int64_t millis, const KeySpec& spec) {
  if (spec.min <= 1) return bound_rule(true, spec.min, rules::kMaxValue);
  if (millis <= 0 || spec.below_min.empty()) return "must be greater than 0";
  return std::string(spec.below_min);
}

}  // namespace

// ---------------------------------------------------------------- Problems

void Problems::error(const YAML::Mark& at, std::string key, std::string message) {
  errors_.push_back({at, ConfigError{std::move(key), std::move(message)}});
}

void Problems::warning(std::string key, std::string message) {
  warnings_.push_back(ConfigError{std::move(key), std::move(message)});
}

std::vector<ConfigError> Problems::sorted_errors() {
  std::stable_sort(errors_.begin(), errors_.end(),
                   [](const auto& a, const auto& b) { return before(a.first, b.first); });
  std::vector<ConfigError> out;
  for (auto& e : errors_) out.push_back(std::move(e.second));
  return out;
}

// ---------------------------------------------------------------- Reader

KeyState Reader::state(std::string_view path) const {
  const auto it = states_.find(path);
  return it == states_.end() ? KeyState{} : it->second;
}

void Reader::read_document(const YAML::Node& root) {
  if (root.IsNull()) return;  // empty document: all defaults
  if (!root.IsMap()) {
    problems_.error(root.Mark(), "", "expected a map at the top level, got " + describe(root));
    return;
  }
  walk(root, "", "", [this](const Entry& e, const KeySpec& spec) { read_key(e, spec); });
}

template <typename Visit>
void Reader::walk(const YAML::Node& map, const std::string& display, std::string_view section,
                  Visit visit) {
  const std::vector<std::string_view> known = config_schema::children(section);
  std::vector<std::pair<std::string, int>> seen;  // key, line
  for (const auto& kv : map) {
    const YAML::Node& k = kv.first;
    if (!k.IsScalar()) {
      problems_.error(k.Mark(), display, "keys must be strings, got " + describe(k));
      continue;
    }
    const std::string& name = k.Scalar();
    const std::string key = display.empty() ? name : display + "." + name;
    const auto first =
        std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == name; });
    if (first != seen.end()) {
      problems_.error(k.Mark(), key,
                      "duplicate key " + rules::quote(name) + " (first on line " +
                          std::to_string(first->second) + ")");
      continue;
    }
    seen.emplace_back(name, k.Mark().line + 1);
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string message = "unknown key " + rules::quote(name);
      if (auto match = rules::closest_match(name, known)) {
        message += "; did you mean " + rules::quote(*match) + "?";
      } else {
        message += "; valid keys: " + join(known);
      }
      problems_.error(k.Mark(), key, message);
      continue;
    }
    const std::string path = section.empty() ? name : std::string(section) + "." + name;
    visit(Entry{key, k.Mark(), kv.second}, *config_schema::find(path));
  }
}

void Reader::read_key(const Entry& e, const KeySpec& spec) {
  KeyState& st = states_[std::string(spec.path)];
  st.given = true;
  st.mark = e.mark;
  st.valid = false;
  if (spec.kind == Kind::kSection) {
    // null: all defaults
    if (e.value.IsMap()) {
      walk(e.value, e.key, spec.path,
           [this](const Entry& child, const KeySpec& s) { read_key(child, s); });
    } else if (!e.value.IsNull()) {
      problems_.error(e.mark, e.key, "expected a map, got " + describe(e.value));
      return;
    }
    st.valid = true;
    return;
  }
  if (spec.kind == Kind::kDeployments) {
    read_deployments(e);
    st.valid = true;
    return;
  }
  std::optional<Value> v = parse(e, spec);
  if (!v) return;
  st.valid = true;
  if (spec.apply) spec.apply(config_, *v);
}

std::optional<Value> Reader::parse(const Entry& e, const KeySpec& spec) {
  Value v;
  switch (spec.kind) {
    case Kind::kString: {
      auto text = read_string(e);
      if (!text) return std::nullopt;
      if (spec.check) {
        if (std::string problem = spec.check(*text); !problem.empty()) {
          problems_.error(e.mark, e.key, problem);
          return std::nullopt;
        }
      }
      v.text = std::move(*text);
      return v;
    }
    case Kind::kBool: {
      auto b = read_bool(e);
      if (!b) return std::nullopt;
      v.boolean = *b;
      return v;
    }
    case Kind::kInteger: {
      auto n = read_integer(e, spec);
      if (!n) return std::nullopt;
      v.number = *n;
      return v;
    }
    case Kind::kSeconds: {
      auto ms = read_seconds(e, spec);
      if (!ms) return std::nullopt;
      v.number = *ms;
      return v;
    }
    case Kind::kChoice: {
      auto c = read_choice(e, spec);
      if (!c) return std::nullopt;
      v.choice = *c;
      return v;
    }
    case Kind::kHostPort: {
      auto text = read_string(e);
      if (!text) return std::nullopt;
      if (!(text->empty() && spec.empty_ok)) {
        auto parsed = rules::parse_host_port(*text, static_cast<int>(spec.min));
        if (!parsed.value) {
          problems_.error(e.mark, e.key, parsed.problem);
          return std::nullopt;
        }
        v.host_port = *parsed.value;
      }
      v.text = std::move(*text);
      return v;
    }
    case Kind::kTokens: {
      auto tokens = read_tokens(e);
      if (!tokens) return std::nullopt;
      v.strings = std::move(*tokens);
      return v;
    }
    case Kind::kHostNames: {
      auto names = read_host_names(e);
      if (!names) return std::nullopt;
      v.strings = std::move(*names);
      return v;
    }
    case Kind::kFreeMap: {
      auto json = read_free_map(e);
      if (!json) return std::nullopt;
      v.text = std::move(*json);
      return v;
    }
    case Kind::kSection:
    case Kind::kDeployments:
      break;  // walked by read_key
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- values

std::optional<std::string> Reader::read_string(const Entry& e) {
  if (e.value.IsNull()) return std::string();
  if (e.value.IsScalar()) return e.value.Scalar();
  problems_.error(e.mark, e.key, "expected a string, got " + describe(e.value));
  return std::nullopt;
}

std::optional<bool> Reader::read_bool(const Entry& e) {
  if (e.value.IsScalar()) {
    if (auto b = rules::parse_bool(e.value.Scalar())) return b;
  }
  problems_.error(e.mark, e.key, "expected a boolean (true or false), got " + describe(e.value));
  return std::nullopt;
}

std::optional<std::int64_t> Reader::read_integer(const Entry& e, const KeySpec& spec) {
  rules::Number n;
  if (e.value.IsScalar()) n = rules::parse_integer(e.value.Scalar());
  if (n.status == rules::NumberStatus::kSyntax) {
    problems_.error(e.mark, e.key, "expected an integer, got " + describe(e.value));
    return std::nullopt;
  }
  if (n.status == rules::NumberStatus::kOk && n.value >= spec.min && n.value <= spec.max) {
    return n.value;
  }
  const std::string& text = e.value.Scalar();
  if (spec.phrase == Phrase::kBetween) {
    problems_.error(
        e.mark, e.key,
        text + " must be between " + std::to_string(spec.min) + " and " + std::to_string(spec.max));
  } else {
    problems_.error(e.mark, e.key, text + " " + bound_rule(n.value < spec.min, spec.min, spec.max));
  }
  return std::nullopt;
}

std::optional<std::int64_t> Reader::read_seconds(const Entry& e, const KeySpec& spec) {
  rules::Number n;
  if (e.value.IsScalar()) n = rules::parse_seconds(e.value.Scalar());
  const std::string text = e.value.IsScalar() ? e.value.Scalar() : "";
  switch (n.status) {
    case rules::NumberStatus::kSyntax:
      problems_.error(e.mark, e.key, "expected a number, got " + describe(e.value));
      return std::nullopt;
    case rules::NumberStatus::kPrecision:
      problems_.error(e.mark, e.key,
                      text + " has more than 3 decimal places (the precision is 1 ms)");
      return std::nullopt;
    case rules::NumberStatus::kRange:
      problems_.error(e.mark, e.key,
                      text + " " +
                          (n.value < 0 ? seconds_below(n.value, spec)
                                       : bound_rule(false, spec.min, rules::kMaxValue)));
      return std::nullopt;
    case rules::NumberStatus::kOk:
      break;
  }
  if (n.value < spec.min) {
    problems_.error(e.mark, e.key, text + " " + seconds_below(n.value, spec));
    return std::nullopt;
  }
  return n.value;
}

std::optional<std::size_t> Reader::read_choice(const Entry& e, const KeySpec& spec) {
  auto text = read_string(e);
  if (!text) return std::nullopt;
  std::vector<std::string_view> names(spec.choices.begin(), spec.choices.end());
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (*text == names[i]) return i;
  }
  std::string message = rules::quote(*text) + " is not one of " + join(names);
  if (auto match = rules::closest_match(*text, names)) {
    message += "; did you mean " + rules::quote(*match) + "?";
  }
  problems_.error(e.mark, e.key, message);
  return std::nullopt;
}

// A list of tokens; each checked alone and remembered for the clash check
// (a token identifies exactly one deployment or web role).
std::optional<std::vector<std::string>> Reader::read_tokens(const Entry& e) {
  if (e.value.IsNull()) return std::vector<std::string>{};
  if (!e.value.IsSequence()) {
    problems_.error(e.mark, e.key, "expected a sequence of tokens, got " + describe(e.value));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (std::size_t i = 0; i < e.value.size(); ++i) {
    const YAML::Node& t = e.value[i];
    const std::string key = e.key + "[" + std::to_string(i) + "]";
    if (!t.IsScalar()) {
      problems_.error(t.Mark(), key, "expected a string token, got " + describe(t));
      ok = false;
      continue;
    }
    if (std::string problem = rules::token_problem(t.Scalar()); !problem.empty()) {
      problems_.error(t.Mark(), key, problem);
      ok = false;
      continue;
    }
    const auto clash = std::find_if(tokens_seen_.begin(), tokens_seen_.end(),
                                    [&](const auto& s) { return s.first == t.Scalar(); });
    if (clash != tokens_seen_.end()) {
      problems_.error(t.Mark(), key,
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

std::optional<std::vector<std::string>> Reader::read_host_names(const Entry& e) {
  if (e.value.IsNull()) return std::vector<std::string>{};
  if (!e.value.IsSequence()) {
    problems_.error(e.mark, e.key, "expected a sequence of host names, got " + describe(e.value));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (std::size_t i = 0; i < e.value.size(); ++i) {
    const YAML::Node& n = e.value[i];
    const std::string key = e.key + "[" + std::to_string(i) + "]";
    if (!n.IsScalar()) {
      problems_.error(n.Mark(), key, "expected a host name, got " + describe(n));
      ok = false;
      continue;
    }
    if (std::string problem = rules::host_name_problem(n.Scalar()); !problem.empty()) {
      problems_.error(n.Mark(), key, problem);
      ok = false;
      continue;
    }
    out.push_back(rules::host_of(n.Scalar()));  // lower-case, IPv6 without brackets
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::string> Reader::read_free_map(const Entry& e) {
  if (e.value.IsNull()) return std::string("{}");
  if (!e.value.IsMap()) {
    problems_.error(e.mark, e.key, "expected a map, got " + describe(e.value));
    return std::nullopt;
  }
  std::vector<JsonProblem> problems;
  nlohmann::json json = yaml_to_json(e.value, e.key, problems);
  for (auto& p : problems) problems_.error(p.mark, std::move(p.key), std::move(p.message));
  // Invalid UTF-8 in the YAML text is replaced rather than thrown on.
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The one list of maps: each entry is walked against the
// "api.deployments[]." keys and kept only when all of it is valid.
void Reader::read_deployments(const Entry& e) {
  if (e.value.IsNull()) return;
  if (!e.value.IsSequence()) {
    problems_.error(e.mark, e.key, "expected a sequence of deployments, got " + describe(e.value));
    return;
  }
  for (std::size_t i = 0; i < e.value.size(); ++i) {
    const YAML::Node& d = e.value[i];
    const std::string key = e.key + "[" + std::to_string(i) + "]";
    if (!d.IsMap()) {
      problems_.error(d.Mark(), key, "expected a map with name and tokens, got " + describe(d));
      continue;
    }
    ApiDeploymentConfig dep;
    bool has_name = false;
    bool valid = true;
    walk(d, key, "api.deployments[]", [&](const Entry& f, const KeySpec& spec) {
      if (spec.path == "api.deployments[].name") {
        auto text = read_string(f);  // the name's own rule below: a bad name still is a name
        if (!text) {
          valid = false;
          return;
        }
        has_name = true;
        if (std::string problem = spec.check(*text); !problem.empty()) {
          problems_.error(f.mark, f.key, problem);
          valid = false;
          return;
        }
        if (std::find(deployment_names_.begin(), deployment_names_.end(), *text) !=
            deployment_names_.end()) {
          problems_.error(f.mark, f.key, "duplicate deployment name " + rules::quote(*text));
          valid = false;
          return;
        }
        deployment_names_.push_back(*text);
        dep.name = *text;
        return;
      }
      std::optional<Value> v = parse(f, spec);
      if (spec.kind == Kind::kTokens) {
        if (v) {
          dep.tokens = std::move(v->strings);
        } else {
          valid = false;
        }
      } else if (v) {
        dep.token_file = std::move(v->text);  // a bad token_file is its own problem only
      }
    });
    if (!has_name) {
      problems_.error(d.Mark(), key, "a deployment needs a name");
      continue;
    }
    if (valid && dep.tokens.empty() && dep.token_file.empty()) {
      problems_.error(d.Mark(), key,
                      "deployment " + rules::quote(dep.name) + " needs tokens or a token_file");
      continue;
    }
    if (valid) config_.api.deployments.push_back(std::move(dep));
  }
}

}  // namespace pgdc::config_detail
