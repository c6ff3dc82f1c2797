// One state object of the host's state store (plugin.h, "The state store")
// as a Kubernetes ConfigMap in the Lease's namespace:
//
//   name         <lease_name>-state-<key>
//   labels       app.kubernetes.io/managed-by: pgdog-control
//                pgdog.dev/lease: <lease_name>
//   annotations  pgdog.dev/state-key: <key>
//   data.value   the value, verbatim (UTF-8 JSON from the host)
//
// The object's metadata.resourceVersion is the state version: the API server
// moves it on every change (ours, or an admin's edit of a label), and a PUT
// carrying a stale one is refused with 409. It is opaque: compared for
// equality only, never parsed or ordered.
//
// The plugin owns these objects: a write replaces the whole object, so labels
// or annotations someone else added are dropped by the next write (and that
// edit already made the writer's expected version stale, see docs).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pgdc::kube {

inline constexpr const char* kStateKeyAnnotation = "pgdog.dev/state-key";
inline constexpr const char* kStateLeaseLabel = "pgdog.dev/lease";
inline constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr const char* kManagedByValue = "pgdog-control";

// The ConfigMap's name for `key`: <lease_name>-state-<key>. Throws
// pgdc::sdk::ConfigError when the name would be longer than the 253
// characters Kubernetes allows, or when lease_name is longer than the 63
// characters of a label value (it labels the object).
std::string state_configmap_name(std::string_view lease_name, std::string_view key);

// The JSON body of a create (resource_version empty) or of a conditional
// replace (resource_version: the precondition). Throws pgdc::sdk::ConfigError
// when value is not valid UTF-8 (a ConfigMap's data holds only UTF-8 text).
std::string state_configmap_body(std::string_view name, std::string_view ns,
                                 std::string_view lease_name, std::string_view key,
                                 std::string_view value, std::string_view resource_version);

// What a read needs from a ConfigMap the API server returned.
struct StateConfigMap {
  std::string value;             // data.value; "" when the key is absent
  std::string resource_version;  // metadata.resourceVersion; never empty
};

// Parses a ConfigMap response body. nullopt (with *why set) when the body is
// not a JSON object, has no non-empty string metadata.resourceVersion, or has
// a data.value that is not a string.
std::optional<StateConfigMap> parse_state_configmap(std::string_view body, std::string* why);

}  // namespace pgdc::kube
