#include "elector.h"

#include <algorithm>

namespace pgdc::kube {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr int kDebug = 0;
constexpr int kInfo = 1;
constexpr int kWarn = 2;
constexpr int kError = 3;
constexpr milliseconds kReleaseRetryPause{100};
// era is a uint32: the largest epoch a Lease can carry.
constexpr std::uint64_t kMaxEpoch = (std::uint64_t{0xffffffffu} << 31) + 0x7fffffffu;

// When a leader retries a failed renewal: halfway to its validity deadline
// (at most one retry period, at least min(1 s, retry period) later), never
// before a Retry-After the server asked for, and at the deadline at the
// latest, to step down. Waiting a full retry period instead would, with the
// default 15/10/5 s timings, land on the deadline itself: one failed round
// (a 429, a 401/403 blip, a refused connection) would cost leadership.
LeaseTime leader_retry_at(LeaseTime now, LeaseTime valid_until, milliseconds retry_period,
                          const ApiError& error) {
  const auto left = duration_cast<milliseconds>(valid_until - now);
  auto wait = std::clamp(left / 2, std::min(milliseconds(1000), retry_period), retry_period);
  if (error.retry_after) wait = std::max(wait, duration_cast<milliseconds>(*error.retry_after));
  return std::min(now + wait, valid_until);
}

std::string term_str(const Lease& lease) {
  return "uid " + lease.uid() + ", epoch " + std::to_string(lease.spec().epoch());
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

std::string_view handover_outcome_name(HandoverOutcome outcome) {
  switch (outcome) {
    case HandoverOutcome::kHandedOver:
      return "handed_over";
    case HandoverOutcome::kNotLeading:
      return "not_leading";
    case HandoverOutcome::kRefused:
      return "refused";
    case HandoverOutcome::kNotHolder:
      return "not_holder";
    case HandoverOutcome::kFailed:
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

milliseconds Elector::request_timeout(LeaseTime now) const {
  milliseconds t = std::max(milliseconds(1000), timings_.renew_deadline / 2);
  if (holding_) {
    const auto left = duration_cast<milliseconds>(valid_until_ - now);
    t = std::min(t, std::max(left, milliseconds(1)));
  }
  return t;
}

milliseconds Elector::holder_duration() const {
  // Never shorter than our own duration: leaseDurationSeconds is anyone's to
  // edit, and a holder configured like us may act for our renew deadline.
  // A longer one (another elector's setting) is honoured.
  const auto secs = observed_ ? observed_->spec().duration_secs : 0;
  return std::max(timings_.lease_duration, milliseconds(std::int64_t{secs} * 1000));
}

LeaseTime Elector::backoff(LeaseTime now, const ApiError& error) const {
  auto wait = timings_.retry_period;
  if (error.retry_after) {
    wait = std::max(wait, duration_cast<milliseconds>(*error.retry_after));
  }
  return now + wait;
}

bool Elector::outcome_unknown(const ApiError& error) {
  switch (error.kind) {
    case ApiErrorKind::kNotFound:
    case ApiErrorKind::kConflict:
    case ApiErrorKind::kAlreadyExists:
    case ApiErrorKind::kUnauthorized:
    case ApiErrorKind::kForbidden:
    case ApiErrorKind::kThrottled:
    case ApiErrorKind::kInvalid:
      return false;  // the server answered that it did not write
    default:
      return true;  // no answer, a 5xx (etcd may have committed), an unreadable 2xx
  }
}

void Elector::publish() {
  ElectorState s;
  s.leading = holding_ && clock_.steady() >= act_from_;
  if (s.leading) {
    s.holder = identity_;
    s.holder_address = advertise_address_;
    s.uid = current_->uid();
    s.epoch = current_->spec().epoch();
    s.valid_until = valid_until_;
  } else if (holding_) {
    // Ours, but not acting yet: clients may as well wait here.
    s.holder = identity_;
    s.holder_address = advertise_address_;
  } else if (observed_) {
    s.holder = observed_->spec().holder;
    s.holder_address = observed_->spec().holder_address;
  }
  const bool changed = !published_once_ || s.leading != published_.leading ||
                       s.holder != published_.holder ||
                       s.holder_address != published_.holder_address || s.uid != published_.uid ||
                       s.epoch != published_.epoch || s.valid_until != published_.valid_until;
  acting_ = s.leading;
  if (!changed) return;
  published_ = s;
  published_once_ = true;
  if (report_) report_(s);
}

void Elector::absorb(const Lease& lease, LeaseTime now) {
  // 2. Expiry is judged on our clock: restart it whenever the election's
  // fields (or the object's identity) change. renewTime is never trusted,
  // and annotations or labels alone are not a renewal.
  if (!observed_ || observed_->uid() != lease.uid() ||
      !same_election(observed_->spec(), lease.spec())) {
    observed_at_ = now;
  }
  observed_ = lease;
  recreate_.reset();  // someone else's Lease since: the deletion is old news
}

Elector::Claim Elector::claim_of(const Lease& lease, LeaseTime* act_from) const {
  if (lease.released()) {
    // A handover release is taken at once only by the replica it names;
    // for everyone else it is held: waited out a full duration from when
    // they saw it, so the preferred holder has that long to take it.
    const std::string& preferred = lease.spec().preferred_holder;
    return preferred.empty() || preferred == identity_ ? Claim::kReleased : Claim::kHeld;
  }
  const LeaseSpec& s = lease.spec();
  if (s.holder != identity_) return Claim::kHeld;
  const auto ours = [&](const std::optional<OwnTerm>& t) {
    if (!t || t->epoch != s.epoch()) return false;
    if (!t->uid.empty()) return t->uid == lease.uid();
    return t->renew_time.has_value() && t->renew_time == s.renew_time;  // our create, unanswered
  };
  for (const auto* t : {&own_term_, &pending_}) {
    if (ours(*t)) {
      if (act_from != nullptr) *act_from = (*t)->act_from;
      return Claim::kOwn;
    }
  }
  // Our identity in a term we did not write: a previous process (or a
  // duplicate) with this identity. Its term is waited out like anyone's.
  return Claim::kHeld;
}

LeaseSpec Elector::own_spec(const LeaseSpec& base) {
  LeaseSpec spec = base;
  spec.holder = identity_;
  spec.holder_address = advertise_address_;
  spec.duration_secs = static_cast<std::int32_t>(timings_.lease_duration.count() / 1000);
  spec.released.reset();
  // A write naming a holder ends any preference (lease.cpp also removes it
  // from the object): it cannot linger into a later release.
  spec.preferred_holder.clear();
  // Every write must change the spec: an update that changes nothing is not
  // stored, and followers would take a live holder for a dead one. So
  // renewTime strictly grows, even under a frozen or stepped-back wall clock.
  WallTime t = std::chrono::floor<std::chrono::microseconds>(clock_.wall());
  if (base.renew_time) {
    const WallTime floor_base = std::chrono::floor<std::chrono::microseconds>(*base.renew_time);
    if (t <= floor_base) t = floor_base + std::chrono::microseconds(1);
  }
  spec.renew_time = t;
  return spec;
}

void Elector::become_holder(const Lease& lease, LeaseTime sent, LeaseTime act_from) {
  const bool new_term = !holding_;
  holding_ = true;
  current_ = lease;
  observed_ = lease;
  observed_at_ = clock_.steady();
  act_from_ = act_from;
  valid_until_ = sent + timings_.renew_deadline;
  next_renew_ = sent + timings_.retry_period;
  own_term_ = OwnTerm{lease.uid(), lease.spec().epoch(), lease.spec().renew_time, act_from};
  pending_.reset();
  recreate_.reset();
  if (new_term) {
    const auto wait = duration_cast<milliseconds>(act_from - clock_.steady());
    log(kInfo, "became leader of lease " + api_.lease_namespace() + "/" + api_.lease_name() + " (" +
                   term_str(lease) + ")" +
                   (wait > milliseconds(0)
                        ? "; acting in " + std::to_string(wait.count()) +
                              "ms, once no earlier holder of a Lease this replica did not see "
                              "can still be valid"
                        : std::string()));
  }
  publish();
}

LeaseTime Elector::next_holder_step() const {
  return acting_ ? next_renew_ : std::min(next_renew_, act_from_);
}

void Elector::step_down(const std::string& why, int level, const Lease* fresh) {
  if (!holding_) return;
  holding_ = false;
  current_.reset();
  need_get_ = true;
  // Without a fresh read, our view of the Lease is our own last write: until
  // the next read it names nobody, since naming ourselves would send clients
  // back to the replica that just lost.
  observed_.reset();
  if (fresh != nullptr) {
    absorb(*fresh, clock_.steady());
    need_get_ = false;
  }
  log(level, "stopped leading: " + why);
  publish();
}

LeaseTime Elector::step() {
  const LeaseTime now = clock_.steady();
  wake_at_ = holding_ ? step_leader(now) : step_follower(now);
  return wake_at_;
}

LeaseTime Elector::step_follower(LeaseTime now) {
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
      observed_.reset();
      need_get_ = false;
    } else {
      log(r.error.kind == ApiErrorKind::kForbidden ? kError : kWarn, r.error.message);
      if (events_.on_acquire_attempt) events_.on_acquire_attempt(false, now - started);
      return backoff(now, r.error);
    }
    publish();
  }

  // Not eligible: keep observing, never acquire.
  if (!eligible_) return now + timings_.retry_period;

  // 2. No Lease: create it at once, and act only a full duration after
  // sending the create: it may have been deleted an instant ago while its
  // holder was valid, and a deletion leaves no trace of who that was.
  if (!observed_) return acquire(now, std::nullopt, {});

  // 3. Held (by someone else, or by this identity in a term we did not
  // write, or blank without a release marker): wait for expiry on our clock
  // (the watch wakes us earlier on any change).
  LeaseTime own_act_from{};
  const Claim claim = claim_of(*observed_, &own_act_from);
  // Our create whose answer never came: it was applied at the latest now.
  if (claim == Claim::kOwn && own_act_from == LeaseTime::max()) {
    own_act_from = now + timings_.lease_duration;
  }
  if (claim == Claim::kHeld) {
    const LeaseTime expires = observed_at_ + holder_duration();
    if (now < expires) {
      return watch_healthy_ ? expires : std::min(expires, next_poll_);
    }
    const std::string& holder = observed_->spec().holder;
    log(kInfo, observed_->released()
                   ? "lease handed over to \"" + observed_->spec().preferred_holder +
                         "\", who did not take it within the lease duration, expired on this "
                         "replica's clock"
               : holder.empty()
                   ? "lease without a holder (and no release marker of its term) "
                     "expired on this replica's clock"
                   : "lease held by \"" + holder + "\" expired on this replica's clock");
  }

  // 4. Acquire: a conditional update of what we read. A term of our own
  // keeps its acting time (a create's wait is not cut short by retaking it).
  return acquire(now, observed_, claim == Claim::kOwn ? own_act_from : LeaseTime{});
}

LeaseTime Elector::acquire(LeaseTime now, const std::optional<Lease>& base, LeaseTime act_from) {
  // A create acts a full duration after it was applied: the Lease may have
  // been deleted an instant before, while its holder was valid, and a
  // deletion leaves no trace of who that was. The answer bounds when it was
  // applied; without an answer, the read that finds it does (step 3).
  // Always a new term, so the epoch grows (client-go grows leaseTransitions
  // when the holder changes); past leaseTransitions' maximum the era does.
  LeaseSpec spec = own_spec(base ? base->spec() : LeaseSpec{});
  spec.acquire_time = spec.renew_time;
  if (base) {
    const std::uint64_t epoch = base->spec().epoch();
    if (epoch >= kMaxEpoch) {
      log(kError, "the Lease's epoch " + std::to_string(epoch) +
                      " is at its maximum and cannot grow; delete the Lease to start a new one");
      need_get_ = true;
      return now + timings_.retry_period;
    }
    spec.set_epoch(epoch + 1);
  } else {
    // A leader's epoch is >= 1 (plugin.h): a created Lease starts its first
    // term at leaseTransitions 1 (client-go starts at 0 and only ever adds
    // one, so epochs keep growing between the two).
    spec.set_epoch(1);
  }
  // Recorded before sending: if the answer never comes, a later read of
  // this very term is still recognised as ours.
  pending_ = OwnTerm{base ? base->uid() : std::string(), spec.epoch(), spec.renew_time,
                     base ? act_from : LeaseTime::max()};
  if (stopping()) return now;
  const LeaseTime sent = clock_.steady();
  LeaseResult w = base ? api_.update(*base, spec, request_timeout(sent))
                       : api_.create(spec, request_timeout(sent));
  now = clock_.steady();
  if (events_.on_acquire_attempt) events_.on_acquire_attempt(w.ok(), now - sent);
  if (w.ok()) {
    if (!base) {
      // Recreating our own deleted Lease keeps the old term's acting time,
      // if the new one exists before the old term ended: until then nobody
      // else can have acted since the deletion (they would have created a
      // Lease, which ours replaced, and waited a duration).
      act_from = recreate_ && now < recreate_->before ? std::max(sent, recreate_->act_from)
                                                      : now + timings_.lease_duration;
    }
    become_holder(*w.lease, sent, act_from);
    return next_holder_step();
  }
  if (!outcome_unknown(w.error)) pending_.reset();
  need_get_ = true;
  if (w.error.kind == ApiErrorKind::kAlreadyExists || w.error.kind == ApiErrorKind::kConflict) {
    if (events_.on_conflict) events_.on_conflict();
    log(kDebug, std::string(base ? "acquire" : "create") + " lost a race: " + w.error.message);
    return now;
  }
  log(w.error.kind == ApiErrorKind::kForbidden ? kError : kWarn, w.error.message);
  return backoff(now, w.error);
}

LeaseTime Elector::step_leader(LeaseTime now) {
  // 5. A holder that could not renew within the renew deadline stops.
  if (now >= valid_until_) {
    step_down("no successful renewal within the renew deadline (" +
              std::to_string(timings_.renew_deadline.count()) + "ms)");
    return now;
  }
  if (stopping()) return now;
  // Woken to start acting (or early): nothing to write yet.
  if (!verify_ && now < next_renew_) {
    publish();
    return next_holder_step();
  }
  // A 404 for our own valid term: nobody else can have held the Lease since
  // our last renewal (they would have waited out our term), so the new
  // Lease may act as soon as this term could (and it is the only 404 that
  // allows that).
  const auto deleted = [this] {
    const Recreate recreate{act_from_, valid_until_};
    step_down("the Lease was deleted");
    recreate_ = recreate;
    return clock_.steady();
  };
  const auto other_term = [this](const Lease& seen) {
    // Same holder and uid, another epoch: a duplicate identity, or an edit.
    step_down("the Lease's epoch changed under this replica's term (" + term_str(seen) + ", ours " +
                  std::to_string(current_->spec().epoch()) + "): another replica with identity \"" +
                  identity_ + "\", or an edit by hand; the new term is waited out",
              kWarn, &seen);
  };
  // 5b. The watch contradicted us: believe a fresh read, not the event.
  if (verify_) {
    verify_ = false;
    LeaseResult g = api_.get(request_timeout(now));
    if (g.ok()) {
      if (g.lease->spec().holder != identity_ || g.lease->uid() != current_->uid()) {
        step_down("the Lease is now held by \"" + g.lease->spec().holder + "\" (" +
                      term_str(*g.lease) + ")",
                  kWarn, &*g.lease);
        return clock_.steady();
      }
      if (g.lease->spec().epoch() != current_->spec().epoch()) {
        other_term(*g.lease);
        return clock_.steady();
      }
      current_ = *g.lease;
    } else if (g.error.kind == ApiErrorKind::kNotFound) {
      return deleted();
    }
    now = clock_.steady();
    if (now >= valid_until_ || stopping()) return now;
    if (now < next_renew_) {
      publish();
      return next_holder_step();
    }
  }
  // 6. Fast path: PUT with the cached resourceVersion, no GET.
  LeaseSpec spec = own_spec(current_->spec());
  LeaseTime sent = clock_.steady();
  LeaseResult u = api_.update(*current_, spec, request_timeout(sent));
  if (!u.ok() && u.error.kind == ApiErrorKind::kNotFound) return deleted();
  if (!u.ok() && u.error.kind == ApiErrorKind::kConflict && events_.on_conflict) {
    events_.on_conflict();
  }
  // 7. Any other failure: fresh GET, then PUT what we read, if time remains.
  if (!u.ok() && clock_.steady() < valid_until_ && !stopping()) {
    log(kDebug, "renew fast path failed: " + u.error.message);
    LeaseResult g = api_.get(request_timeout(clock_.steady()));
    if (g.ok()) {
      // Still ours only if it is still our term: same holder, same object
      // and the same epoch. Renewing someone else's term (only possible
      // under a duplicate identity) would silently change the epoch this
      // leader reports in the middle of its term.
      if (g.lease->spec().holder != identity_ || g.lease->uid() != current_->uid()) {
        step_down("the Lease is now held by \"" + g.lease->spec().holder + "\"", kWarn, &*g.lease);
        return clock_.steady();
      }
      if (g.lease->spec().epoch() != current_->spec().epoch()) {
        other_term(*g.lease);
        return clock_.steady();
      }
      const LeaseSpec again = own_spec(g.lease->spec());
      if (clock_.steady() < valid_until_) {
        sent = clock_.steady();
        u = api_.update(*g.lease, again, request_timeout(sent));
        if (!u.ok() && u.error.kind == ApiErrorKind::kNotFound) return deleted();
      }
    } else if (g.error.kind == ApiErrorKind::kNotFound) {
      return deleted();
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
    next_renew_ = sent + timings_.retry_period;
    publish();
    return next_holder_step();
  }
  log(u.error.kind == ApiErrorKind::kForbidden ? kError : kWarn,
      "renew failed: " + u.error.message);
  if (now >= valid_until_) {
    step_down("no successful renewal within the renew deadline (" +
              std::to_string(timings_.renew_deadline.count()) + "ms)");
    return now;
  }
  // Retry before the validity deadline; wake at it at the latest to step down.
  next_renew_ = leader_retry_at(now, valid_until_, timings_.retry_period, u.error);
  publish();
  return next_holder_step();
}

bool Elector::observe(const Lease& lease) {
  const LeaseTime now = clock_.steady();
  if (holding_) {
    if (lease.resource_version() == current_->resource_version()) return false;  // our echo
    if (lease.spec().holder != identity_ || lease.uid() != current_->uid() ||
        lease.spec().epoch() != current_->spec().epoch()) {
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
  // A recognised release, or our own term, can be taken at once; and a
  // holder whose term now ends earlier than the runner was told to wake (an
  // edit that shortened leaseDurationSeconds) must not be waited for longer.
  if (claim_of(lease) != Claim::kHeld) return true;
  return observed_at_ + holder_duration() < wake_at_;
}

bool Elector::observe_deleted() {
  if (holding_) {
    verify_ = true;  // the next step reads it: 404 means deleted
    return true;
  }
  observed_.reset();
  need_get_ = false;
  publish();
  return true;
}

ReleaseOutcome Elector::release(LeaseTime deadline) {
  const bool was_holding = holding_;
  step_down("shutting down", kInfo);
  // Nothing to release unless we wrote a term: one we hold, or one whose
  // acquiring write's outcome we never learned (SIGTERM cancelled it).
  if (!was_holding && !own_term_ && !pending_) return ReleaseOutcome::kNotHolder;
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
    LeaseTime act_from{};
    if (claim_of(*g.lease, &act_from) != Claim::kOwn) {
      if (g.lease->spec().holder != identity_) {
        log(kInfo, "release: the Lease is held by \"" + g.lease->spec().holder +
                       "\" now; nothing to release");
      } else {
        log(kWarn, "release: the Lease names this identity in a term this process did not write (" +
                       term_str(*g.lease) + "); nothing to release");
      }
      return ReleaseOutcome::kNotHolder;
    }
    LeaseSpec spec = own_spec(g.lease->spec());
    spec.holder.clear();
    spec.holder_address.clear();
    spec.duration_secs = 1;  // 0 is rejected by the API server
    spec.acquire_time = spec.renew_time;
    // The marker lets the next holder act at once. A term that had not
    // begun to act (a create still waiting out an unseen earlier holder)
    // cannot vouch for that: released without it, it is waited out.
    if (act_from <= clock_.steady()) {
      spec.released = ReleasedTerm{identity_, g.lease->uid(), g.lease->spec().epoch()};
    }
    LeaseResult u = api_.update(*g.lease, spec, std::min(request_timeout(clock_.steady()), left()));
    if (u.ok()) {
      absorb(*u.lease, clock_.steady());
      own_term_.reset();
      pending_.reset();
      publish();
      log(kInfo, "released lease " + api_.lease_namespace() + "/" + api_.lease_name() + " (" +
                     term_str(*u.lease) + ")");
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
