#include "fleet/fleet_snapshots.h"

namespace pgdc::fleet {

bool is_final(DeliveryState state) {
  return state == DeliveryState::kAcknowledged || state == DeliveryState::kFailed;
}

std::string_view command_state_name(CommandState state) {
  switch (state) {
    case CommandState::kPending:
      return "pending";
    case CommandState::kDelivered:
      return "delivered";
    case CommandState::kAcknowledged:
      return "acknowledged";
    case CommandState::kFailed:
      return "failed";
    case CommandState::kExpired:
      return "expired";
    case CommandState::kNoTargets:
      return "no_targets";
  }
  return "?";
}

CommandState command_state(const Command& c, std::string_view current_epoch) {
  if (c.nodes.empty()) return CommandState::kNoTargets;
  bool all_final = true, all_delivered = true, any_failed = false;
  for (const Delivery& d : c.nodes) {
    all_final = all_final && is_final(d.state);
    all_delivered = all_delivered && d.state != DeliveryState::kPending;
    any_failed = any_failed || d.state == DeliveryState::kFailed;
  }
  if (all_final) return any_failed ? CommandState::kFailed : CommandState::kAcknowledged;
  if (c.epoch != current_epoch) return CommandState::kExpired;
  return all_delivered ? CommandState::kDelivered : CommandState::kPending;
}

}  // namespace pgdc::fleet
