// One replica's member Lease: its name, the object written, and the parse of
// a LIST of them. Pure functions; the registry (member_registry.h) does I/O.
//
// Shape (docs/kubernetes.md#members):
//   metadata.name          member_lease_name(lease_name, identity)
//   metadata.labels        pgdog.dev/member-of: member_label_value(lease_name)
//                          app.kubernetes.io/managed-by: pgdog-control
//   metadata.annotations   pgdog.dev/member: {"identity","address","version",
//                          "backend","eligible"} (JSON)
//   metadata.ownerReferences  the replica's Pod, when its name and uid are known
//   spec.holderIdentity    the identity
//   spec.leaseDurationSeconds  the member TTL
//   spec.renewTime         the last heartbeat (wall clock, informational)
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pgdog_control/plugin.hpp>

#include "election/lease.h"

namespace pgdc::kube {

inline constexpr const char* kMemberOfLabel = "pgdog.dev/member-of";
inline constexpr const char* kMemberAnnotation = "pgdog.dev/member";
// Longer strings in a member annotation mark the object malformed (skipped):
// a hostile or broken object cannot make every reader copy megabytes.
inline constexpr std::size_t kMaxMemberField = 1024;

// True for a DNS-1123 subdomain (what a Lease name must be): at most 253
// characters, dot-separated labels of [a-z0-9-] starting and ending alphanumeric.
bool valid_dns_subdomain(std::string_view name);

// "<lease_name>-member-<identity>" when that is a valid name; otherwise (an
// identity with capitals, underscores such as the default
// "<POD_NAME>_<random>", or too long) a stable form
// "<lease_name>-member-<identity lowercased, other characters '-', cut to
// fit>-h<16 hex of FNV-1a 64 of the identity>", and when even that does not
// fit "pgdc-member-h<16 hex of FNV-1a 64 of lease_name/identity>".
// The identity itself is always spec.holderIdentity.
std::string member_lease_name(std::string_view lease_name, std::string_view identity);

// The label value naming the election Lease: lease_name when it is a valid
// label value (63 characters at most), else "h<16 hex of FNV-1a 64>".
std::string member_label_value(std::string_view lease_name);

// FNV-1a 64 as 16 lowercase hex digits.
std::string fnv1a64_hex(std::string_view text);

struct PodRef {
  std::string name;
  std::string uid;
  bool known() const { return !name.empty() && !uid.empty(); }
};

struct MemberWrite {
  std::string ns;
  std::string lease_name;  // the election Lease's
  pgdc::sdk::Member self;
  std::int32_t ttl_secs = 15;
  WallTime renew_time;
  PodRef pod;
  std::string resource_version;  // "" for a create; else the update's precondition
};

// The JSON of the member Lease to POST (create) or PUT (update).
std::string member_lease_body(const MemberWrite& w);

// One member as read back.
struct MemberRecord {
  pgdc::sdk::Member member;  // heartbeat_age_ms and stale filled in
  std::string name;          // the Lease's name
  std::string resource_version;
  std::int64_t age_ms = 0;  // unclamped age of the heartbeat (may be negative: clock skew)
  std::int32_t ttl_secs = 0;
};

// Parses a LeaseList body. Returns nullopt (and why) only when the body is
// not a list at all; each item that is not a well-formed member Lease of
// `label_value` is skipped and described in *skipped (one line each).
// Two objects claiming one identity: the freshest heartbeat wins.
std::optional<std::vector<MemberRecord>> parse_member_list(std::string_view body,
                                                           std::string_view label_value,
                                                           WallTime now, std::string* why,
                                                           std::vector<std::string>* skipped);

}  // namespace pgdc::kube
