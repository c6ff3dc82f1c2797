#include "elector.h"

#include <algorithm>

namespace pgdc::kube {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr int kDebug = 0;
constexpr int kInfo = 1;
constexpr int kWarn = 2;
constexpr milliseconds kReleaseRetryPause{100};

// When a leader retries a failed renewal: halfway to its validity deadline
// (at most one retry period, at least min(1 s, retry period) later), never
// before a Retry-After the server asked for, and at the deadline at the
// latest, to step down. Waiting a full retry period instead would, with the
// default 15/10/5 s timings, land on the deadline itself: one failed round
// (a 429, a 401/403 blip, a refused connection) would cost leadership.
SteadyTime leader_retry_at(SteadyTime now, SteadyTime valid_until, milliseconds retry_period,
                           const ApiError& error) {
  const auto left = duration_cast<milliseconds>(valid_until - now);
  auto wait = std::clamp(left / 2, std::min(milliseconds(1000), retry_period), retry_period);
  if (error.retry_after) wait = std::max(wait, duration_cast<milliseconds>(*error.retry_after));
  return std::min(now + wait, valid_until);
}

}  // namespace

std::string_view release_outcome_name(ReleaseOutcome outcome) {
  switch (outcome) {
    case ReleaseOutcome::kReleased:
      return "released";
    case ReleaseOutcome::kNotHolder:
      return "not_holder";
    case ReleaseOutcome::kFailed:
      return "failed";
  }
  return "failed";
}

Elector::Elector(std::string identity, ElectorTimings timings, LeaseApi& api, ElectorClock& clock,
                 Report report, Log log, ElectorEvents events)
    : identity_(std::move(identity)),
      timings_(timings),
      api_(api),
      clock_(clock),
      report_(std::move(report)),
      log_(std::move(log)),
      events_(std::move(events)) {}

void Elector::log(int level, const std::string& message) const {
  if (log_) log_(level, message);
}

milliseconds Elector::request_timeout(SteadyTime now) const {
  milliseconds t = std::max(milliseconds(1000), timings_.renew_deadline / 2);
  if (leading_) {
    const auto left = duration_cast<milliseconds>(valid_until_ - now);
    t = std::min(t, std::max(left, milliseconds(1)));
  }
  return t;
}

milliseconds Elector::holder_duration() const {
  // A Lease without leaseDurationSeconds would be "expired at once" for
  // client-go; assuming our own duration instead never shortens a holder's
  // term.
  const auto secs = observed_ ? observed_->spec().duration_secs : 0;
  return secs > 0 ? milliseconds(std::int64_t{secs} * 1000) : timings_.lease_duration;
}

SteadyTime Elector::backoff(SteadyTime now, const ApiError& error) const {
  auto wait = timings_.retry_period;
  if (error.retry_after) {
    wait = std::max(wait, duration_cast<milliseconds>(*error.retry_after));
  }
  return now + wait;
}

void Elector::publish() {
  ElectorState s;
  s.leading = leading_;
  if (leading_) {
    s.holder = identity_;
    s.holder_address = advertise_address_;
    s.uid = current_->uid();
    s.transitions = current_->spec().transitions;
    s.valid_until = valid_until_;
  } else if (observed_) {
    s.holder = observed_->spec().holder;
    s.holder_address = observed_->spec().holder_address;
  }
  const bool changed =
      !published_once_ || s.leading != published_.leading || s.holder != published_.holder ||
      s.holder_address != published_.holder_address || s.uid != published_.uid ||
      s.transitions != published_.transitions || s.valid_until != published_.valid_until;
  if (!changed) return;
  published_ = s;
  published_once_ = true;
  if (report_) report_(s);
}

void Elector::absorb(const Lease& lease, SteadyTime now) {
  // 2. Expiry is judged on our clock: restart it whenever the election's
  // fields (or the object's identity) change. renewTime is never trusted.
  if (!observed_ || observed_->uid() != lease.uid() || observed_->spec() != lease.spec()) {
    observed_at_ = now;
  }
  observed_ = lease;
  create_not_before_.reset();
}

void Elector::become_leader(const Lease& lease, SteadyTime sent) {
  const bool new_term = !leading_;
  leading_ = true;
  current_ = lease;
  observed_ = lease;
  valid_until_ = sent + timings_.renew_deadline;
  if (new_term) {
    log(kInfo, "became leader of lease " + api_.lease_namespace() + "/" + api_.lease_name() +
                   " (uid " + lease.uid() + ", transitions " +
                   std::to_string(lease.spec().transitions) + ")");
  }
  publish();
}

