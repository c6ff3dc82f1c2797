#include "configmap_object.h"

#include <nlohmann/json.hpp>
#include <pgdog_control/plugin.hpp>

namespace pgdc::kube {
namespace {

// Kubernetes object names (DNS subdomains) and label values.
constexpr std::size_t kMaxObjectName = 253;
constexpr std::size_t kMaxLabelValue = 63;

}  // namespace

std::string state_configmap_name(std::string_view lease_name, std::string_view key) {
  if (lease_name.size() > kMaxLabelValue) {
    throw pgdc::sdk::ConfigError(
        "kubernetes: the state store needs a lease_name of at most 63 characters (it labels "
        "its ConfigMaps " +
        std::string(kStateLeaseLabel) + "=<lease_name>); \"" + std::string(lease_name) + "\" has " +
        std::to_string(lease_name.size()));
  }
  std::string name = std::string(lease_name) + "-state-" + std::string(key);
  if (name.size() > kMaxObjectName) {
    // Unreachable with the limits above (63 + 7 + 63), kept so a change of
    // either limit cannot produce a name the API server rejects with a 422.
    throw pgdc::sdk::ConfigError("kubernetes: state ConfigMap name \"" + name + "\" is longer " +
                                 "than 253 characters");
  }
  return name;
}

std::string state_configmap_body(std::string_view name, std::string_view ns,
                                 std::string_view lease_name, std::string_view key,
                                 std::string_view value, std::string_view resource_version) {
  nlohmann::json metadata{
      {"name", name},
      {"namespace", ns},
      {"labels", {{kManagedByLabel, kManagedByValue}, {kStateLeaseLabel, lease_name}}},
      {"annotations", {{kStateKeyAnnotation, key}}}};
  if (!resource_version.empty()) metadata["resourceVersion"] = resource_version;
  const nlohmann::json o{{"apiVersion", "v1"},
                         {"kind", "ConfigMap"},
                         {"metadata", std::move(metadata)},
                         {"data", {{"value", value}}}};
  try {
    return o.dump();  // strict: throws on invalid UTF-8 rather than altering the value
  } catch (const nlohmann::json::type_error&) {
    throw pgdc::sdk::ConfigError("kubernetes: state value for key \"" + std::string(key) +
                                 "\" is not valid UTF-8 (a ConfigMap holds only UTF-8 text)");
  }
}

std::optional<StateConfigMap> parse_state_configmap(std::string_view body, std::string* why) {
  const auto fail = [why](std::string text) -> std::optional<StateConfigMap> {
    if (why != nullptr) *why = std::move(text);
    return std::nullopt;
  };
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return fail("not a JSON object");
  StateConfigMap out;
  const auto meta = j.find("metadata");
  if (meta == j.end() || !meta->is_object()) return fail("no metadata");
  const auto rv = meta->find("resourceVersion");
  if (rv == meta->end() || !rv->is_string() || rv->get<std::string>().empty()) {
    return fail("no metadata.resourceVersion");
  }
  out.resource_version = rv->get<std::string>();
  // A ConfigMap whose data (or data.value) is missing: someone emptied it.
  // It exists, so it reads as an empty value with its version; the host
  // then decides what an empty value means.
  if (const auto data = j.find("data"); data != j.end() && !data->is_null()) {
    if (!data->is_object()) return fail("data is not an object");
    if (const auto v = data->find("value"); v != data->end() && !v->is_null()) {
      if (!v->is_string()) return fail("data.value is not a string");
      out.value = v->get<std::string>();
    }
  }
  return out;
}

}  // namespace pgdc::kube
