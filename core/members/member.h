// One replica of the control plane as the members view shows it (plugin.h,
// "Members and handover"; docs/api.md, GET /api/web/members).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pgdc::members {

struct Member {
  std::string identity;  // leader.identity, the holder name
  std::string address;   // advertise_address ("host:port"); may be empty
  std::string version;   // the pgdog-control version it runs (PGDC_VERSION)
  std::string backend;   // "<plugin name> <plugin version>"
  bool eligible = false;
  std::int64_t heartbeat_age_ms = -1;  // -1: unknown
  bool stale = false;                  // heartbeat older than the backend's TTL
};

// Compares versions part by part on their numeric dot parts ("0.10.0" >
// "0.9.3"); a part's leading digits count, the rest is ignored ("1.2.0-rc1"
// equals "1.2.0"), a missing part is 0. Negative, zero or positive.
int compare_versions(std::string_view a, std::string_view b);

}  // namespace pgdc::members
