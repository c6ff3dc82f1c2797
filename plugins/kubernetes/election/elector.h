// Leader election on a coordination.k8s.io/v1 Lease.
//
// Wire-compatible with client-go's tools/leaderelection (same fields, same
// meaning), so pgdog-control replicas and client-go electors can share a
// Lease. Deliberate differences, each making the guarantees below stronger:
//  - validity is counted from when the last successful renew was SENT, so
//    readiness ends (sent + renew deadline) before any follower can take over
//    (observed after the write + lease duration);
//  - followers learn of changes from a watch (fed in by the caller) and act at
//    exactly observed time + duration, or at once on a recognised release;
//  - each new term increments the epoch, even when this replica held the
//    Lease before, so epochs (Lease UID, era * 2^31 + leaseTransitions)
//    strictly increase across this replica's own terms, also past
//    leaseTransitions' int32 maximum (lease.h, kEpochEraAnnotation);
//  - release happens only after leader work has stopped (the caller's job),
//    only if a fresh read shows this replica's own term, and it marks which
//    term it ended (kReleasedTermAnnotation).
//
// Whom a follower believes (the adversary is an operator or the
// infrastructure, not a forger; see docs/high-availability.md):
//  - A replica leads only on the strength of its own successful conditional
//    write, never because the Lease happens to name its identity: a Lease
//    naming it in a term this process did not write (a previous process with
//    the same identity) is waited out like any holder.
//  - Expiry waits at least max(own lease duration, the Lease's
//    leaseDurationSeconds), counted from the last change of the election's
//    fields on this replica's clock; annotation and label edits do not count
//    as changes, and every renewal writes a strictly later renewTime, so a
//    frozen or stepped-back wall clock still looks like a renewal.
//  - A blank holder is taken at once only when it carries the release marker
//    of the Lease's current term; any other blank (an edit by hand, a
//    client-go release) is waited out like a holder.
//  - A Lease that is not there may have been held an instant ago (deleted by
//    hand while its holder was valid), and a deletion erases that history.
//    So a replica that creates the Lease holds it (renews it) but does not
//    act as leader until a full lease duration after sending the create.
//    The exception is a holder that gets 404 for its own Lease: nobody else
//    can have held it since its last renewal, so its new term keeps the
//    acting time of the old one.
//
// What is NOT guaranteed: nothing here fences writes to other systems; the
// epoch is what callers use for that. Expiry is judged only on this process's
// clock (CLOCK_BOOTTIME: suspend counts); clock RATE skew between replicas is
// tolerated up to the ratio lease duration : renew deadline. Wall-clock times
// written to the Lease are informational.
//
// Thread-safety: none. One thread (the runner) calls every member; the watch
// thread hands its events to the runner, which passes them in.
#pragma once

#include <pgdog_control/boot_clock.hpp>

#include <atomic>
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

using LeaseClock = pgdc::sdk::BootClock;
using LeaseTime = LeaseClock::time_point;

struct ElectorTimings {
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{5000};  // lease_interval_secs
};

class ElectorClock {
 public:
  virtual ~ElectorClock() = default;
  virtual LeaseTime steady() = 0;
  virtual WallTime wall() = 0;
  // Pause the calling thread (release retries); a fake clock just advances.
  virtual void sleep_until(LeaseTime t) = 0;
};

class SystemElectorClock final : public ElectorClock {
 public:
  LeaseTime steady() override { return LeaseClock::now(); }
  WallTime wall() override { return std::chrono::system_clock::now(); }
  void sleep_until(LeaseTime t) override { std::this_thread::sleep_until(t); }
};

// What the elector reports after every change of role, holder, epoch or
// validity (a leader reports each successful renewal).
struct ElectorState {
  bool leading = false;
  std::string holder;          // last confirmed holder ("" when none or unknown)
  std::string holder_address;  // where the holder serves (the Lease annotation), or ""
  std::string uid;             // Lease UID of the current term (epoch scope)
  std::uint64_t epoch = 0;     // era * 2^31 + leaseTransitions of the current term
  LeaseTime valid_until{};     // while leading: last renew sent + renew deadline
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

enum class HandoverOutcome {
  kHandedOver,  // the release naming the target is written (or the target already took it)
  kNotLeading,  // not holding a term it acts in: nothing reported, nothing written
  kRefused,     // the target is empty or this replica: nothing reported, nothing written
  kNotHolder,   // stepped down, then a fresh read showed another term: nothing written
  kFailed,      // stepped down; the write failed or its outcome is unknown by the deadline
};
std::string_view handover_outcome_name(HandoverOutcome outcome);

class Elector {
 public:
  using Report = std::function<void(const ElectorState&)>;
  using Log = std::function<void(int level /*0 debug..3 error*/, const std::string& message)>;

  Elector(std::string identity, ElectorTimings timings, LeaseApi& api, ElectorClock& clock,
          Report report, Log log, ElectorEvents events = {});

  // One round of the algorithm: acquire, wait or renew. Issues at most a few
  // requests, each bounded by request_timeout(). Returns the time at which it
  // wants the next round (earlier if a watch event arrives).
  LeaseTime step();

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

  // A replica published as not eligible (member_publish, eligible=false:
  // shutting down, fenced) never acquires; a term it holds is kept. Any thread.
  void set_eligible(bool eligible) { eligible_ = eligible; }

  // While the watch is healthy a follower does not poll.
  void set_watch_healthy(bool healthy) { watch_healthy_ = healthy; }

