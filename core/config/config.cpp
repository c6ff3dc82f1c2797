// Parsing and loading config.yaml: the entry points. The work is in
// config_reader.cpp (one pass over the document, driven by the schema in
// config_schema.cpp) and config_checks.cpp (the rules that involve several
// keys).
#include "config/config.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <utility>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "config/config_checks.h"
#include "config/config_reader.h"
#include "config/config_rules.h"
#include "config/small_file.h"
#include "text/text.h"

namespace pgdc {
namespace {

std::string syntax_error(const std::string& source, const YAML::ParserException& e) {
  std::string where = source.empty() ? "config" : source;
  if (!e.mark.is_null()) {
    where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
  }
  // The message may quote bytes of the file: escaped, it stays one line and
  // cannot carry terminal escapes.
  return text::one_line(where + ": YAML syntax error: " + e.msg);
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
    config_detail::Problems problems;
    config_detail::Reader reader(config, problems);
    for (const YAML::Node& d : documents) reader.read_document(d);
    config_detail::check_cross_key_rules(reader, config, problems);
    ConfigResult result;
    result.errors = problems.sorted_errors();
    result.warnings = problems.take_warnings();
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
  SmallFile file = read_small_file(path, kMaxConfigFileBytes);
  if (!file.text) {
    return failure("cannot read config file " + config_rules::quote(path) + ": " + file.error);
  }
  return parse_config(*file.text, path);
}

Config default_config() { return Config{}; }

void resolve_environment_defaults(Config& config) {
  if (config.leader.identity.empty()) {
    config.leader.identity = env_or("POD_NAME", host_name()) + "_" + text::random_hex(8);
  }
  if (config.advertise_address.empty()) {
    std::string host = env_or("POD_IP", host_name());
    if (host.find(':') != std::string::npos) host = "[" + host + "]";  // IPv6
    config.advertise_address = host + ":" + std::to_string(config.listen_port);
  }
  // The names this replica is reached under are allowed Host names for open
  // web reads (IP addresses always are; see api::ApiAuth).
  auto& allowed = config.api.web_allowed_hosts;
  for (const std::string& name : {config.listen_host, config.advertise_address}) {
    const std::string host = config_rules::host_of(name);
    if (host.empty() || config_rules::is_ip_literal(host)) continue;
    if (std::find(allowed.begin(), allowed.end(), host) == allowed.end()) allowed.push_back(host);
  }
}

}  // namespace pgdc
