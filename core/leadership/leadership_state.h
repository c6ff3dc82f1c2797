// The leadership state owned by the core, and the guard for leader-only work.
//
// The coordination plugin reports observations (role, holder, epoch, validity
// deadline); this class turns them into the one answer the rest of the daemon
// asks: "may I act as leader right now, and under which epoch?"
//
// Guarantees
//  - ready() is true only while leading, before the validity deadline and not
//    shutting down. It turns false at the deadline even if the plugin says
//    nothing (a wedged plugin cannot keep this replica Ready).
//  - Deadlines are on LeaseClock (CLOCK_BOOTTIME): time spent suspended
//    counts, so a deadline that passed while the host slept has passed.
//  - Leader-only work runs through run_as_leader(epoch, work) and only while
//    ready() with exactly that epoch; older epochs are refused.
//  - When a term ends (lost, expired, shutdown), its stop token is triggered
//    and in-flight leader work is waited for (bounded by stop_work_timeout)
//    BEFORE the new state is published or any listener hears of it.
//    begin_shutdown() says whether that work stopped in time; the caller
//    releases the leadership only if it did (a release lets another replica
//    act at once).
//  - Within one epoch scope, a new term's epoch must be greater than every
//    earlier one; a plugin that breaks this is refused leadership.
//  - A term this class ended at its deadline resumes when the plugin reports
//    the same epoch again with a deadline still ahead (a renewal that reached
//    the core late: the ABI says a repeated epoch is an unbroken term).
//  - A leadership claim this class refuses for longer than
//    disagreement_timeout makes wedged_reason() non-empty, so /healthz fails
//    and the replica is restarted instead of holding the lease without
//    serving.
//  - holder / holder_address in a snapshot are never this replica while it
//    is not ready: a term that ended (deadline, shutdown, refusal) names no
//    holder until the plugin reports one it has confirmed.
//
// Thread-safety: every member is safe to call from any thread.
#pragma once

#include <pgdog_control/boot_clock.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace pgdc {

// Every leadership deadline, in the core and in the ABI, is on this clock.
using LeaseClock = sdk::BootClock;
using LeaseTime = LeaseClock::time_point;

enum class Role { kFollower, kLeader };
std::string_view role_name(Role role);

// Identifies one leadership term. Terms compare equal only when both parts do.
struct Epoch {
  std::string scope;  // backend-defined, e.g. a Lease UID; may be empty
  std::uint64_t term = 0;
  bool operator==(const Epoch&) const = default;
  std::string str() const;  // "<scope>/<term>" or "<term>"
};

// What a plugin reports (a copy of pgdc_leadership on the host side).
struct Observation {
  Role role = Role::kFollower;
  std::string holder;
  Epoch epoch;
  LeaseTime valid_until = LeaseTime::min();  // LeaseTime::max(): never expires
  std::string holder_address;                // "host:port" of the holder; "" if unknown
};

struct LeadershipSnapshot {
  Role role = Role::kFollower;  // as last reported (see ready for "may act")
  std::string holder;           // last confirmed holder, empty if none or unknown
  std::string holder_address;   // where the holder serves ("host:port"), empty if unknown
  Epoch epoch;
  LeaseTime valid_until = LeaseTime::min();
  LeaseTime role_since{};         // when role last changed
  LeaseTime last_observation{};   // when the plugin last reported
  std::uint64_t transitions = 0;  // role changes in this process
  bool shutting_down = false;
  bool ready = false;  // computed at snapshot time
};

struct LeadershipOptions {
  // How long the end of a term waits for in-flight leader work to notice its
  // stop token. Config: leader.stop_work_timeout_secs, which must be less
  // than lease_duration - renew_deadline: the time between this replica's
  // deadline and the earliest takeover by another.
  std::chrono::milliseconds stop_work_timeout{2000};
  // /healthz reports the elector wedged when a plugin that reports progress
  // has not done so for this long.
  std::chrono::milliseconds progress_timeout{30000};
  // /healthz fails when the plugin keeps claiming leadership that this class
  // refuses for longer than this (the daemon uses the lease interval).
  std::chrono::milliseconds disagreement_timeout{5000};
  // Injected for tests; defaults to LeaseClock::now.
  std::function<LeaseTime()> now;
};

class LeadershipState {
 public:
  enum class GuardResult { kRan, kNotLeader, kStaleEpoch, kExpired, kShuttingDown, kNotReady };
  using Listener = std::function<void(const LeadershipSnapshot&)>;

  explicit LeadershipState(LeadershipOptions options = {});
  ~LeadershipState();
  LeadershipState(const LeadershipState&) = delete;
  LeadershipState& operator=(const LeadershipState&) = delete;

  // Apply a plugin observation. If it ends the current term, the term is
  // revoked first (see guarantees), then the state published, then listeners
  // called, all before this returns.
  void apply(const Observation& observation);

  // Readiness false at once, current term revoked; permanent. Returns false
  // when leader work was still running after stop_work_timeout: the caller
  // must then not release the leadership (let it expire instead).
  bool begin_shutdown();