void Elector::step_down(const std::string& why, int level) {
  if (!leading_) return;
  leading_ = false;
  current_.reset();
  need_get_ = true;
  log(level, "stopped leading: " + why);
  publish();
}

SteadyTime Elector::step() {
  const SteadyTime now = clock_.steady();
  return leading_ ? step_leader(now) : step_follower(now);
}

SteadyTime Elector::step_follower(SteadyTime now) {
  // 1. Read the Lease unless the watch keeps our view fresh.
  if (stopping()) return now;
  if (need_get_ || !observed_.has_value() || (!watch_healthy_ && now >= next_poll_)) {
    const auto started = clock_.steady();
    LeaseResult r = api_.get(request_timeout(now));
    now = clock_.steady();
    next_poll_ = now + timings_.retry_period;
    if (r.ok()) {
      absorb(*r.lease, now);
      need_get_ = false;
    } else if (r.error.kind == ApiErrorKind::kNotFound) {
      if (observed_ && !observed_->spec().holder.empty()) {
        // Deleted while held: the holder may act until its term ends. A
        // read only shows the Lease at one instant: the holder may have
        // renewed after our last read (a missed poll, latency) and right
        // before the deletion, unseen, and whoever we saw last (even this
        // replica, in a term that has ended) may have been replaced unseen.
        // The deletion is the last change we saw: a full duration counts
        // from now, not from observed_at_.
        create_not_before_ = now + holder_duration();
      }
      observed_.reset();
      need_get_ = false;
    } else {
      log(r.error.kind == ApiErrorKind::kForbidden ? 3 : kWarn, r.error.message);
      if (events_.on_acquire_attempt) events_.on_acquire_attempt(false, now - started);
      return backoff(now, r.error);
    }
    publish();
  }

  // 2. No Lease: create it (transitions 0), unless a deleted holder's term
  // may still run.
  if (!observed_) {
    if (create_not_before_ && now < *create_not_before_) return *create_not_before_;
    LeaseSpec spec;
    spec.holder = identity_;
    spec.holder_address = advertise_address_;
    spec.duration_secs = static_cast<std::int32_t>(timings_.lease_duration.count() / 1000);
    spec.acquire_time = spec.renew_time = clock_.wall();
    spec.transitions = 0;
    if (stopping()) return now;
    const SteadyTime sent = clock_.steady();
    LeaseResult c = api_.create(spec, request_timeout(sent));
    now = clock_.steady();
    if (events_.on_acquire_attempt) events_.on_acquire_attempt(c.ok(), now - sent);
    if (c.ok()) {
      create_not_before_.reset();
      become_leader(*c.lease, sent);
      return sent + timings_.retry_period;
    }
    need_get_ = true;
    if (c.error.kind == ApiErrorKind::kAlreadyExists || c.error.kind == ApiErrorKind::kConflict) {
      if (events_.on_conflict) events_.on_conflict();
      log(kDebug, "create lost a race: " + c.error.message);
      return now;
    }
    log(c.error.kind == ApiErrorKind::kForbidden ? 3 : kWarn, c.error.message);
    return backoff(now, c.error);
  }

  // 3. Held by someone else and not expired on our clock: wait for expiry
  // (the watch wakes us earlier on any change).
  const LeaseSpec& seen = observed_->spec();
  if (!seen.holder.empty() && seen.holder != identity_) {
    const SteadyTime expires = observed_at_ + holder_duration();
    if (now < expires) {
      return watch_healthy_ ? expires : std::min(expires, next_poll_);
    }
    log(kInfo, "lease held by \"" + seen.holder + "\" expired on this replica's clock");
  }

  // 4. Acquire: a conditional update of what we read. Always a new term, so
  // leaseTransitions grows (client-go grows it when the holder changes).
  LeaseSpec spec;
  spec.holder = identity_;
  spec.holder_address = advertise_address_;
  spec.duration_secs = static_cast<std::int32_t>(timings_.lease_duration.count() / 1000);
  spec.acquire_time = spec.renew_time = clock_.wall();
  spec.transitions = seen.transitions + 1;
  if (stopping()) return now;
  const SteadyTime sent = clock_.steady();
  LeaseResult u = api_.update(*observed_, spec, request_timeout(sent));
  now = clock_.steady();
  if (events_.on_acquire_attempt) events_.on_acquire_attempt(u.ok(), now - sent);
  if (u.ok()) {
    become_leader(*u.lease, sent);
    return sent + timings_.retry_period;
  }
  need_get_ = true;
  if (u.error.kind == ApiErrorKind::kConflict) {
    if (events_.on_conflict) events_.on_conflict();
    log(kDebug, "acquire lost a race: " + u.error.message);
    return now;
  }
  log(u.error.kind == ApiErrorKind::kForbidden ? 3 : kWarn, u.error.message);
  return backoff(now, u.error);
}

