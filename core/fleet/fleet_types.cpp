#include "fleet/fleet_types.h"

namespace pgdc::fleet {

FleetClock FleetClock::system() {
  return FleetClock{[] { return std::chrono::steady_clock::now(); },
                    [] {
                      return std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                          .count();
                    }};
}

std::string_view upload_kind_name(UploadKind kind) {
  switch (kind) {
    case UploadKind::kQueryStats:
      return "query_stats";
    case UploadKind::kActiveQueries:
      return "active_queries";
    case UploadKind::kErrors:
      return "errors";
  }
  return "?";
}

std::string_view delivery_state_name(DeliveryState state) {
  switch (state) {
    case DeliveryState::kPending:
      return "pending";
    case DeliveryState::kDelivered:
      return "delivered";
    case DeliveryState::kAcknowledged:
      return "acknowledged";
    case DeliveryState::kFailed:
      return "failed";
  }
  return "?";
}

std::string_view durable_part_name(DurablePart part) {
  return part == DurablePart::kNodes ? "nodes" : "commands";
}

}  // namespace pgdc::fleet
