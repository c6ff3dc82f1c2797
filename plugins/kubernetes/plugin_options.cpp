#include "plugin_options.h"

#include <pgdog_control/plugin.hpp>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "pod_labeler.h"

namespace pgdc::kube {
namespace {

[[noreturn]] void fail(const std::string& message) {
  throw pgdc::sdk::ConfigError("kubernetes: " + message);
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
    if (key == "kubeconfig" || key == "context" || key == "pod_label" || key == "pod_name" ||
        key == "pod_namespace") {
      if (!value.is_string()) fail(where + "expected a string, got " + type_name(value));
      std::string& out = key == "kubeconfig"  ? o.kubeconfig
                         : key == "context"   ? o.context
                         : key == "pod_label" ? o.pod_label
                         : key == "pod_name"  ? o.pod_name
                                              : o.pod_namespace;
      out = value.get<std::string>();
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
    } else if (key == "member_heartbeat_secs") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 5 ||
          value.get<std::int64_t>() > 3600) {
        fail(where + "expected an integer from 5 to 3600, got " + type_name(value));
      }
      o.member_heartbeat = std::chrono::seconds(value.get<std::int64_t>());
    } else {
      fail(where +
           "unknown option; known options: kubeconfig, context, watch, events, "
           "watch_timeout_secs, member_heartbeat_secs, pod_label, pod_name, pod_namespace");
    }
  }
  if (!o.pod_label.empty()) {
    if (!PodLabeler::valid_key(o.pod_label)) {
      fail("options.pod_label: \"" + o.pod_label +
           "\" is not a valid label key ([prefix/]name, e.g. pgdog.dev/control-leader)");
    }
    if (o.pod_name.empty()) {
      if (const char* pod = std::getenv("POD_NAME"); pod != nullptr) o.pod_name = pod;
    }
    if (o.pod_name.empty()) {
      fail(
          "options.pod_label needs this replica's Pod name: set POD_NAME from the downward "
          "API, or options.pod_name");
    }
    if (o.pod_namespace.empty()) {
      if (const char* ns = std::getenv("POD_NAMESPACE"); ns != nullptr) o.pod_namespace = ns;
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
