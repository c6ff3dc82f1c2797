// Command polls: answering a node's GET /api/v2/commands now, or parking it
// until a command for it is issued, its wait ends, the term changes or this
// replica stops leading.
//  - answer(): the node's deliverable commands now; with none and a wait,
//    parks the poll (at most 4 per node; the oldest is answered empty);
//  - wake(): after an issue, re-polls the parked polls of its targets;
//  - on_leadership(): not ready any more -> every parked poll 503 not_leader
//    at once; a new epoch -> answered empty, so nodes poll again under it;
//  - stop(): every parked poll 503; later polls are answered 503 at once.
// Every poll is answered exactly once (LongPollHub's ownership rule).
// Thread-safety: every member from any thread. Held by shared_ptr so that a
// leadership listener can hold it weakly; it keeps alive what it uses.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/leader_gate.h"
#include "api/long_poll.h"
#include "fleet/fleet_store.h"
#include "leadership/leadership_state.h"

namespace pgdc::api {

class CommandPolls {
 public:
  // state must outlive this object.
  CommandPolls(std::shared_ptr<fleet::FleetStore> store, LeadershipState& state,
               std::shared_ptr<const GateOptions> gate);
  CommandPolls(const CommandPolls&) = delete;
  CommandPolls& operator=(const CommandPolls&) = delete;

  // Starts the timer, remembering the current epoch (polls parked later under
  // another one are answered empty when the epoch moves on).
  void start();
  void stop();

  // Answers `w` (deployment, node_id, after_seq, epoch set; respond unset)
  // through `respond`: at once when it has commands, an error, or no wait
  // (wait <= 0); otherwise parks it until now + wait.
  void answer(std::shared_ptr<PollWaiter> w, Respond respond, std::chrono::milliseconds wait);
  void wake(const std::string& deployment, const std::vector<std::string>& nodes);
  void on_leadership(const LeadershipSnapshot& snapshot);

  std::size_t parked() const { return hub_.parked(); }

 private:
  // The node's deliverable commands, an error, or nullopt for none yet.
  std::optional<HttpResponse> poll_now(const PollWaiter& w);
  HttpResponse not_leader() const;

  const std::shared_ptr<fleet::FleetStore> store_;
  LeadershipState& state_;
  const std::shared_ptr<const GateOptions> gate_;
  LongPollHub hub_;
  std::mutex epoch_mutex_;
  std::string last_epoch_;  // the epoch parked polls belong to; "" when not ready
};

}  // namespace pgdc::api
