#include "config/yaml_json.h"

#include <cstdlib>
#include <map>

#include "config/config_rules.h"

namespace pgdc::config_detail {
namespace {

namespace rules = config_rules;

bool is_decimal_float(const std::string& s) {
  // [-+]? (digits [. digits*] | . digits) ([eE] [-+]? digits)?
  std::size_t i = 0;
  auto digits = [&] {
    std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i - start;
  };
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  std::size_t whole = digits();
  std::size_t fraction = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    fraction = digits();
  }
  if (whole == 0 && fraction == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

nlohmann::json plain_scalar(const std::string& text) {
  if (auto b = rules::parse_bool(text)) return *b;
  rules::Number n = rules::parse_integer(text);
  if (n.status == rules::NumberStatus::kOk) return n.value;
  if (is_decimal_float(text)) {
    double d = std::strtod(text.c_str(), nullptr);
    if (d == d && d - d == 0) return d;  // finite
  }
  return text;
}

class Converter {
 public:
  Converter(const YAML::Node& root, const std::string& root_key, std::vector<JsonProblem>& problems)
      : root_mark_(root.Mark()), root_key_(root_key), problems_(problems) {}

  nlohmann::json convert(const YAML::Node& node, const std::string& key, int depth) {
    if (stopped_) return nullptr;
    if (++values_ > kMaxJsonValues) {
      stop("has more than " + std::to_string(kMaxJsonValues) + " values");
      return nullptr;
    }
    if (depth > kMaxJsonDepth) {
      stop("is nested more than " + std::to_string(kMaxJsonDepth) + " levels deep");
      return nullptr;
    }
    switch (node.Type()) {
      case YAML::NodeType::Map:
        return convert_map(node, key, depth);
      case YAML::NodeType::Sequence: {
        nlohmann::json array = nlohmann::json::array();
        std::size_t index = 0;
        for (const YAML::Node& item : node) {
          array.push_back(convert(item, key + "[" + std::to_string(index++) + "]", depth + 1));
        }
        return array;
      }
      case YAML::NodeType::Scalar:
        // "?" is a plain scalar; quoted, block and explicitly tagged ones are text.
        return node.Tag() == "?" ? plain_scalar(node.Scalar()) : nlohmann::json(node.Scalar());
      default:
        return nullptr;
    }
  }

 private:
  nlohmann::json convert_map(const YAML::Node& node, const std::string& key, int depth) {
    nlohmann::json object = nlohmann::json::object();
    std::map<std::string, int> first_line;
    for (const auto& entry : node) {
      const YAML::Node& k = entry.first;
      if (!k.IsScalar()) {
        problems_.push_back({k.Mark(), key, "keys must be strings, got " + describe(k)});
        continue;
      }
      const std::string& name = k.Scalar();
      auto [first, inserted] = first_line.emplace(name, k.Mark().line + 1);
      if (!inserted) {
        problems_.push_back({k.Mark(), key + "." + name,
                             "duplicate key " + rules::quote(name) + " (first on line " +
                                 std::to_string(first->second) + ")"});
        continue;
      }
      object[name] = convert(entry.second, key + "." + name, depth + 1);
    }
    return object;
  }

  // Limits are reported once, on the converted value as a whole.
  void stop(const std::string& why) {
    stopped_ = true;
    problems_.push_back({root_mark_, root_key_, why});
  }

  YAML::Mark root_mark_;
  std::string root_key_;
  std::vector<JsonProblem>& problems_;
  int values_ = 0;
  bool stopped_ = false;
};

}  // namespace

nlohmann::json yaml_to_json(const YAML::Node& node, const std::string& key,
                            std::vector<JsonProblem>& problems) {
  Converter converter(node, key, problems);
  return converter.convert(node, key, 0);
}

std::string describe(const YAML::Node& node) {
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a sequence";
  if (node.IsNull()) return "null";
  return rules::quote(node.Scalar());
}

}  // namespace pgdc::config_detail
