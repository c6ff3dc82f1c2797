// Elector::handover: the Lease side of a switchover (ABI 1.4 transfer).
//
// Why it never makes two leaders: the old leader reports FOLLOWER (the host
// stops leader work) before it writes anything; the write is conditional on
// its own term, so it lands only if nobody else wrote since; and the only
// replica that may act on it at once is the one it names, with its own
// conditional write in a new term (epoch + 1). Everybody else treats the
// release as a holder and waits a full lease duration from when they saw it.
#include <algorithm>

#include "elector.h"

namespace pgdc::kube {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr int kInfo = 1;
constexpr int kWarn = 2;
constexpr milliseconds kRetryPause{100};

}  // namespace

HandoverOutcome Elector::handover(const std::string& target, LeaseTime deadline) {
  // Refusals first: nothing is reported or written for them.
  if (target.empty() || target == identity_) {
    log(kWarn, "handover refused: the target must be another replica, got \"" + target + "\"");
    return HandoverOutcome::kRefused;
  }
  if (!holding_ || !acting_ || !current_ || clock_.steady() >= valid_until_) {
    log(kInfo, "handover to \"" + target + "\" refused: this replica is not leading");
    return HandoverOutcome::kNotLeading;
  }
  const Lease term = *current_;
  const std::string uid = term.uid();
  const std::uint64_t epoch = term.spec().epoch();

  // 1. Leader work stops first: the report returns once the host stopped it.
  step_down("handing the Lease over to \"" + target + "\" (" + "uid " + uid + ", epoch " +
                std::to_string(epoch) + ")",
            kInfo);

  // 2. One conditional update of this term. The fast path uses our last
  // write; after a 409 or an unknown outcome, a fresh read decides.
  std::optional<Lease> base = term;
  bool unknown = false;  // an earlier attempt may have been applied
  // Each request gets at most half the time left: an unanswered write
  // leaves time for the read that finds out whether it landed.
  const auto left = [&] {
    return std::max(milliseconds(1), duration_cast<milliseconds>(deadline - clock_.steady()) / 2);
  };
  const auto pause = [&] { clock_.sleep_until(std::min(deadline, clock_.steady() + kRetryPause)); };
  while (clock_.steady() < deadline) {
    if (!base) {
      LeaseResult g = api_.get(std::min(request_timeout(clock_.steady()), left()));
      if (!g.ok()) {
        log(kWarn, "handover: " + g.error.message);
        if (g.error.kind == ApiErrorKind::kNotFound || g.error.kind == ApiErrorKind::kForbidden) {
          return HandoverOutcome::kFailed;  // deleted under us, or RBAC: nothing handed over
        }
        pause();
        continue;
      }
      absorb(*g.lease, clock_.steady());
      need_get_ = false;
      publish();
      const Lease& seen = *g.lease;
      const LeaseSpec& s = seen.spec();
      const bool same_object = seen.uid() == uid;
      if (same_object && seen.released() && s.epoch() == epoch && s.released->holder == identity_ &&
          s.preferred_holder == target) {
        // An attempt whose answer was lost did land.
        own_term_.reset();
        pending_.reset();
        log(kInfo, "handed the Lease over to \"" + target + "\" (uid " + uid + ", epoch " +
                       std::to_string(epoch) + "; found on a fresh read)");
        return HandoverOutcome::kHandedOver;
      }
      if (unknown && same_object && s.holder == target && s.epoch() == epoch + 1) {
        // Landed, and the target already took it in the next term.
        own_term_.reset();
        pending_.reset();
        log(kInfo, "handed the Lease over to \"" + target + "\", who already took it (epoch " +
                       std::to_string(s.epoch()) + ")");
        return HandoverOutcome::kHandedOver;
      }
      if (s.holder != identity_ || !same_object || s.epoch() != epoch) {
        log(kWarn, "handover: the Lease is no longer in this replica's term (holder \"" + s.holder +
                       "\", uid " + seen.uid() + ", epoch " + std::to_string(s.epoch()) + ")");
        return unknown ? HandoverOutcome::kFailed : HandoverOutcome::kNotHolder;
      }
      base = seen;
    }
    LeaseSpec spec = own_spec(base->spec());
    spec.holder.clear();
    spec.holder_address.clear();
    spec.duration_secs = 1;  // 0 is rejected by the API server
    spec.acquire_time = spec.renew_time;
    spec.released = ReleasedTerm{identity_, uid, epoch};
    spec.preferred_holder = target;
    LeaseResult u = api_.update(*base, spec, std::min(request_timeout(clock_.steady()), left()));
    base.reset();
    if (u.ok()) {
      absorb(*u.lease, clock_.steady());
      need_get_ = false;
      own_term_.reset();
      pending_.reset();
      publish();
      log(kInfo, "handed the Lease over to \"" + target + "\" (uid " + uid + ", epoch " +
                     std::to_string(epoch) + ")");
      return HandoverOutcome::kHandedOver;
    }
    if (u.error.kind == ApiErrorKind::kConflict) {
      if (events_.on_conflict) events_.on_conflict();
      continue;  // re-read: still our term, or someone else's
    }
    log(kWarn, "handover: " + u.error.message);
    if (outcome_unknown(u.error)) {
      unknown = true;
    } else if (u.error.kind != ApiErrorKind::kThrottled) {
      // Definitely not written (403, 404, 422, 401): the term is still ours
      // on the server, and the next step takes it back in a NEW term.
      return HandoverOutcome::kFailed;
    }
    pause();
  }
  log(kWarn, std::string("handover to \"") + target + "\" did not finish before its deadline" +
                 (unknown ? " (the outcome of a write is unknown)" : ""));
  return HandoverOutcome::kFailed;
}

}  // namespace pgdc::kube
