#include "leadership/leadership_state.h"

#include <algorithm>
#include <utility>

#include "log/logger.h"

namespace pgdc {
namespace {

constexpr std::string_view kLog = "leadership";

std::string seconds(LeaseClock::duration d) {
  return std::to_string(std::chrono::duration<double>(d).count()) + "s";
}

}  // namespace

std::string_view role_name(Role role) { return role == Role::kLeader ? "leader" : "follower"; }

std::string Epoch::str() const {
  return scope.empty() ? std::to_string(term) : scope + "/" + std::to_string(term);
}

LeadershipState::LeadershipState(LeadershipOptions options) : options_(std::move(options)) {
  if (!options_.now) options_.now = [] { return LeaseClock::now(); };
  state_.role_since = now();
}

LeadershipState::~LeadershipState() { stop_watchdog(); }

LeaseTime LeadershipState::now() const { return options_.now(); }

bool LeadershipState::leading_locked(LeaseTime t) const {
  return term_active_ && !state_.shutting_down && state_.role == Role::kLeader &&
         t < state_.valid_until;
}

bool LeadershipState::ready_locked(LeaseTime t) const {
  return leading_locked(t) && (!ready_gate_ || ready_gate_(state_.epoch));
}

LeadershipSnapshot LeadershipState::snapshot_locked(LeaseTime t) const {
  LeadershipSnapshot s = state_;
  s.ready = ready_locked(t);
  // A leader whose term ended (or is ending) has not confirmed any holder:
  // naming itself would send clients back to the replica that just lost.
  if (s.role == Role::kLeader && !s.ready) {
    s.holder.clear();
    s.holder_address.clear();
  }
  return s;
}

bool LeadershipState::revoke_locked(std::unique_lock<std::mutex>& lock, std::string_view why) {
  if (!term_active_) return true;
  // Order matters: no new work may start (term_active_ false), then running
  // work is told to stop, then we wait for it. Only after that may anyone
  // learn that the term ended.
  term_active_ = false;
  term_stop_.request_stop();
  const bool stopped =
      in_flight_cv_.wait_for(lock, options_.stop_work_timeout, [this] { return in_flight_ == 0; });
  if (!stopped) {
    log::error(kLog, "leader-only work did not stop within " +
                         std::to_string(options_.stop_work_timeout.count()) +
                         "ms after leadership ended (" + std::string(why) + "); " +
                         std::to_string(in_flight_) + " task(s) still running");
  }
  log::info(kLog, "leadership term " + state_.epoch.str() + " ended: " + std::string(why));
  return stopped;
}

void LeadershipState::refuse_locked(LeaseTime t, std::string why) {
  if (!refused_since_) refused_since_ = t;
  refused_why_ = std::move(why);
}

void LeadershipState::publish(std::unique_lock<std::mutex>& lock, LeaseTime t) {
  const LeadershipSnapshot snap = snapshot_locked(t);
  ++generation_;
  lock.unlock();
  watchdog_cv_.notify_all();
  notify(snap);
}

void LeadershipState::apply(const Observation& o) {
  std::lock_guard transition(transition_mutex_);
  std::unique_lock lock(mutex_);
  const LeaseTime t = now();
  state_.last_observation = t;
  if (state_.shutting_down) return;  // nothing may revive a stopping replica

  const bool claims = o.role == Role::kLeader;
  const bool same_term = term_active_ && claims && o.epoch == state_.epoch;
  if (term_active_ && !same_term) {
    revoke_locked(lock, claims ? "epoch changed to " + o.epoch.str()
                               : "backend reports follower, holder \"" + o.holder + "\"");
  }
  // Only the very next report may resume a term the watchdog ended.
  const std::optional<Epoch> expired = std::exchange(expired_term_, std::nullopt);

  bool refused = false;
  if (claims && !same_term) {
    const bool resumes = expired && *expired == o.epoch;
    const auto highest = highest_epoch_.find(o.epoch.scope);
    if (o.valid_until <= t) {
      // Late and already over. A same-term report may still be followed by a
      // valid renewal of that term, which resumes it.
      if (resumes) expired_term_ = expired;
      log::warn(kLog, "ignoring leadership that is already expired (epoch " + o.epoch.str() + ")");
      refuse_locked(t, "the backend reports leadership (epoch " + o.epoch.str() +
                           ") whose validity deadline has already passed");
      refused = true;
    } else if (resumes) {
      // The backend renewed the term after our deadline passed (a slow reply,
      // a descheduled thread). A repeated epoch means the term never broke
      // (pgdc_leadership), so nothing stands between the two parts of it.
      term_stop_ = std::stop_source();
      term_active_ = true;
      log::info(kLog, "leadership term " + o.epoch.str() +
                          " resumed: the backend renewed it after its validity deadline had "
                          "passed here; valid for " +
                          seconds(o.valid_until - t));
    } else if (highest != highest_epoch_.end() && o.epoch.term <= highest->second) {
      log::error(kLog, "refusing leadership: backend reported epoch " + o.epoch.str() +
                           ", not greater than the earlier " + std::to_string(highest->second) +
                           " in the same scope (a fencing violation in the backend)");
      refuse_locked(t, "the backend claims leadership with epoch " + o.epoch.str() +
                           ", not greater than the earlier " + std::to_string(highest->second) +
                           " in its scope, so this replica refuses to lead");
      refused = true;
    } else {
      highest_epoch_[o.epoch.scope] = o.epoch.term;
      term_stop_ = std::stop_source();
      term_active_ = true;
      log::info(kLog, "leading with epoch " + o.epoch.str() + ", valid for " +
                          (o.valid_until == LeaseTime::max() ? std::string("ever")
                                                             : seconds(o.valid_until - t)));
    }
  }

  const Role role = refused ? Role::kFollower : o.role;
  if (role != state_.role) {
    state_.role = role;
    state_.role_since = t;
    ++state_.transitions;
  }
  if (refused) {
    // The claim names this replica; it is not confirmed as holder here.
    state_.holder.clear();
    state_.holder_address.clear();
    state_.valid_until = LeaseTime::min();
  } else {
    refused_since_.reset();
    state_.holder = o.holder;
    state_.holder_address = o.holder_address;
    state_.epoch = o.epoch;
    state_.valid_until = o.valid_until;
  }
  publish(lock, t);
}

bool LeadershipState::begin_shutdown() {
  std::lock_guard transition(transition_mutex_);
  std::unique_lock lock(mutex_);
  if (state_.shutting_down) return true;
  state_.shutting_down = true;
  const bool stopped = revoke_locked(lock, "shutting down");
  publish(lock, now());
  return stopped;
}

bool LeadershipState::yield_term(const Epoch& epoch) {
  std::lock_guard transition(transition_mutex_);
  std::unique_lock lock(mutex_);
  if (!term_active_ || state_.shutting_down || !(state_.epoch == epoch)) return false;
  const bool stopped = revoke_locked(lock, "handing over on request");
  expired_term_ = state_.epoch;
  publish(lock, now());
  return stopped;
}

bool LeadershipState::resume_yielded(const Epoch& epoch) {
  std::lock_guard transition(transition_mutex_);
  std::unique_lock lock(mutex_);
  const LeaseTime t = now();
  if (term_active_ || state_.shutting_down || !expired_term_ || !(*expired_term_ == epoch) ||
      state_.role != Role::kLeader || !(state_.epoch == epoch) || t >= state_.valid_until) {
    return false;
  }
  expired_term_.reset();
  term_stop_ = std::stop_source();
  term_active_ = true;
  log::info(kLog, "leadership term " + epoch.str() + " resumed: the handover did not happen");
  publish(lock, t);
  return true;
}

void LeadershipState::expire_if_due() {
  std::lock_guard transition(transition_mutex_);
  std::unique_lock lock(mutex_);
  const LeaseTime t = now();
  if (!term_active_ || t < state_.valid_until) return;
  revoke_locked(lock, "validity deadline passed without a renewal");
  expired_term_ = state_.epoch;
  publish(lock, t);
}

void LeadershipState::start_watchdog() {
  std::lock_guard lock(mutex_);
  if (watchdog_.joinable()) return;
  watchdog_ = std::jthread([this](std::stop_token stop) { watchdog_loop(stop); });
}

void LeadershipState::stop_watchdog() {
  std::jthread w;
  {
    std::lock_guard lock(mutex_);
    w = std::move(watchdog_);
  }
  if (w.joinable()) {
    w.request_stop();
    watchdog_cv_.notify_all();
    w.join();
  }
}

void LeadershipState::watchdog_loop(std::stop_token stop) {
  // Sleeps until the validity deadline of the current term (re-armed by every
  // publication), then revokes it if no renewal moved the deadline. Waits run
  // on CLOCK_MONOTONIC underneath, which stops during a suspend; an armed
  // wait is therefore cut into short slices, so a deadline that passed while
  // the host slept revokes the term within a slice of resuming. (ready() and
  // run_as_leader() check the deadline themselves and are exact.)
  constexpr auto kSlice = std::chrono::milliseconds(200);
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(mutex_);
      const std::uint64_t seen = generation_;
      const bool armed = term_active_ && state_.valid_until != LeaseTime::max();
      const auto wait = armed
                            ? std::clamp<LeaseClock::duration>(state_.valid_until - now(),
                                                               LeaseClock::duration::zero(), kSlice)
                            : LeaseClock::duration(std::chrono::seconds(60));
      watchdog_cv_.wait_for(lock, stop, wait, [&] { return generation_ != seen; });
    }
    if (stop.stop_requested()) return;
    expire_if_due();
  }
}

