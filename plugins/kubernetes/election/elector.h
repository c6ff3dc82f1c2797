// Leader election on a coordination.k8s.io/v1 Lease.
//
// Wire-compatible with client-go's tools/leaderelection (same fields, same
// meaning), so pgdog-control replicas and client-go electors can share a
// Lease. Deliberate differences, each making the guarantees below stronger:
//  - validity is counted from when the last successful renew was SENT, so
//    readiness ends (sent + renew deadline) before any follower can take over
//    (observed after the write + lease duration);
//  - followers learn of changes from a watch (fed in by the caller) and act at
//    exactly observed time + duration, or at once on a released Lease;
//  - each new term increments leaseTransitions, even when this replica held
//    the Lease before, so epochs (Lease UID, leaseTransitions) strictly
//    increase across this replica's own terms;
//  - release happens only after leader work has stopped (the caller's job)
//    and only if a fresh read shows this replica as holder;
//  - a follower that saw the Lease deleted while someone held it waits out
//    that holder's lease duration before creating a new one.
//
// What is NOT guaranteed: nothing here fences writes to other systems; the
// epoch is what callers use for that. Expiry is judged only on this process's
// steady clock; clock RATE skew between replicas is tolerated up to the ratio
// lease duration : renew deadline. Wall-clock times written to the Lease are
// informational.
//
// Thread-safety: none. One thread (the runner) calls every member; the watch
// thread hands its events to the runner, which passes them in.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include "lease.h"
#include "lease_api.h"

namespace pgdc::kube {

using SteadyTime = std::chrono::steady_clock::time_point;

struct ElectorTimings {
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{5000};  // lease_interval_secs
};

class ElectorClock {
 public:
  virtual ~ElectorClock() = default;
  virtual SteadyTime steady() = 0;
  virtual WallTime wall() = 0;
  // Pause the calling thread (release retries); a fake clock just advances.
  virtual void sleep_until(SteadyTime t) = 0;
};

class SystemElectorClock final : public ElectorClock {
 public:
  SteadyTime steady() override { return std::chrono::steady_clock::now(); }
  WallTime wall() override { return std::chrono::system_clock::now(); }
  void sleep_until(SteadyTime t) override { std::this_thread::sleep_until(t); }
};

// What the elector reports after every change of role, holder, epoch or
// validity (a leader reports each successful renewal).
struct ElectorState {
  bool leading = false;
  std::string holder;            // last known holder ("" when none or unknown)
  std::string holder_address;    // where the holder serves (the Lease annotation), or ""
  std::string uid;               // Lease UID of the current term (epoch scope)
  std::int32_t transitions = 0;  // leaseTransitions of the current term (epoch)
  SteadyTime valid_until{};      // while leading: last renew sent + renew deadline
};

// Counters the backend turns into metrics.
struct ElectorEvents {
  std::function<void(bool acquired, std::chrono::duration<double> latency)> on_acquire_attempt;
  std::function<void(bool renewed, std::chrono::duration<double> latency)> on_renew;
  std::function<void()> on_conflict;
};

enum class ReleaseOutcome {
  kReleased,   // the Lease now has no holder
  kNotHolder,  // a fresh read showed another holder (or no Lease): nothing written
  kFailed,     // could not read or write before the deadline
};
std::string_view release_outcome_name(ReleaseOutcome outcome);

class Elector {
 public:
  using Report = std::function<void(const ElectorState&)>;
  using Log = std::function<void(int level /*0 debug..3 error*/, const std::string& message)>;

  Elector(std::string identity, ElectorTimings timings, LeaseApi& api, ElectorClock& clock,
          Report report, Log log, ElectorEvents events = {});

  // One round of the algorithm: acquire, wait or renew. Issues at most a few
  // requests, each bounded by request_timeout(). Returns the steady time at
  // which it wants the next round (earlier if a watch event arrives).
  SteadyTime step();

  // Watch input: the Lease as the watch saw it, or its deletion. Returns true
  // when the caller should run step() at once (a released Lease; or, for a
  // leader, an event that contradicts it: events may be older than our last
  // write, so the next step re-reads the Lease and steps down only if the
  // read confirms it).
  bool observe(const Lease& lease);
  bool observe_deleted();
  // Once `stop` is requested, step() issues no further request (a shutdown
  // must not wait for a fallback GET); release() ignores it.
  void set_stop_token(std::stop_token stop) { stop_ = std::move(stop); }

  // While the watch is healthy a follower does not poll.
  void set_watch_healthy(bool healthy) { watch_healthy_ = healthy; }

  // Shutdown: stops leading (reports it), then releases the Lease if and only
  // if a fresh read shows this replica as holder. Retries a 409 with a fresh
  // read until `deadline`. The caller must have stopped leader work first.
  ReleaseOutcome release(SteadyTime deadline);

  bool leading() const { return leading_; }
  const std::string& identity() const { return identity_; }
  // Published on the Lease (kLeaderAddressAnnotation) with every write that
  // names this replica as holder. Set before the first step().
  void set_advertise_address(std::string address) { advertise_address_ = std::move(address); }

  // Each request's timeout: max(1 s, renew deadline / 2), and while leading
  // never past the validity deadline.
  std::chrono::milliseconds request_timeout(SteadyTime now) const;

 private:
  SteadyTime step_follower(SteadyTime now);
  SteadyTime step_leader(SteadyTime now);
  void become_leader(const Lease& lease, SteadyTime sent);
  void step_down(const std::string& why, int level = 2 /*warn*/);
  // Records a Lease read from the API or the watch; restarts the expiry
  // clock when the election's fields changed.
  void absorb(const Lease& lease, SteadyTime now);
  std::chrono::milliseconds holder_duration() const;
  void publish();
  void log(int level, const std::string& message) const;
  SteadyTime backoff(SteadyTime now, const ApiError& error) const;

  bool stopping() const { return stop_.stop_requested(); }

  const std::string identity_;
  std::string advertise_address_;
  const ElectorTimings timings_;
  LeaseApi& api_;
  ElectorClock& clock_;
  Report report_;
  Log log_;
  ElectorEvents events_;

  // Follower view.
  std::optional<Lease> observed_;
  SteadyTime observed_at_{};  // steady time the election fields last changed
  bool need_get_ = true;      // the observation may be stale: read before acting
  bool watch_healthy_ = false;
  SteadyTime next_poll_{};
  // After seeing a held Lease deleted: no create before this time.
  std::optional<SteadyTime> create_not_before_;

  // Leader view.
  bool leading_ = false;
  std::optional<Lease> current_;  // the Lease as last written by us
  bool verify_ = false;           // the watch contradicted us: read before renewing
  SteadyTime valid_until_{};

  std::stop_token stop_;
  ElectorState published_;
  bool published_once_ = false;
};

}  // namespace pgdc::kube