SteadyTime Elector::step_leader(SteadyTime now) {
  // 5. A leader that could not renew within the renew deadline stops.
  if (now >= valid_until_) {
    step_down("no successful renewal within the renew deadline (" +
              std::to_string(timings_.renew_deadline.count()) + "ms)");
    return now;
  }
  LeaseSpec spec = current_->spec();
  spec.holder = identity_;
  spec.holder_address = advertise_address_;
  spec.duration_secs = static_cast<std::int32_t>(timings_.lease_duration.count() / 1000);
  spec.renew_time = clock_.wall();

  if (stopping()) return now;
  // 5b. The watch contradicted us: believe a fresh read, not the event.
  if (verify_) {
    verify_ = false;
    LeaseResult g = api_.get(request_timeout(now));
    if (g.ok()) {
      if (g.lease->spec().holder != identity_ || g.lease->uid() != current_->uid() ||
          g.lease->spec().transitions != current_->spec().transitions) {
        absorb(*g.lease, clock_.steady());
        step_down("the Lease is now held by \"" + g.lease->spec().holder + "\" (uid " +
                  g.lease->uid() + ", leaseTransitions " +
                  std::to_string(g.lease->spec().transitions) + ")");
        return clock_.steady();
      }
      current_ = *g.lease;
    } else if (g.error.kind == ApiErrorKind::kNotFound) {
      step_down("the Lease was deleted");
      observed_.reset();
      return clock_.steady();
    }
    now = clock_.steady();
    if (now >= valid_until_ || stopping()) return now;
  }
  // 6. Fast path: PUT with the cached resourceVersion, no GET.
  SteadyTime sent = clock_.steady();
  LeaseResult u = api_.update(*current_, spec, request_timeout(sent));
  if (!u.ok() && u.error.kind == ApiErrorKind::kNotFound) {
    step_down("the Lease was deleted");
    observed_.reset();
    return clock_.steady();
  }
  if (!u.ok() && u.error.kind == ApiErrorKind::kConflict && events_.on_conflict) {
    events_.on_conflict();
  }
  // 7. Any other failure: fresh GET, then PUT what we read, if time remains.
  if (!u.ok() && clock_.steady() < valid_until_ && !stopping()) {
    log(kDebug, "renew fast path failed: " + u.error.message);
    LeaseResult g = api_.get(request_timeout(clock_.steady()));
    if (g.ok()) {
      absorb(*g.lease, clock_.steady());
      // Still ours only if it is still our term: same holder, same object
      // and the same leaseTransitions. Renewing someone else's term (only
      // possible under a duplicate identity) would silently change the epoch
      // this leader reports in the middle of its term.
      if (g.lease->spec().holder != identity_ || g.lease->uid() != current_->uid()) {
        step_down("the Lease is now held by \"" + g.lease->spec().holder + "\"");
        return clock_.steady();
      }
      if (g.lease->spec().transitions != current_->spec().transitions) {
        step_down("the Lease shows another term under this identity (leaseTransitions " +
                  std::to_string(g.lease->spec().transitions) + ", ours " +
                  std::to_string(current_->spec().transitions) +
                  "): is another replica running with identity \"" + identity_ + "\"?");
        return clock_.steady();
      }
      LeaseSpec again = g.lease->spec();
      again.duration_secs = spec.duration_secs;
      again.renew_time = clock_.wall();
      if (clock_.steady() < valid_until_) {
        sent = clock_.steady();
        u = api_.update(*g.lease, again, request_timeout(sent));
      }
    } else if (g.error.kind == ApiErrorKind::kNotFound) {
      step_down("the Lease was deleted");
      observed_.reset();
      return clock_.steady();
    } else {
      u.error = g.error;
    }
  }
  now = clock_.steady();
  if (events_.on_renew) events_.on_renew(u.ok(), now - sent);
  if (u.ok()) {
    current_ = *u.lease;
    observed_ = *u.lease;
    valid_until_ = sent + timings_.renew_deadline;
    publish();
    return sent + timings_.retry_period;
  }
  log(u.error.kind == ApiErrorKind::kForbidden ? 3 : kWarn, "renew failed: " + u.error.message);
  if (now >= valid_until_) {
    step_down("no successful renewal within the renew deadline (" +
              std::to_string(timings_.renew_deadline.count()) + "ms)");
    return now;
  }
  // Retry before the validity deadline; wake at it at the latest to step down.
  return leader_retry_at(now, valid_until_, timings_.retry_period, u.error);
}