bool LeadershipState::ready() const {
  std::lock_guard lock(mutex_);
  return ready_locked(now());
}

LeadershipSnapshot LeadershipState::snapshot() const {
  std::lock_guard lock(mutex_);
  return snapshot_locked(now());
}

std::optional<LeadershipState::Term> LeadershipState::current_term() const {
  std::lock_guard lock(mutex_);
  if (!ready_locked(now())) return std::nullopt;
  return Term{state_.epoch, term_stop_.get_token()};
}

LeadershipState::GuardResult LeadershipState::run_as_leader(
    const Epoch& epoch, const std::function<void(std::stop_token)>& work) {
  return guard(epoch, work, true);
}

LeadershipState::GuardResult LeadershipState::run_in_term(
    const Epoch& epoch, const std::function<void(std::stop_token)>& work) {
  return guard(epoch, work, false);
}

std::optional<LeadershipState::Term> LeadershipState::leading_term() const {
  std::lock_guard lock(mutex_);
  if (!leading_locked(now())) return std::nullopt;
  return Term{state_.epoch, term_stop_.get_token()};
}

void LeadershipState::set_ready_gate(std::function<bool(const Epoch&)> gate) {
  std::lock_guard lock(mutex_);
  ready_gate_ = std::move(gate);
}

void LeadershipState::gate_changed() {
  std::lock_guard transition(transition_mutex_);
  std::unique_lock lock(mutex_);
  publish(lock, now());
}

