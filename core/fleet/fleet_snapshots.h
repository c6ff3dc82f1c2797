// What the fleet store hands out: copies taken under a deployment's lock.
// The store keeps no reference to them, and they carry no JSON: the API
// renders them (api/fleet_views.h), so the store knows nothing of wire shapes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fleet/fleet_types.h"

namespace pgdc::fleet {

// One node's share of a command.
struct Delivery {
  std::string node;
  DeliveryState state = DeliveryState::kPending;
  std::int64_t delivered_at_ms = 0;  // 0: never delivered
  std::int64_t acked_at_ms = 0;      // 0: not final yet
  std::uint32_t deliveries = 0;      // polls that handed it out
  std::string result_status;         // "ok" | "error" once final
  std::string result_message;
  std::uint64_t node_number = 0;  // the node's registration number (durable form)
};

bool is_final(DeliveryState state);

// A command as the log keeps it.
struct Command {
  std::string id;  // "<seq>-<instance>"
  std::uint64_t seq = 0;
  std::string epoch;  // the term that issued it
  std::string name;
  std::string target;     // a node id or "*"
  std::string args_json;  // a compact JSON object
  std::int64_t issued_at_ms = 0;
  std::vector<Delivery> nodes;  // sorted by node id
};

// The state of a command as a whole, as of some current epoch:
// pending < delivered < final; "failed" if any node failed once all are
// final; "expired" when issued in another term and still open somewhere;
// "no_targets" when it reached no node at all (never vacuously
// "acknowledged": an operator must see that nothing ran).
enum class CommandState { kPending, kDelivered, kAcknowledged, kFailed, kExpired, kNoTargets };
std::string_view command_state_name(CommandState state);
CommandState command_state(const Command& command, std::string_view current_epoch);

// A command dropped from the history (api.commands.history) while some of
// its target nodes had not acknowledged it: the store keeps this record so
// the drop is visible instead of silent.
struct TrimmedCommand {
  std::string id;
  std::uint64_t seq = 0;
  std::string epoch;
  std::string name;
  std::int64_t issued_at_ms = 0;
  std::int64_t trimmed_at_ms = 0;
  std::size_t open_nodes = 0;  // targets that had not acknowledged it
};

struct TrimmedView {
  std::uint64_t total = 0;             // since this process started
  std::vector<TrimmedCommand> recent;  // the last ones (at most 50), newest first
};

struct CommandSnapshot {
  Command command;
  CommandState state = CommandState::kPending;
};

struct NodeSnapshot {
  NodeInfo info;
  bool live = false;  // metrics (or a registration) younger than stale_after
  std::int64_t registered_at_ms = 0;
  std::int64_t last_seen_ms = 0;
  std::optional<MetricPoint> latest;
};

// A node with its latest uploads, indexed by UploadKind.
struct NodeDetail {
  NodeSnapshot node;
  std::array<std::string, kUploadKinds> uploads;       // compact JSON arrays; "" if none yet
  std::array<std::int64_t, kUploadKinds> upload_ms{};  // 0 if none yet
};

}  // namespace pgdc::fleet
