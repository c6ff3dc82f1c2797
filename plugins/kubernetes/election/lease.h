// A coordination.k8s.io/v1 Lease as the election sees it.
//
// The election owns five spec fields (client-go's LeaderElectionRecord):
// holderIdentity, leaseDurationSeconds, acquireTime, renewTime,
// leaseTransitions; spec.preferredHolder (see kPreferredHolderAnnotation);
// and four annotations: kLeaderAddressAnnotation (where the holder serves),
// kEpochEraAnnotation (the epoch past leaseTransitions' int32 range),
// kReleasedTermAnnotation (which term a release ended) and
// kPreferredHolderAnnotation (whom a handover release names).
// Everything else in the object (labels, other annotations, strategy,
// fields this code does not know) belongs to someone else and is written
// back unchanged on every update.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace pgdc::kube {

using WallTime = std::chrono::system_clock::time_point;

// {"holder":"<identity>","address":"host:port"}: the address is believed only
// while holderIdentity still names that holder, so a Lease taken over by an
// elector that does not know this annotation (client-go) never points
// clients at the previous holder.
inline constexpr const char* kLeaderAddressAnnotation = "pgdog.dev/leader-address";

// leaseTransitions is an int32. The epoch of a term is
//   era * 2^31 + leaseTransitions,
// where era (this annotation, a decimal; absent: 0) counts how often
// leaseTransitions wrapped past 2147483647 back to 0. So epochs keep growing
// when an edit (or two billion terms) leaves leaseTransitions at its maximum,
// and a client-go peer, which only increments leaseTransitions, still writes
// growing epochs.
inline constexpr const char* kEpochEraAnnotation = "pgdog.dev/epoch-era";

// {"holder":"<identity>","uid":"<lease uid>","epoch":<n>}: written by a
// release, in the same write that blanks holderIdentity. A blank holder is a
// release another replica may take at once only when this names the Lease's
// own uid and current epoch; any other blank holder (an edit by hand, a
// client-go release, which writes no marker) is waited out like a holder.
inline constexpr const char* kReleasedTermAnnotation = "pgdog.dev/released-term";

// A handover (switchover) release names the replica that may take the Lease
// at once; every other replica waits the release out like a holder. Written
// in the same write as kReleasedTermAnnotation, as this annotation AND as
// spec.preferredHolder (Kubernetes 1.31+), read as spec.preferredHolder when
// present, else this annotation. Two places because the API server drops
// spec.preferredHolder on write while the CoordinatedLeaderElection feature
// gate is off (the default), and rejects it (422) without spec.strategy
// while the gate is on: so the spec field is written only when the Lease
// already carries spec.strategy, the annotation always. Every write that
// names a holder removes both: an acquire ends the preference.
inline constexpr const char* kPreferredHolderAnnotation = "pgdog.dev/preferred-holder";

// The term a release ended (kReleasedTermAnnotation).
struct ReleasedTerm {
  std::string holder;
  std::string uid;
  std::uint64_t epoch = 0;
  bool operator==(const ReleasedTerm&) const = default;
};

// The largest leaseTransitions the API server stores (an int32).
inline constexpr std::int32_t kMaxTransitions = 2147483647;

// MicroTime on the wire: UTC, six fractional digits: 2026-07-24T14:05:30.123456Z.
std::string format_micro_time(WallTime t);
// Accepts RFC 3339 with 0 to 9 fractional digits and Z or a numeric offset.
std::optional<WallTime> parse_micro_time(std::string_view text);

// The fields the election owns. Times are informational only: expiry is
// judged on the observer's steady clock, never from renewTime.
struct LeaseSpec {
  std::string holder;              // "" when nobody holds the lease
  std::int32_t duration_secs = 0;  // 0 when absent
  std::optional<WallTime> acquire_time;
  std::optional<WallTime> renew_time;
  std::int32_t transitions = 0;
  std::uint32_t era = 0;  // kEpochEraAnnotation; 0 when absent or malformed
  // From kLeaderAddressAnnotation when it names `holder`, else "". Written
  // only together with a holder; a release (no holder) removes it.
  std::string holder_address;
  // From kReleasedTermAnnotation when it parses. Written only without a
  // holder; a write that names a holder removes it.
  std::optional<ReleasedTerm> released;
  // spec.preferredHolder, else kPreferredHolderAnnotation; "" when neither.
  // Written only without a holder (a handover release); a write that names
  // a holder removes it. Not part of same_election(): it says who may take
  // a release at once, not how long anyone holds.
  std::string preferred_holder;

  // The term number: era * 2^31 + transitions.
  std::uint64_t epoch() const;
  // Sets era and transitions from a term number.
  void set_epoch(std::uint64_t epoch);

  bool operator==(const LeaseSpec&) const = default;
};

// True when the fields that say who holds the Lease and for how long are
// equal: holder, duration, times and epoch. A follower restarts its expiry
// clock only when these change, so an edit of labels or annotations (the
// leader address, a release marker) never extends a holder's term.
bool same_election(const LeaseSpec& a, const LeaseSpec& b);

class Lease {
 public:
  // Parses and validates an object returned by the API server. Rejects, with
  // a message naming the field: not an object, kind other than Lease, missing
  // metadata.name/uid/resourceVersion, election fields of the wrong type or
  // out of range (negative transitions, non-positive duration), unparsable
  // times. Unknown fields are kept.
  static std::optional<Lease> parse(std::string_view json, std::string* error);
  static std::optional<Lease> from_json(nlohmann::json object, std::string* error);

  // A new Lease object for a create (no resourceVersion).
  static std::string new_object(const std::string& name, const std::string& ns,
                                const LeaseSpec& spec);

  // This object with the election's fields replaced by `spec` and everything
  // else kept, including metadata.resourceVersion: a conditional update.
  std::string with_spec(const LeaseSpec& spec) const;

  const std::string& name() const { return name_; }
  const std::string& uid() const { return uid_; }
  // A blank holder whose release marker names this Lease's uid and epoch.
  bool released() const;
  const std::string& resource_version() const { return resource_version_; }
  const LeaseSpec& spec() const { return spec_; }
  const nlohmann::json& object() const { return object_; }

 private:
  nlohmann::json object_;
  std::string name_;
  std::string uid_;
  std::string resource_version_;
  LeaseSpec spec_;
};

}  // namespace pgdc::kube
