#include "plugin_options.h"

#include <pgdog_control/plugin.hpp>

#include <nlohmann/json.hpp>

namespace pgdc::kube {
namespace {

[[noreturn]] void fail(const std::string& message) {
  throw pgdc::ConfigError("kubernetes: " + message);
}

std::string type_name(const nlohmann::json& v) {
  if (v.is_string()) return "\"" + v.get<std::string>() + "\"";
  return v.dump();
}

std::string req_string(const nlohmann::json& c, const char* key) {
  const auto it = c.find(key);
  if (it == c.end() || !it->is_string()) fail(std::string(key) + ": missing in the host config");
  return it->get<std::string>();
}

std::chrono::milliseconds req_ms(const nlohmann::json& c, const char* key, bool allow_zero) {
  const auto it = c.find(key);
  if (it == c.end() || !it->is_number_integer()) {
    fail(std::string(key) + ": missing in the host config");
  }
  const auto v = it->get<std::int64_t>();
  if (v < 0 || (v == 0 && !allow_zero)) fail(std::string(key) + ": must be positive");
  return std::chrono::milliseconds(v);
}

}  // namespace

PluginOptions parse_plugin_options(std::string_view config_json) {
  const auto c = nlohmann::json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  if (!c.is_object()) fail("the host config is not a JSON object");
  PluginOptions o;
  o.identity = req_string(c, "identity");
  if (o.identity.empty()) fail("identity: must not be empty");
  o.lease_name = req_string(c, "lease_name");
  if (o.lease_name.empty()) fail("lease_name: must not be empty");
  if (const auto ns = c.find("namespace"); ns != c.end() && ns->is_string()) {
    o.lease_namespace = ns->get<std::string>();
  }
  if (const auto a = c.find("advertise_address"); a != c.end() && a->is_string()) {
    o.advertise_address = a->get<std::string>();
  }
  o.lease_duration = req_ms(c, "lease_duration_ms", false);
  o.renew_deadline = req_ms(c, "renew_deadline_ms", false);
  o.lease_interval = req_ms(c, "lease_interval_ms", false);
  o.release_timeout = req_ms(c, "release_timeout_ms", true);
  if (o.lease_duration.count() % 1000 != 0) {
    fail("lease_duration_ms: " + std::to_string(o.lease_duration.count()) +
         " is not whole seconds (Lease.spec.leaseDurationSeconds is an integer)");
  }

  const auto opts_it = c.find("options");
  if (opts_it == c.end() || opts_it->is_null()) return o;
  if (!opts_it->is_object()) fail("options: expected a map, got " + type_name(*opts_it));
  for (const auto& [key, value] : opts_it->items()) {
    const std::string where = "options." + key + ": ";
    if (key == "kubeconfig" || key == "context") {
      if (!value.is_string()) fail(where + "expected a string, got " + type_name(value));
      (key == "kubeconfig" ? o.kubeconfig : o.context) = value.get<std::string>();
    } else if (key == "watch" || key == "events") {
      if (!value.is_boolean()) {
        fail(where + "expected a boolean (true or false), got " + type_name(value));
      }
      (key == "watch" ? o.watch : o.events) = value.get<bool>();
    } else if (key == "watch_timeout_secs") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 10 ||
          value.get<std::int64_t>() > 3600) {
        fail(where + "expected an integer from 10 to 3600, got " + type_name(value));
      }
      o.watch_timeout = std::chrono::seconds(value.get<std::int64_t>());
    } else {
      fail(where + "unknown option; known options: kubeconfig, context, watch, events, "
                   "watch_timeout_secs");
    }
  }
  return o;
}

std::string resolve_namespace(const PluginOptions& options, const std::string& from_cluster,
                              const char* pod_namespace_env) {
  if (!options.lease_namespace.empty()) return options.lease_namespace;
  if (pod_namespace_env != nullptr && *pod_namespace_env != '\0') return pod_namespace_env;
  if (!from_cluster.empty()) return from_cluster;
  fail(
      "leader.namespace is empty, POD_NAMESPACE is not set and the cluster configuration names "
      "no namespace; set leader.namespace");
}

}  // namespace pgdc::kube
