// Values shared by the fleet store and the API: options, clock, telemetry
// samples, delivery states, outcomes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pgdc::fleet {

using FleetSteadyTime = std::chrono::steady_clock::time_point;

// Injected for tests. steady drives liveness (immune to wall clock jumps);
// wall_ms stamps what clients see (Unix milliseconds).
struct FleetClock {
  std::function<FleetSteadyTime()> steady;
  std::function<std::int64_t()> wall_ms;
  static FleetClock system();
};

struct FleetOptions {
  std::chrono::milliseconds retention{300000};  // metric points kept per node
  std::size_t max_nodes_per_deployment = 10000;
  std::chrono::milliseconds stale_after{5000};   // without metrics: "stale"
  std::chrono::milliseconds evict_after{60000};  // without metrics: forgotten
  std::size_t command_history = 200;             // commands kept per deployment
  // Memory budget for fleet data (FleetStore, "Memory budget"), in bytes.
  std::size_t max_bytes = 64 * 1024 * 1024;                 // all deployments
  std::size_t max_bytes_per_deployment = 32 * 1024 * 1024;  // each deployment
  // Durable mode (a state store keeps the registry and the command log,
  // core/state): commands of every term are delivered (none "expires"), and
  // only once a write has made them durable.
  bool durable = false;
  // Durable: the registry's durable form (one state object) must fit in
  // this many bytes; a registration that would outgrow it is refused
  // (kRegistryFull). 0: no limit.
  std::size_t max_registry_bytes = 0;
};

// The two durable objects of a deployment.
enum class DurablePart { kNodes = 0, kCommands = 1 };
std::string_view durable_part_name(DurablePart part);  // "nodes", "commands"

// One metrics upload, validated by the API.
struct MetricSample {
  std::uint32_t clients = 0;
  std::uint32_t servers = 0;
  std::uint32_t pools = 0;
  double qps = 0;
  double tps = 0;
  double cpu = 0;
  std::uint64_t memory_bytes = 0;
};

// One stored point: 40 bytes (floats keep the ring small; rates and CPU
// need no more than 7 significant digits on a chart).
struct MetricPoint {
  std::int64_t ts_ms = 0;  // control plane receive time
  std::uint32_t clients = 0;
  std::uint32_t servers = 0;
  std::uint32_t pools = 0;
  float qps = 0;
  float tps = 0;
  float cpu = 0;
  std::uint64_t memory_bytes = 0;
};

enum class UploadKind { kQueryStats = 0, kActiveQueries = 1, kErrors = 2 };
inline constexpr std::size_t kUploadKinds = 3;
std::string_view upload_kind_name(UploadKind kind);  // "query_stats", ...

enum class DeliveryState { kPending, kDelivered, kAcknowledged, kFailed };
std::string_view delivery_state_name(DeliveryState state);

enum class FleetStatus {
  kOk,
  kCreated,               // register: a new node
  kUnknownDeployment,     // 404
  kUnknownNode,           // 404 (not registered, or evicted)
  kTooManyNodes,          // 409: max_nodes_per_deployment reached
  kUnknownCommand,        // 404
  kNotTarget,             // 404: the command was not sent to this node
  kOverDeploymentBudget,  // 429: max_bytes_per_deployment would be exceeded
  kOverGlobalBudget,      // 429: max_bytes would be exceeded
  kRegistryFull,          // 507: the durable registry would exceed max_registry_bytes
};

struct NodeInfo {
  std::string node_id;
  std::string version;
  std::string host;
};

// A command as a node receives it.
struct PolledCommand {
  std::string id;
  std::uint64_t seq = 0;
  std::string epoch;
  std::string name;
  std::string args_json;  // a JSON object
  std::int64_t issued_at_ms = 0;
};

struct DeploymentCounts {
  std::string name;
  std::size_t total = 0;
  std::size_t live = 0;
  std::size_t stale = 0;
  std::size_t memory_bytes = 0;  // charged against the deployment's budget
};

}  // namespace pgdc::fleet