  // Before a voluntary handover (switchover): ends the term of `epoch` here
  // as a revocation does (readiness false, its stop token triggered,
  // in-flight leader work waited for). Returns true when that work stopped
  // in time: only then may the caller have the plugin hand the leadership
  // over (its target acts at once). False when not leading in `epoch`, or
  // when work still runs: the caller must not hand over. Either way the
  // term may resume with the plugin's next report of the same epoch (the
  // plugin still holds it until its handover write, and keeps it if the
  // handover is refused), as after expire_if_due().
  bool yield_term(const Epoch& epoch);
  // After a handover that did not happen (yield_term refused it, or the
  // plugin refused or failed before it stepped down): resumes the yielded
  // term at once, if the plugin still reports it (role leader in `epoch`,
  // deadline ahead) and nothing ended it since. A plugin that stepped down
  // reported FOLLOWER before its handover write, so this never resumes a
  // term the plugin may have handed over. Returns whether it resumed.
  bool resume_yielded(const Epoch& epoch);

  // Revokes the term if its validity deadline has passed. The watchdog calls
  // this at each deadline; tests may call it directly.
  void expire_if_due();

  // Starts a thread that calls expire_if_due() at each validity deadline.
  void start_watchdog();
  void stop_watchdog();

  bool ready() const;
  LeadershipSnapshot snapshot() const;

  // The current term's epoch and stop token while ready(), else nullopt.
  struct Term {
    Epoch epoch;
    std::stop_token stop;
  };
  std::optional<Term> current_term() const;

  // Runs work(stop) on the calling thread only while ready() with `epoch`.
  // A revocation triggers `stop` and waits for work to return.
  GuardResult run_as_leader(const Epoch& epoch, const std::function<void(std::stop_token)>& work);

  // The ready gate: a condition besides leadership that ready() needs, e.g.
  // "this term's durable state is loaded" (core/state). While leading with
  // the gate closed, the replica holds a term but does not serve:
  // leading_term() and run_in_term() are for the work that opens the gate.
  // The gate is called under this class's lock: it must be quick and must not
  // call back into this class. Set it before start; call gate_changed()
  // whenever its answer may have changed (listeners then hear of it).
  void set_ready_gate(std::function<bool(const Epoch&)> gate);
  void gate_changed();
  std::optional<Term> leading_term() const;
  GuardResult run_in_term(const Epoch& epoch, const std::function<void(std::stop_token)>& work);

  // Called (outside locks, in order) after each published change.
  void add_listener(Listener listener);

  // Elector liveness.
  void report_progress();
  // Empty when healthy, else why /healthz should fail: the elector stopped
  // making progress, or the plugin claims leadership this replica refuses.
  std::string wedged_reason() const;

 private:
  LeaseTime now() const;
  bool leading_locked(LeaseTime now) const;  // holds a valid term (gate aside)
  bool ready_locked(LeaseTime now) const;    // leading and the gate is open
  GuardResult guard(const Epoch& epoch, const std::function<void(std::stop_token)>& work,
                    bool gated);
  // Ends the current term: stop token, wait for in-flight work. Needs lock.
  // Returns false when work was still running at stop_work_timeout.
  bool revoke_locked(std::unique_lock<std::mutex>& lock, std::string_view why);
  // A leader claim this class refused (fencing, expired on arrival).
  void refuse_locked(LeaseTime now, std::string why);
  LeadershipSnapshot snapshot_locked(LeaseTime now) const;
  void publish(std::unique_lock<std::mutex>& lock, LeaseTime now);
  void notify(const LeadershipSnapshot& snap);
  void watchdog_loop(std::stop_token stop);

  LeadershipOptions options_;
  // Serializes transitions (apply, shutdown, expiry) end to end, including
  // the wait for in-flight work, so no transition can overtake a revocation.
  // Lock order: transition_mutex_, then mutex_, then notify_mutex_.
  std::mutex transition_mutex_;
  mutable std::mutex mutex_;
  std::condition_variable in_flight_cv_;
  std::condition_variable_any watchdog_cv_;
  LeadershipSnapshot state_;
  bool term_active_ = false;  // a leader term is open (not yet revoked)
  std::stop_source term_stop_;
  int in_flight_ = 0;
  std::map<std::string, std::uint64_t> highest_epoch_;  // per scope
  // The term expire_if_due() ended, until the next report: the only term a
  // report may resume.
  std::optional<Epoch> expired_term_;
  // Since when the plugin has been claiming leadership this class refuses.
  std::optional<LeaseTime> refused_since_;
  std::string refused_why_;
  std::function<bool(const Epoch&)> ready_gate_;
  std::vector<Listener> listeners_;
  std::mutex notify_mutex_;  // keeps listener calls in publication order
  std::optional<LeaseTime> last_progress_;
  std::uint64_t generation_ = 0;  // bumped on every publication; wakes the watchdog
  std::jthread watchdog_;
};

}  // namespace pgdc
