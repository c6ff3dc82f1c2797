// The config schema (core/config/config_schema.cpp) is the one source for the
// reader, docs/configuration.md and the Helm chart's values.schema.json. These
// tests fail when the other two drift from it.
//
// docs/configuration.md: the tables between "<!-- config-table: S ... -->" and
// "<!-- end config-table -->" must equal render_docs_table(S). To rewrite them
// from the schema: make config-docs (PGDC_UPDATE_DOCS=1 on this test).
#include "config/config_schema.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace pgdc::config_schema {
namespace {

const std::string kRoot = std::string(PGDC_TEST_SOURCE_DIR) + "/..";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The section a docs marker names: "top" is the top level; the api table
// lists the keys of api's sub-sections as "web.read_access" rows.
std::string section_of(const std::string& marker_name) {
  return marker_name == "top" ? "" : marker_name;
}

TEST(ConfigSchema, EveryKeyIsDocumentedAndEverySectionHasKeys) {
  for (const KeySpec& k : keys()) {
    SCOPED_TRACE(std::string(k.path));
    EXPECT_FALSE(k.type.empty());
    if (k.kind == Kind::kSection) {
      EXPECT_FALSE(children(k.path).empty()) << "a section without keys";
      continue;
    }
    EXPECT_FALSE(k.rule.empty());
    const bool item = k.path.find("[]") != std::string_view::npos;
    EXPECT_EQ(k.apply == nullptr, item || k.kind == Kind::kDeployments)
        << "a list and its item keys are applied by the reader's list code, others by their entry";
    if (!item) {
      EXPECT_FALSE(k.default_text.empty());
    }
    if (k.kind == Kind::kChoice) {
      EXPECT_FALSE(k.choices.empty());
    }
    if (k.kind == Kind::kInteger || k.kind == Kind::kSeconds) {
      EXPECT_LE(k.min, k.max);
    }
  }
}

TEST(ConfigSchema, DocsTablesAreRenderedFromTheSchema) {
  const std::string path = kRoot + "/docs/configuration.md";
  std::string text = read_file(path);
  ASSERT_FALSE(text.empty()) << path;
  const std::string open = "<!-- config-table: ";
  const std::string close = "<!-- end config-table -->";
  std::vector<std::string> covered;
  std::size_t pos = 0;
  bool changed = false;
  while ((pos = text.find(open, pos)) != std::string::npos) {
    const std::size_t name_end = text.find_first_of(" \n", pos + open.size());
    const std::string name = text.substr(pos + open.size(), name_end - pos - open.size());
    const std::size_t body = text.find('\n', pos) + 1;
    const std::size_t end = text.find(close, body);
    ASSERT_NE(end, std::string::npos) << "unterminated table " << name;
    const std::string section = section_of(name);
    const std::string want = render_docs_table(section, section == "api");
    if (text.compare(body, end - body, want) != 0) {
      if (std::getenv("PGDC_UPDATE_DOCS") != nullptr) {
        text.replace(body, end - body, want);
        changed = true;
      } else {
        ADD_FAILURE() << "docs/configuration.md, table \"" << name
                      << "\" differs from the schema (make config-docs rewrites it). It should "
                         "read:\n"
                      << want;
      }
    }
    covered.push_back(section);
    pos = text.find(close, body) + close.size();
  }
  if (changed) {
    std::ofstream(path) << text;
    std::cout << "rewrote the tables of " << path << "\n";
  }
  // Every section is documented by some table: its own, or the api table
  // for api's sub-sections.
  for (const KeySpec& k : keys()) {
    if (k.kind != Kind::kSection && k.kind != Kind::kDeployments) continue;
    std::string section(k.path);
    if (k.kind == Kind::kDeployments) section += "[]";
    const bool under_api = section.rfind("api.", 0) == 0 && k.kind == Kind::kSection;
    const std::string table = under_api ? "api" : section;
    EXPECT_NE(std::find(covered.begin(), covered.end(), table), covered.end())
        << "no docs table for " << section;
  }
}

// ---------------------------------------------------------------- the chart

std::string json_type(Kind kind) {
  switch (kind) {
    case Kind::kSection:
    case Kind::kFreeMap:
      return "object";
    case Kind::kString:
    case Kind::kHostPort:
    case Kind::kChoice:
      return "string";
    case Kind::kBool:
      return "boolean";
    case Kind::kInteger:
      return "integer";
    case Kind::kSeconds:
      return "number";
    case Kind::kTokens:
    case Kind::kHostNames:
    case Kind::kDeployments:
      return "array";
  }
  return "?";
}

// Compares one schema entry with the chart's JSON Schema node for it.
void expect_same(const KeySpec& k, const nlohmann::json& node) {
  SCOPED_TRACE(std::string(k.path));
  EXPECT_EQ(node.value("type", ""), json_type(k.kind));
  switch (k.kind) {
    case Kind::kInteger:
      EXPECT_EQ(node.value("minimum", std::int64_t{-1}), k.min);
      EXPECT_EQ(node.value("maximum", std::int64_t{-1}), k.max);
      break;
    case Kind::kSeconds:
      EXPECT_DOUBLE_EQ(node.value("minimum", -1.0), static_cast<double>(k.min) / 1000.0);
      EXPECT_DOUBLE_EQ(node.value("maximum", -1.0), static_cast<double>(k.max));
      break;
    case Kind::kChoice: {
      std::vector<std::string> want(k.choices.begin(), k.choices.end());
      EXPECT_EQ(node.value("enum", std::vector<std::string>{}), want);
      break;
    }
    case Kind::kTokens: {
      const auto items = node.value("items", nlohmann::json::object());
      EXPECT_EQ(items.value("type", ""), "string");
      EXPECT_EQ(items.value("minLength", 0), 16) << "the token rule";
      EXPECT_EQ(items.value("maxLength", 0), 1024) << "the token rule";
      break;
    }
    case Kind::kHostPort:
      EXPECT_TRUE(node.contains("pattern")) << "host:port needs a pattern";
      break;
    default:
      break;
  }
}

// Walks the chart's schema for `section` against the config schema: the same
// keys, each with the same type and bounds.
void compare(const nlohmann::json& object, const std::string& section) {
  SCOPED_TRACE("section \"" + section + "\"");
  ASSERT_TRUE(object.contains("properties"));
  const auto& props = object["properties"];
  std::vector<std::string> chart_keys;
  for (const auto& [name, node] : props.items()) chart_keys.push_back(name);
  std::vector<std::string> schema_keys;
  for (std::string_view c : children(section)) schema_keys.emplace_back(c);
  std::sort(chart_keys.begin(), chart_keys.end());
  std::sort(schema_keys.begin(), schema_keys.end());
  EXPECT_EQ(chart_keys, schema_keys) << "values.schema.json and the daemon know different keys";
  EXPECT_EQ(object.value("additionalProperties", true), false) << "unknown keys must be refused";
  for (std::string_view c : children(section)) {
    const std::string path = section.empty() ? std::string(c) : section + "." + std::string(c);
    const KeySpec* k = find(path);
    ASSERT_NE(k, nullptr);
    if (!props.contains(std::string(c))) continue;
    const auto& node = props[std::string(c)];
    expect_same(*k, node);
    if (k->kind == Kind::kSection) compare(node, path);
    if (k->kind == Kind::kDeployments) {
      const auto& items = node["items"];
      compare(items, path + "[]");
      EXPECT_EQ(items.value("required", std::vector<std::string>{}),
                std::vector<std::string>{"name"});
    }
  }
}

TEST(ConfigSchema, TheChartsValuesSchemaMatchesTheDaemonsSchema) {
  const std::string path = kRoot + "/helm/pgdog-control/values.schema.json";
  const auto schema = nlohmann::json::parse(read_file(path), nullptr, false);
  ASSERT_FALSE(schema.is_discarded()) << path;
  compare(schema["properties"]["control"]["properties"]["config"], "");
}

}  // namespace
}  // namespace pgdc::config_schema