  // Shutdown: stops leading (reports it), then releases the Lease if and only
  // if a fresh read shows it in a term this process wrote: the one it leads,
  // or one whose acquiring write's outcome it never learned (a cancelled or
  // timed-out create or update). Retries a 409 with a fresh read until
  // `deadline`. The caller must have stopped leader work first.
  ReleaseOutcome release(LeaseTime deadline);

  // Switchover: hands the term this replica acts in to `target`. Only while
  // acting (else kNotLeading) and for another identity (else kRefused), both
  // decided before anything is reported or written. Then, in this order:
  //  1. steps down and reports it: the caller's report makes the host stop
  //     leader work before it returns, so that work has stopped before
  //     anything is written;
  //  2. one conditional update of this very term (the cached object first,
  //     a fresh read after a 409 or an unknown outcome, as release() does)
  //     that blanks the holder, writes the release marker of the term and
  //     names `target` as preferred holder: `target` may take it at once,
  //     everyone else waits a full lease duration (claim_of()).
  // Never leads in the old term again. After kFailed or kNotHolder it is an
  // ordinary follower: a Lease still in its old term (the write definitely,
  // or perhaps, not applied) is taken back in a NEW term (epoch + 1), by a
  // conditional write that a late-applied handover write would make fail.
  HandoverOutcome handover(const std::string& target, LeaseTime deadline);

  // Acting as leader (reported leading): holding, and past the time from
  // which no earlier holder can still be valid.
  bool leading() const { return acting_; }
  // Holding the Lease in a term this replica wrote (renewing it), acting or
  // not yet.
  bool holding() const { return holding_; }
  const std::string& identity() const { return identity_; }
  // Published on the Lease (kLeaderAddressAnnotation) with every write that
  // names this replica as holder. Set before the first step().
  void set_advertise_address(std::string address) { advertise_address_ = std::move(address); }

  // Each request's timeout: max(1 s, renew deadline / 2), and while leading
  // never past the validity deadline.
  std::chrono::milliseconds request_timeout(LeaseTime now) const;

 private:
  // How this replica may treat a Lease it read.
  enum class Claim {
    kReleased,  // a recognised release of the current term: take it at once
    kOwn,       // names this replica in a term this process wrote: take it at once
    kHeld,      // anything else: take it only once it expired on our clock
  };
  // A term this process wrote (or tried to: the outcome may be unknown).
  struct OwnTerm {
    std::string uid;  // "" for a create whose response never arrived
    std::uint64_t epoch = 0;
    std::optional<WallTime> renew_time;  // as written; identifies a lost create
    // Not acting in this term before this; max(): an unanswered create,
    // acting a full duration after the read that finds it.
    LeaseTime act_from{};
  };

  LeaseTime step_follower(LeaseTime now);
  LeaseTime step_leader(LeaseTime now);
  // A conditional update of base, acting from act_from at the earliest; or,
  // with no base, a create, acting a full duration after its answer.
  LeaseTime acquire(LeaseTime now, const std::optional<Lease>& base, LeaseTime act_from);
  void become_holder(const Lease& lease, LeaseTime sent, LeaseTime act_from);
  // When the runner should call step() next while holding.
  LeaseTime next_holder_step() const;
  // `fresh`: a read that shows who holds the Lease now (else: unknown).
  void step_down(const std::string& why, int level = 2 /*warn*/, const Lease* fresh = nullptr);
  // Records a Lease read from the API or the watch; restarts the expiry
  // clock when the election's fields changed.
  void absorb(const Lease& lease, LeaseTime now);
  // *act_from: for kOwn, the matched term's earliest acting time.
  Claim claim_of(const Lease& lease, LeaseTime* act_from = nullptr) const;
  std::chrono::milliseconds holder_duration() const;
  // A spec for a write that names this replica, based on `base`, with a
  // renewTime strictly after base's (MicroTime has microsecond precision).
  LeaseSpec own_spec(const LeaseSpec& base);
  // An acquiring write's failure: is the outcome unknown (it may have been
  // applied)? Everything but a definite rejection.
  static bool outcome_unknown(const ApiError& error);
  void publish();
  void log(int level, const std::string& message) const;
  LeaseTime backoff(LeaseTime now, const ApiError& error) const;

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
  LeaseTime observed_at_{};  // when the election fields last changed (our clock)
  bool need_get_ = true;     // the observation may be stale: read before acting
  bool watch_healthy_ = false;
  std::atomic<bool> eligible_{true};
  LeaseTime next_poll_{};
  // Set when our own Lease was deleted under us: a create answered before
  // `before` (the old term's validity deadline) may act from `act_from` (the
  // old term's acting time) instead of a full duration later.
  struct Recreate {
    LeaseTime act_from;
    LeaseTime before;
  };
  std::optional<Recreate> recreate_;

  // Terms this process wrote: the last it held, and an acquiring write whose
  // outcome is unknown. Only these make a Lease naming us kOwn.
  std::optional<OwnTerm> own_term_;
  std::optional<OwnTerm> pending_;

  // Holder view.
  bool holding_ = false;
  bool acting_ = false;           // as last published
  LeaseTime act_from_{};          // holding: acting from this time
  std::optional<Lease> current_;  // the Lease as last written by us
  bool verify_ = false;           // the watch contradicted us: read before renewing
  LeaseTime valid_until_{};       // last successful renewal sent + renew deadline
  LeaseTime next_renew_{};

  LeaseTime wake_at_{};  // what the last step() returned
  std::stop_token stop_;
  ElectorState published_;
  bool published_once_ = false;
};

}  // namespace pgdc::kube
