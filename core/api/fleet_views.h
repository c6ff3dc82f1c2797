// The web API's JSON shapes of the fleet store's snapshots (docs/api.md).
// Pure functions: no locks, no store; the routes fetch, these render.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fleet/fleet_snapshots.h"
#include "fleet/fleet_types.h"

namespace pgdc::api {

// {"ts_ms","clients","servers","pools","qps","tps","cpu","memory_bytes"}; the
// float rates print as the shortest double that reads back the same
// (0.1f -> 0.1, not 0.10000000149011612).
nlohmann::json point_json(const fleet::MetricPoint& point);

// {"deployments":[{"name","nodes":{"total","live","stale"}}]}
nlohmann::json deployments_json(const std::vector<fleet::DeploymentCounts>& deployments);

// {"id","version","host","status":"live"|"stale","registered_at_ms","last_seen_ms","latest"}
nlohmann::json node_summary_json(const fleet::NodeSnapshot& node);

// {"deployment","nodes":[summary...]}
nlohmann::json nodes_json(std::string_view deployment,
                          const std::vector<fleet::NodeSnapshot>& nodes);

// A summary plus "deployment" and, per upload kind, "<kind>" (the latest
// upload, [] if none) and "<kind>_at_ms" (null if none).
nlohmann::json node_json(std::string_view deployment, const fleet::NodeDetail& node);

// {"deployment","node","points":[point...]}
nlohmann::json series_json(std::string_view deployment, std::string_view node,
                           const std::vector<fleet::MetricPoint>& points);

// {"node","state","delivered_at_ms","acked_at_ms","deliveries","result"}; the
// times are null until set, result is {"status","message"} once final.
nlohmann::json delivery_json(const fleet::Delivery& delivery);

// {"id","seq","epoch","name","target","args","issued_at_ms","state","nodes":[delivery...]}
nlohmann::json command_json(const fleet::CommandSnapshot& command);

// {"deployment","commands":[command...],"trimmed_pending":{"total","recent":[...]}}
nlohmann::json commands_json(std::string_view deployment,
                             const std::vector<fleet::CommandSnapshot>& commands,
                             const fleet::TrimmedView& trimmed);

}  // namespace pgdc::api