bool Elector::observe(const Lease& lease) {
  const SteadyTime now = clock_.steady();
  if (leading_) {
    if (lease.resource_version() == current_->resource_version()) return false;  // our echo
    if (lease.spec().holder != identity_ || lease.uid() != current_->uid()) {
      // Watch events can be older than our last write (a list taken before
      // it, a slow stream): check with a fresh read before stepping down.
      verify_ = true;
      return true;
    }
    return false;
  }
  absorb(lease, now);
  need_get_ = false;
  publish();
  // A released (or never held) Lease can be taken at once.
  return lease.spec().holder.empty();
}

bool Elector::observe_deleted() {
  const SteadyTime now = clock_.steady();
  if (leading_) {
    verify_ = true;  // the next step reads it: 404 means deleted
    return true;
  }
  if (observed_ && !observed_->spec().holder.empty() && observed_->spec().holder != identity_ &&
      now < observed_at_ + holder_duration()) {
    create_not_before_ = observed_at_ + holder_duration();
  }
  observed_.reset();
  need_get_ = false;
  publish();
  return true;
}

ReleaseOutcome Elector::release(SteadyTime deadline) {
  const bool was_leading = leading_;
  const std::optional<Lease> term = current_;  // the term to release
  step_down("shutting down", kInfo);
  if (!was_leading) return ReleaseOutcome::kNotHolder;
  // 8. Release only what a fresh read shows as ours; retry 409 with a fresh
  // read. client-go releases against a possibly stale record, which after a
  // healed partition can blank a new leader's Lease.
  while (clock_.steady() < deadline) {
    const auto left = [&] {
      return std::max(milliseconds(1), duration_cast<milliseconds>(deadline - clock_.steady()));
    };
    LeaseResult g = api_.get(std::min(request_timeout(clock_.steady()), left()));
    if (!g.ok()) {
      if (g.error.kind == ApiErrorKind::kNotFound) return ReleaseOutcome::kNotHolder;
      log(kWarn, "release: " + g.error.message);
      if (g.error.kind == ApiErrorKind::kForbidden) return ReleaseOutcome::kFailed;
      // A fast failure (connection refused) must not spin until the deadline.
      clock_.sleep_until(std::min(deadline, clock_.steady() + kReleaseRetryPause));
      continue;
    }
    absorb(*g.lease, clock_.steady());
    if (g.lease->spec().holder != identity_) {
      log(kInfo, "release: the Lease is held by \"" + g.lease->spec().holder +
                     "\" now; nothing to release");
      return ReleaseOutcome::kNotHolder;
    }
    if (g.lease->uid() != term->uid() || g.lease->spec().transitions != term->spec().transitions) {
      log(kWarn, "release: the Lease shows another term under this identity (uid " +
                     g.lease->uid() + ", leaseTransitions " +
                     std::to_string(g.lease->spec().transitions) + "); nothing to release");
      return ReleaseOutcome::kNotHolder;
    }
    LeaseSpec spec = g.lease->spec();
    spec.holder.clear();
    spec.duration_secs = 1;  // 0 is rejected by the API server
    spec.acquire_time = spec.renew_time = clock_.wall();
    LeaseResult u = api_.update(*g.lease, spec, std::min(request_timeout(clock_.steady()), left()));
    if (u.ok()) {
      absorb(*u.lease, clock_.steady());
      publish();
      log(kInfo, "released lease " + api_.lease_namespace() + "/" + api_.lease_name());
      return ReleaseOutcome::kReleased;
    }
    if (u.error.kind == ApiErrorKind::kConflict) {
      if (events_.on_conflict) events_.on_conflict();
      continue;
    }
    log(kWarn, "release: " + u.error.message);
    if (u.error.kind == ApiErrorKind::kForbidden || u.error.kind == ApiErrorKind::kNotFound) {
      return ReleaseOutcome::kFailed;
    }
    clock_.sleep_until(std::min(deadline, clock_.steady() + kReleaseRetryPause));
  }
  return ReleaseOutcome::kFailed;
}

}  // namespace pgdc::kube
