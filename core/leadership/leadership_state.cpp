#include "leadership/leadership_state.h"

#include <utility>

#include "log/logger.h"

namespace pgdc {
namespace {

constexpr std::string_view kLog = "leadership";

std::string seconds(std::chrono::steady_clock::duration d) {
  return std::to_string(std::chrono::duration<double>(d).count()) + "s";
}

}  // namespace

std::string_view role_name(Role role) { return role == Role::kLeader ? "leader" : "follower"; }

std::string Epoch::str() const {
  return scope.empty() ? std::to_string(term) : scope + "/" + std::to_string(term);
}

LeadershipState::LeadershipState(LeadershipOptions options) : options_(std::move(options)) {
  if (!options_.now) options_.now = [] { return SteadyClock::now(); };
  state_.role_since = now();
}

LeadershipState::~LeadershipState() { stop_watchdog(); }

SteadyTime LeadershipState::now() const { return options_.now(); }

bool LeadershipState::ready_locked(SteadyTime t) const {
  return term_active_ && !state_.shutting_down && state_.role == Role::kLeader &&
         t < state_.valid_until;
}

LeadershipSnapshot LeadershipState::snapshot_locked(SteadyTime t) const {
  LeadershipSnapshot s = state_;
  s.ready = ready_locked(t);
  return s;
}

void LeadershipState::revoke_locked(std::unique_lock<std::mutex>& lock, std::string_view why) {
  if (!term_active_) return;
  // Order matters: no new work may start (term_active_ false), then running
  // work is told to stop, then we wait for it. Only after that may anyone
  // learn that the term ended.
  term_active_ = false;
  term_stop_.request_stop();
  const auto deadline = SteadyClock::now() + options_.revoke_wait;
  if (!in_flight_cv_.wait_until(lock, deadline, [this] { return in_flight_ == 0; })) {
    log::error(kLog, "leader-only work did not stop within " +
                         std::to_string(options_.revoke_wait.count()) +
                         "ms after leadership ended (" + std::string(why) + "); " +
                         std::to_string(in_flight_) + " task(s) still running");
  }
  log::info(kLog, "leadership term " + state_.epoch.str() + " ended: " + std::string(why));
}

void LeadershipState::apply(const Observation& o) {
  std::lock_guard transition(transition_mutex_);
  std::unique_lock lock(mutex_);
  const SteadyTime t = now();
  state_.last_observation = t;
  if (state_.shutting_down) return;  // nothing may revive a stopping replica

  const bool same_term = term_active_ && o.role == Role::kLeader && o.epoch == state_.epoch;
  if (term_active_ && !same_term) {
    revoke_locked(lock, o.role == Role::kLeader
                            ? "epoch changed to " + o.epoch.str()
                            : "backend reports follower, holder \"" + o.holder + "\"");
  }

  Role role = o.role;
  bool refused = false;
  if (o.role == Role::kLeader && !same_term) {
    // A new term: its epoch must exceed every earlier one in its scope.
    auto it = highest_epoch_.find(o.epoch.scope);
    if (it != highest_epoch_.end() && o.epoch.term <= it->second) {
      log::error(kLog, "refusing leadership: backend reported epoch " + o.epoch.str() +
                           ", not greater than the earlier " + std::to_string(it->second) +
                           " in the same scope (a fencing violation in the backend)");
      refused = true;
      role = Role::kFollower;
    } else if (o.valid_until <= t) {
      log::warn(kLog, "ignoring leadership that is already expired (epoch " + o.epoch.str() + ")");
      refused = true;
      role = Role::kFollower;
    } else {
      highest_epoch_[o.epoch.scope] = o.epoch.term;
      term_stop_ = std::stop_source();
      term_active_ = true;
      log::info(kLog, "leading with epoch " + o.epoch.str() + ", valid for " +
                          (o.valid_until == SteadyTime::max() ? std::string("ever")
                                                              : seconds(o.valid_until - t)));
    }
  }

  if (role != state_.role) {
    state_.role = role;
    state_.role_since = t;
    ++state_.transitions;
  }
  state_.holder = o.holder;
  state_.holder_address = o.holder_address;
  if (!refused) {
    state_.epoch = o.epoch;
    state_.valid_until = o.valid_until;
  } else {
    state_.valid_until = SteadyTime::min();
  }
  const LeadershipSnapshot snap = snapshot_locked(t);
  ++generation_;
  lock.unlock();
  watchdog_cv_.notify_all();
  notify(snap);
}

void LeadershipState::begin_shutdown() {
  std::lock_guard transition(transition_mutex_);
  std::unique_lock lock(mutex_);
  if (state_.shutting_down) return;
  state_.shutting_down = true;
  revoke_locked(lock, "shutting down");
  const LeadershipSnapshot snap = snapshot_locked(now());
  ++generation_;
  lock.unlock();
  watchdog_cv_.notify_all();
  notify(snap);
}

void LeadershipState::expire_if_due() {
  std::lock_guard transition(transition_mutex_);
  std::unique_lock lock(mutex_);
  const SteadyTime t = now();
  if (!term_active_ || t < state_.valid_until) return;
  revoke_locked(lock, "validity deadline passed without a renewal");
  const LeadershipSnapshot snap = snapshot_locked(t);
  lock.unlock();
  notify(snap);
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
  // apply), then revokes it if no renewal moved the deadline. Uses the real
  // steady clock for waiting; the injected clock decides expiry.
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(mutex_);
      const std::uint64_t seen = generation_;
      const bool armed = term_active_ && state_.valid_until != SteadyTime::max();
      const auto wait = armed ? std::max(state_.valid_until - now(), SteadyClock::duration::zero())
                              : SteadyClock::duration(std::chrono::seconds(60));
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
  std::stop_token token;
  {
    std::lock_guard lock(mutex_);
    if (state_.shutting_down) return GuardResult::kShuttingDown;
    if (!term_active_ || state_.role != Role::kLeader) return GuardResult::kNotLeader;
    if (!(epoch == state_.epoch)) {
      return GuardResult::kStaleEpoch;
    }
    if (now() >= state_.valid_until) return GuardResult::kExpired;
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
  if (!last_progress_) return {};
  const auto idle = now() - *last_progress_;
  if (idle <= options_.progress_timeout) return {};
  return "elector made no progress for " + seconds(idle) + " (limit " +
         std::to_string(options_.progress_timeout.count()) + "ms)";
}

}  // namespace pgdc