LeadershipState::GuardResult LeadershipState::guard(
    const Epoch& epoch, const std::function<void(std::stop_token)>& work, bool gated) {
  std::stop_token token;
  {
    std::lock_guard lock(mutex_);
    if (state_.shutting_down) return GuardResult::kShuttingDown;
    if (!term_active_ || state_.role != Role::kLeader) return GuardResult::kNotLeader;
    if (!(epoch == state_.epoch)) {
      return GuardResult::kStaleEpoch;
    }
    if (now() >= state_.valid_until) return GuardResult::kExpired;
    if (gated && ready_gate_ && !ready_gate_(epoch)) return GuardResult::kNotReady;
    token = term_stop_.get_token();
    ++in_flight_;
  }
  struct Done {
    LeadershipState* self;
    ~Done() {
      std::lock_guard lock(self->mutex_);
      --self->in_flight_;
      self->in_flight_cv_.notify_all();
    }
  } done{this};
  work(token);
  return GuardResult::kRan;
}

void LeadershipState::add_listener(Listener listener) {
  std::lock_guard lock(notify_mutex_);
  listeners_.push_back(std::move(listener));
}

void LeadershipState::notify(const LeadershipSnapshot& snap) {
  std::lock_guard lock(notify_mutex_);
  for (const auto& l : listeners_) l(snap);
}

void LeadershipState::report_progress() {
  std::lock_guard lock(mutex_);
  last_progress_ = now();
}

std::string LeadershipState::wedged_reason() const {
  std::lock_guard lock(mutex_);
  const LeaseTime t = now();
  if (refused_since_ && t - *refused_since_ > options_.disagreement_timeout) {
    return refused_why_ + " (for " + seconds(t - *refused_since_) + "; limit " +
           std::to_string(options_.disagreement_timeout.count()) + "ms)";
  }
  if (!last_progress_) return {};
  const auto idle = t - *last_progress_;
  if (idle <= options_.progress_timeout) return {};
  return "elector made no progress for " + seconds(idle) + " (limit " +
         std::to_string(options_.progress_timeout.count()) + "ms)";
}

}  // namespace pgdc
