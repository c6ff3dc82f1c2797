#include "members/member_service.h"

#include <algorithm>
#include <utility>

#include "log/logger.h"
#include "members/target_choice.h"

namespace pgdc::members {
namespace {

constexpr std::string_view kLog = "members";
using SteadyClock = std::chrono::steady_clock;

std::string target_text(const std::optional<std::string>& to) {
  return to ? "to \"" + *to + "\"" : std::string("to the automatic target");
}

}  // namespace

// The leadership listener outlives the service (listeners are never
// removed): it reaches the service only through this, cleared on stop.
struct MemberService::Alive {
  std::mutex mutex;
  MemberService* service = nullptr;
};

MemberService::MemberService(MemberBackend& backend, LeadershipState& state, MemberMetrics* metrics,
                             MemberServiceOptions options)
    : backend_(backend),
      state_(state),
      metrics_(metrics),
      options_(std::move(options)),
      alive_(std::make_shared<Alive>()) {}

MemberService::~MemberService() { stop(); }

void MemberService::set_fenced(std::function<bool()> fenced) { fenced_ = std::move(fenced); }

Member MemberService::self_member(bool eligible) const {
  Member m = options_.self;
  m.eligible = eligible;
  m.heartbeat_age_ms = 0;
  m.stale = false;
  return m;
}

void MemberService::start() {
  {
    std::lock_guard lock(mutex_);
    if (running_ || stopping_) return;
    running_ = true;
  }
  sync_eligibility();
  {
    std::lock_guard lock(alive_->mutex);
    alive_->service = this;
  }
  std::weak_ptr<Alive> weak = alive_;
  state_.add_listener([weak](const LeadershipSnapshot&) {
    if (auto alive = weak.lock()) {
      std::lock_guard lock(alive->mutex);
      if (alive->service) alive->service->poke();
    }
  });
  worker_ = std::thread([this] { run(); });
}

void MemberService::poke() {
  std::lock_guard lock(mutex_);
  eligibility_dirty_ = true;
  cv_.notify_all();
}

void MemberService::sync_eligibility() {
  bool shutting_down = false;
  {
    std::lock_guard lock(mutex_);
    shutting_down = shutting_down_;
  }
  const bool fenced = fenced_ && fenced_();
  const bool eligible = !shutting_down && !fenced;
  if (!backend_.offers_publish()) return;
  std::lock_guard lock(backend_mutex_);
  if (backend_stopped_ || published_eligible_ == eligible) return;
  const CallResult r = backend_.publish(self_member(eligible));
  if (!r.ok()) {
    log::warn(kLog, "publishing this replica failed (tried again on the next change): " + r.error);
    return;
  }
  published_eligible_ = eligible;
  log::info(kLog, std::string("published this replica as ") +
                      (eligible        ? "eligible to lead"
                       : shutting_down ? "not eligible (shutting down)"
                                       : "not eligible (fenced by the state keeper)"));
}

void MemberService::begin_shutdown() {
  {
    std::lock_guard lock(mutex_);
    shutting_down_ = true;
  }
  sync_eligibility();
}

bool MemberService::stop_backend(const std::function<bool()>& stop) {
  std::lock_guard lock(backend_mutex_);
  backend_stopped_ = true;
  {
    std::lock_guard state_lock(mutex_);
    cache_.reset();  // from now on the list answers "shutting down"
  }
  return stop();
}

void MemberService::stop() {
  {
    std::lock_guard lock(alive_->mutex);
    alive_->service = nullptr;
  }
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (worker_.joinable()) worker_.join();
  std::lock_guard lock(mutex_);
  running_ = false;
}

void MemberService::enqueue(Task task) {
  tasks_.push_back(std::move(task));
  cv_.notify_all();
}

void MemberService::run() {
  std::unique_lock lock(mutex_);
  auto next_refresh = SteadyClock::now() + options_.first_refresh;
  auto next_check = SteadyClock::now() + options_.check_interval;
  bool first = true;
  for (;;) {
    cv_.wait_until(lock, std::min(next_refresh, next_check),
                   [&] { return !tasks_.empty() || stopping_ || eligibility_dirty_; });
    if (eligibility_dirty_) {
      eligibility_dirty_ = false;
      lock.unlock();
      sync_eligibility();
      lock.lock();
      continue;
    }
    if (!tasks_.empty()) {  // drained even when stopping: every caller is answered
      Task task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
      continue;
    }
    if (stopping_) return;
    const auto now = SteadyClock::now();
    if (now >= next_check) {
      next_check = now + options_.check_interval;
      eligibility_dirty_ = true;  // the fencing check, without a leadership change
    }
    if (now >= next_refresh) {
      next_refresh = now + options_.refresh_interval;
      // The gauges without a client asking: once at start, then by the leader.
      const bool leading = state_.snapshot().role == Role::kLeader;
      if ((first || leading) && !fetching_ && (!cache_ || now - cache_at_ >= options_.cache_ttl)) {
        fetching_ = true;
        enqueue([this] { fetch_and_deliver(); });
      }
      first = false;
    }
  }
}

MembersView MemberService::fetch() {
  MembersView v;
  v.members_supported = members_supported();
  v.switchover_supported = switchover_supported();
  bool shutting_down = false;
  {
    std::lock_guard lock(mutex_);
    shutting_down = shutting_down_;
  }
  if (!v.members_supported) {
    const bool fenced = fenced_ && fenced_();
    v.members.push_back(self_member(!shutting_down && !fenced));
  } else {
    std::lock_guard lock(backend_mutex_);
    if (backend_stopped_) {
      v.ok = false;
      v.error = "this replica is shutting down: its plugin is stopped";
      return v;
    }
    ListResult r = backend_.list(LeaseClock::now() + options_.list_timeout);
    if (!r.ok()) {
      v.ok = false;
      v.error = r.error;
      log::warn(kLog, "listing the members failed: " + r.error);
      return v;
    }
    v.members = std::move(r.members);
    const bool has_self = std::any_of(v.members.begin(), v.members.end(), [&](const Member& m) {
      return m.identity == options_.self.identity;
    });
    if (!has_self) {  // not yet published, or withdrawn: known locally anyway
      Member self = self_member(published_eligible_.value_or(false));
      self.heartbeat_age_ms = -1;
      v.members.push_back(std::move(self));
    }
  }
  std::sort(v.members.begin(), v.members.end(),
            [](const Member& a, const Member& b) { return a.identity < b.identity; });
  if (metrics_) metrics_->record_members(v.members);
  return v;
}

void MemberService::fetch_and_deliver() {
  MembersView v = fetch();
  std::vector<std::function<void(const MembersView&)>> waiters;
  {
    std::lock_guard lock(mutex_);
    // A failure is cached too: a backend in trouble is not asked more often.
    cache_ = v;
    cache_at_ = SteadyClock::now();
    fetching_ = false;
    waiters.swap(waiters_);
  }
  for (auto& w : waiters) w(v);
}

void MemberService::members(std::function<void(const MembersView&)> done) {
  std::optional<MembersView> cached;
  {
    std::lock_guard lock(mutex_);
    if (cache_ && SteadyClock::now() - cache_at_ < options_.cache_ttl) {
      cached = cache_;
    } else if (running_ && !stopping_) {
      waiters_.push_back(std::move(done));
      if (!fetching_) {
        fetching_ = true;
        enqueue([this] { fetch_and_deliver(); });
      }
      return;
    }
  }
  if (cached) {
    done(*cached);
    return;
  }
  done(fetch());  // no worker (not started, or stopped): on the caller's thread
}

void MemberService::switchover(std::optional<std::string> to, const Epoch& epoch,
                               const std::string& who,
                               std::function<void(const SwitchoverOutcome&)> done) {
  auto task = [this, to = std::move(to), epoch, who, done = std::move(done)] {
    SwitchoverOutcome out;
    out.from = options_.self.identity;
    out.epoch = epoch.str();
    run_switchover(to, epoch, who, out);
    if (metrics_) {
      metrics_->record_switchover(
          out.kind == SwitchoverOutcome::Kind::kOk       ? MemberMetrics::Result::kOk
          : out.kind == SwitchoverOutcome::Kind::kFailed ? MemberMetrics::Result::kFailed
                                                         : MemberMetrics::Result::kRefused);
    }
    const std::string asked = "switchover " + target_text(to) + " asked by " + who;
    if (out.kind == SwitchoverOutcome::Kind::kOk) {
      log::info(kLog, asked + ": handed over from \"" + out.from + "\" to \"" + out.to +
                          "\" (epoch " + out.epoch + ")");
    } else {
      log::warn(kLog, asked + ": not done: " + out.message);
    }
    done(out);
  };
  {
    std::lock_guard lock(mutex_);
    if (running_ && !stopping_ && !shutting_down_) {
      enqueue(std::move(task));
      return;
    }
  }
  SwitchoverOutcome out;
  out.from = options_.self.identity;
  out.epoch = epoch.str();
  out.message = "this replica is shutting down";
  if (metrics_) metrics_->record_switchover(MemberMetrics::Result::kFailed);
  log::warn(kLog, "switchover " + target_text(to) + " asked by " + who + ": " + out.message);
  done(out);
}

void MemberService::run_switchover(const std::optional<std::string>& to, const Epoch& epoch,
                                   const std::string&, SwitchoverOutcome& out) {
  using Kind = SwitchoverOutcome::Kind;
  if (!switchover_supported()) {
    out.kind = Kind::kUnsupported;
    out.message = "the coordination plugin offers no " +
                  std::string(backend_.offers_transfer() ? "members list" : "transfer") +
                  ", so leadership cannot be handed over on purpose";
    return;
  }
  // A fresh list: the target's eligibility is judged now, not a second ago.
  const MembersView v = fetch();
  if (!v.ok) {
    out.kind = Kind::kFailed;
    out.message = "could not list the members: " + v.error;
    return;
  }
  std::string target;
  if (to) {
    if (auto refusal = check_target(v.members, identity(), *to)) {
      out.kind = refusal->unknown ? Kind::kUnknownMember : Kind::kRefused;
      out.message = refusal->reason;
      return;
    }
    target = *to;
  } else {
    auto chosen = choose_target(v.members, identity());
    if (!chosen) {
      out.kind = Kind::kRefused;
      out.message = "no eligible, fresh member other than this replica";
      return;
    }
    target = chosen->identity;
  }
  const auto term = state_.current_term();
  if (!term || !(term->epoch == epoch)) {
    out.kind = Kind::kRefused;
    out.message = "this replica no longer leads in epoch " + epoch.str();
    return;
  }
  // Leader work stops here, and must have stopped, before the plugin writes
  // the handover: its target acts at once. (The plugin's FOLLOWER report
  // also revokes the term, but nothing could refuse the handover then.)
  if (!state_.yield_term(epoch)) {
    state_.resume_yielded(epoch);  // the same leader, its stuck work included
    out.kind = Kind::kFailed;
    out.message = "leader work of epoch " + epoch.str() +
                  " did not stop within the stop-work timeout (or the term ended): not "
                  "handing over";
    return;
  }
  CallResult r;
  {
    std::lock_guard lock(backend_mutex_);
    if (backend_stopped_) {
      out.kind = Kind::kFailed;
      out.message = "this replica is shutting down: its plugin is stopped";
      return;
    }
    r = backend_.transfer(target, LeaseClock::now() + options_.transfer_timeout);
    // Not handed over, and the plugin never reported FOLLOWER: it still
    // holds the term, so this replica leads on at once.
    if (!r.ok()) state_.resume_yielded(epoch);
  }
  {
    std::lock_guard lock(mutex_);
    cache_.reset();  // roles changed
  }
  if (r.ok()) {
    out.kind = Kind::kOk;
    out.to = target;
    return;
  }
  out.kind = r.status == CallResult::Status::kConflict ? Kind::kRefused : Kind::kFailed;
  out.message = "handover to \"" + target + "\" failed: " + r.error;
}

HandoverOutcome MemberService::shutdown_handover(LeaseTime deadline) {
  HandoverOutcome out;
  if (!switchover_supported()) {
    out.why = "the coordination plugin offers no handover";
    return out;
  }
  std::lock_guard lock(backend_mutex_);
  if (backend_stopped_) {
    out.why = "the plugin is already stopped";
    return out;
  }
  ListResult list = backend_.list(std::min(deadline, LeaseClock::now() + options_.list_timeout));
  if (!list.ok()) {
    out.why = "could not list the members: " + list.error;
    if (metrics_) metrics_->record_switchover(MemberMetrics::Result::kFailed);
    return out;
  }
  // The highest version first: during a rolling upgrade, an updated replica.
  const auto target = choose_target(list.members, identity());
  if (!target) {
    out.why = "no eligible, fresh member other than this replica";
    if (metrics_) metrics_->record_switchover(MemberMetrics::Result::kRefused);
    return out;
  }
  out.target = target->identity;
  out.newer = compare_versions(target->version, options_.self.version) > 0;
  const CallResult r = backend_.transfer(target->identity, deadline);
  out.handed_over = r.ok();
  if (!r.ok()) out.why = r.error;
  if (metrics_) {
    metrics_->record_switchover(r.ok() ? MemberMetrics::Result::kOk
                                : r.status == CallResult::Status::kConflict
                                    ? MemberMetrics::Result::kRefused
                                    : MemberMetrics::Result::kFailed);
  }
  return out;
}

}  // namespace pgdc::members
