// The daemon's side of members and switchover (docs/architecture.md,
// "Members"): publishes this replica through the backend, answers the
// members list, runs switchovers and the shutdown handover.
//
// Invariants
//  - Every backend call (publish, list, transfer) and the plugin's stop()
//    (stop_backend) run under one mutex: a transfer never overlaps stop() or
//    another transfer, and nothing reaches the backend after stop_backend.
//  - Published eligibility = not shutting down and not fenced (the state
//    keeper's verdict, polled on every leadership change and refresh);
//    republished whenever it changes.
//  - members(): a list younger than cache_ttl is answered from the cache;
//    callers arriving while a list is being fetched wait for that one fetch,
//    so however often clients poll, the backend sees at most one list per
//    cache_ttl (plus switchovers' own fresh lists).
//  - A switchover runs on the worker thread, never inside the caller's
//    leader-work guard: the plugin's FOLLOWER report ends the term, which
//    waits for in-flight leader work.
//
// Life cycle: construct; set_fenced; start() after the plugin started;
// begin_shutdown() when shutdown begins; shutdown_handover() / stop_backend()
// from the shutdown path; stop() (also in the destructor). Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "leadership/leadership_state.h"
#include "members/member_backend.h"
#include "members/member_metrics.h"
#include "members/members_json.h"

namespace pgdc::members {

struct MemberServiceOptions {
  Member self;  // identity, address, version, backend (eligible is computed)
  std::chrono::milliseconds cache_ttl{1000};
  std::chrono::milliseconds list_timeout{2000};
  std::chrono::milliseconds transfer_timeout{5000};
  // How often the fencing verdict is checked without a leadership change
  // (local: no backend call).
  std::chrono::milliseconds check_interval{5000};
  // How often the leader lists the members (and so refreshes the gauges)
  // without a client asking. Followers list only when asked, and once at
  // start: every periodic list is a request to the backend (a LIST on the
  // API server), and one replica's view is the whole fleet's.
  std::chrono::milliseconds refresh_interval{30000};
  // The first refresh after start(), so the gauges are right from the start.
  std::chrono::milliseconds first_refresh{0};
};

struct SwitchoverOutcome {
  enum class Kind { kOk, kUnknownMember, kRefused, kUnsupported, kFailed };
  Kind kind = Kind::kFailed;
  std::string from, to, epoch;  // kOk: old leader, target, old epoch
  std::string message;          // otherwise: why, one line
};

struct HandoverOutcome {
  bool handed_over = false;
  std::string target;  // the member chosen, if any
  bool newer = false;  // the target runs a newer version than this replica
  std::string why;     // when not handed over: why not
};

class MemberService {
 public:
  // backend and state must outlive the service; metrics may be null.
  MemberService(MemberBackend& backend, LeadershipState& state, MemberMetrics* metrics,
                MemberServiceOptions options);
  ~MemberService();
  MemberService(const MemberService&) = delete;
  MemberService& operator=(const MemberService&) = delete;

  // Whether this replica is fenced (state keeper); before start().
  void set_fenced(std::function<bool()> fenced);
  // Publishes this replica (eligible unless shutting down or fenced) and
  // starts the worker (refresher, list fetches, switchovers).
  void start();
  // Publishes this replica as not eligible, at once; permanent.
  void begin_shutdown();
  // Runs the plugin's stop() under the backend mutex (after any transfer or
  // list in progress); no backend call follows. Returns stop's result.
  bool stop_backend(const std::function<bool()>& stop);
  // Ends the worker; pending requests are answered first.
  void stop();

  const std::string& identity() const { return options_.self.identity; }
  bool members_supported() const { return backend_.offers_list(); }
  bool switchover_supported() const { return backend_.offers_list() && backend_.offers_transfer(); }

  // done runs once, on the caller's thread (cached) or the worker's.
  void members(std::function<void(const MembersView&)> done);
  // A switchover away from this replica, leading in `epoch`. to: nullopt for
  // the automatic target. who: the requester, for the log. done runs once,
  // on the worker thread (or the caller's when refused at once).
  void switchover(std::optional<std::string> to, const Epoch& epoch, const std::string& who,
                  std::function<void(const SwitchoverOutcome&)> done);
  // The shutdown handover (leader work already stopped): transfer to the
  // automatic target (the newest version first) by `deadline`. Not handed
  // over: the caller releases as usual.
  HandoverOutcome shutdown_handover(LeaseTime deadline);

 private:
  struct Alive;
  using Task = std::function<void()>;

  void run();
  void enqueue(Task task);
  void poke();  // re-check eligibility soon (a leadership change)
  void sync_eligibility();
  MembersView fetch();  // one list from the backend (or self only), gauges recorded
  void fetch_and_deliver();
  Member self_member(bool eligible) const;
  void run_switchover(const std::optional<std::string>& to, const Epoch& epoch,
                      const std::string& who, SwitchoverOutcome& out);

  MemberBackend& backend_;
  LeadershipState& state_;
  MemberMetrics* const metrics_;
  const MemberServiceOptions options_;
  std::function<bool()> fenced_;
  std::shared_ptr<Alive> alive_;  // the leadership listener's way in

  // Every backend call and stop_backend; then mutex_ if both (never the reverse).
  std::mutex backend_mutex_;
  bool backend_stopped_ = false;            // under backend_mutex_
  std::optional<bool> published_eligible_;  // under backend_mutex_

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  bool running_ = false;
  bool stopping_ = false;
  bool shutting_down_ = false;
  bool eligibility_dirty_ = false;
  bool fetching_ = false;
  std::optional<MembersView> cache_;
  std::chrono::steady_clock::time_point cache_at_{};
  std::vector<std::function<void(const MembersView&)>> waiters_;
  std::thread worker_;
};

}  // namespace pgdc::members
