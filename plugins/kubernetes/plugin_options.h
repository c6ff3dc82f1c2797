// The Kubernetes plugin's settings: the daemon's leader settings plus
// leader.options, validated once in the constructor. Every problem is a
// pgdc::sdk::ConfigError naming the key.
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
  // options.member_heartbeat_secs: how often this replica's member Lease is
  // written (its TTL is three of these). One write per replica per period is
  // the members' whole cost to the API server.
  std::chrono::seconds member_heartbeat{30};
  // Leader-label routing (docs/high-availability.md): the label key put on the
  // leader's own Pod; empty = off.
  std::string pod_label;      // options.pod_label
  std::string pod_name;       // options.pod_name, default $POD_NAME
  std::string pod_namespace;  // options.pod_namespace, default $POD_NAMESPACE, then the lease's
};

// Parses the JSON object the host passes to create(). Throws
// pgdc::sdk::ConfigError with a message such as
//   kubernetes: options.watch: expected a boolean, got "yes"
PluginOptions parse_plugin_options(std::string_view config_json);

// leader.namespace, else $POD_NAMESPACE, else the cluster configuration's
// namespace (the service account's namespace file, or the kubeconfig
// context's). Throws pgdc::sdk::ConfigError when all are empty.
std::string resolve_namespace(const PluginOptions& options, const std::string& from_cluster,
                              const char* pod_namespace_env);

}  // namespace pgdc::kube
