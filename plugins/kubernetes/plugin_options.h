// The Kubernetes plugin's settings: the daemon's leader settings plus
// leader.options, validated once in the constructor. Every problem is a
// pgdc::ConfigError naming the key.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace pgdc::kube {

struct PluginOptions {
  // From the daemon (leader.*).
  std::string identity;
  std::string lease_name;
  std::string lease_namespace;  // may be empty: resolved later (see resolve_namespace)
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds lease_interval{5000};
  std::chrono::milliseconds release_timeout{5000};
  std::string advertise_address;

  // From leader.options.
  std::string kubeconfig;  // options.kubeconfig: path; empty = automatic
  std::string context;     // options.context
  bool watch = true;       // options.watch: followers watch the Lease (false: poll)
  bool events = true;      // options.events: emit Kubernetes Events on transitions
  std::chrono::seconds watch_timeout{300};  // options.watch_timeout_secs: server-side watch length
};

// Parses the JSON object the host passes to create(). Throws
// pgdc::ConfigError with a message such as
//   kubernetes: options.watch: expected a boolean, got "yes"
PluginOptions parse_plugin_options(std::string_view config_json);

// leader.namespace, else $POD_NAMESPACE, else the cluster configuration's
// namespace (the service account's namespace file, or the kubeconfig
// context's). Throws pgdc::ConfigError when all are empty.
std::string resolve_namespace(const PluginOptions& options, const std::string& from_cluster,
                              const char* pod_namespace_env);

}  // namespace pgdc::kube
