// Internal to core/fleet: the fleet store's per-deployment data, shared by
// fleet_store.cpp (the live operations) and fleet_durable.cpp (the durable
// form). Nothing outside core/fleet includes this.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "fleet/fleet_snapshots.h"
#include "fleet/fleet_types.h"

namespace pgdc::fleet::internal {

struct Node {
  NodeInfo info;
  // Never reused within a deployment (durable: it survives terms), so a
  // command's targets can be stored as ranges of numbers.
  std::uint64_t number = 0;
  std::int64_t registered_at_ms = 0;
  std::int64_t last_seen_ms = 0;
  FleetSteadyTime last_seen{};
  std::vector<MetricPoint> ring;                  // grows to capacity, then wraps at head
  std::size_t head = 0;                           // next slot to overwrite once full
  std::array<std::string, kUploadKinds> uploads;  // latest of each UploadKind, compact JSON
  std::array<std::int64_t, kUploadKinds> upload_ms{};
  std::vector<std::uint64_t> open;  // seqs of commands this node has not acked, ascending
  std::size_t charged = 0;          // node_bytes + uploads, released on eviction

  const MetricPoint* latest() const {
    if (ring.empty()) return nullptr;
    return &ring[(head + ring.size() - 1) % ring.size()];
  }
  template <typename F>
  void each_point(F f) const {  // oldest first
    for (std::size_t i = 0; i < ring.size(); ++i) f(ring[(head + i) % ring.size()]);
  }
};

// Fixed costs of the memory budget: a node's map entry and struct, a
// command's deque slot and struct, a delivery (and its seq in the node's
// open list). Estimates of the heap use, on the high side.
inline constexpr std::size_t kNodeBytes = sizeof(Node) + 64;
inline constexpr std::size_t kCommandBytes = sizeof(Command) + 32;
inline constexpr std::size_t kDeliveryBytes = sizeof(Delivery) + sizeof(std::uint64_t);
inline constexpr std::size_t kTrimmedKept = 50;

inline std::size_t trimmed_bytes(const TrimmedCommand& t) {
  return sizeof(TrimmedCommand) + t.id.size() + t.epoch.size() + t.name.size();
}

// What a command holds, acknowledgement messages included; kept equal to the
// sum of its charges, so dropping it releases exactly what was charged.
inline std::size_t command_bytes(const Command& c) {
  std::size_t n = kCommandBytes + c.id.size() + c.epoch.size() + c.name.size() + c.target.size() +
                  c.args_json.size();
  for (const Delivery& d : c.nodes) n += kDeliveryBytes + d.node.size() + d.result_message.size();
  return n;
}

// An upper bound of one node's record in the durable registry
// ([number,"id","version","host",registered_at_ms] with JSON escapes).
std::size_t registry_record_bytes(const NodeInfo& info);

inline Delivery* find_delivery(Command& c, std::string_view node) {
  auto it = std::lower_bound(c.nodes.begin(), c.nodes.end(), node,
                             [](const Delivery& d, std::string_view n) { return d.node < n; });
  return it != c.nodes.end() && it->node == node ? &*it : nullptr;
}

// Change counters of the two durable parts of a deployment (DurablePart):
// `changed` counts changes, `durable` is the count the last successful write
// covered. Telemetry changes neither.
struct PartGenerations {
  std::uint64_t changed = 0;
  std::uint64_t durable = 0;
};

struct Deployment {
  std::string name;
  mutable std::mutex mutex;
  std::map<std::string, Node, std::less<>> nodes;
  std::deque<Command> commands;  // consecutive seqs, oldest first
  std::uint64_t next_seq = 1;
  std::uint64_t next_number = 1;   // the next node's number
  std::size_t used = 0;            // bytes charged against max_bytes_per_deployment
  std::size_t registry_bytes = 0;  // the registry's durable form, at most (registry_record_bytes)
  std::deque<TrimmedCommand> trimmed;  // oldest first, at most kTrimmedKept
  std::uint64_t trimmed_total = 0;
  std::array<PartGenerations, 2> parts;  // indexed by DurablePart
  // Durable mode: commands with seq >= durable_next_seq are not yet durable
  // and are neither delivered nor acknowledged.
  std::uint64_t durable_next_seq = 1;
  std::int64_t data_since_ms = 0;  // telemetry is kept from this time on (load or start)

  Command* command_by_seq(std::uint64_t seq) {
    if (commands.empty() || seq < commands.front().seq) return nullptr;
    const std::uint64_t index = seq - commands.front().seq;
    return index < commands.size() ? &commands[index] : nullptr;
  }
  void changed(DurablePart part) { ++parts[static_cast<std::size_t>(part)].changed; }
};

}  // namespace pgdc::fleet::internal
