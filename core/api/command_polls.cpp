#include "api/command_polls.h"

#include "api/responses.h"
#include "log/logger.h"

namespace pgdc::api {
namespace {

constexpr std::string_view kLog = "api";
constexpr std::size_t kMaxPollsPerNode = 4;

}  // namespace

CommandPolls::CommandPolls(std::shared_ptr<fleet::FleetStore> store, LeadershipState& state,
                           std::shared_ptr<const GateOptions> gate)
    : store_(std::move(store)),
      state_(state),
      gate_(std::move(gate)),
      hub_(
          kMaxPollsPerNode, [](const PollWaiter& w) { return poll_response(w.epoch, {}); },
          [this](const PollWaiter&) { return not_leader(); }) {}

void CommandPolls::start() {
  {
    std::lock_guard lock(epoch_mutex_);
    if (auto term = state_.current_term()) last_epoch_ = term->epoch.str();
  }
  hub_.start();
}

void CommandPolls::stop() { hub_.stop(); }

HttpResponse CommandPolls::not_leader() const {
  return not_leader_response(state_.snapshot(), gate_->retry_after_secs);
}

std::optional<HttpResponse> CommandPolls::poll_now(const PollWaiter& w) {
  std::vector<fleet::PolledCommand> out;
  const auto status = store_->poll(w.deployment, w.node_id, w.after_seq, w.epoch, out);
  if (status != fleet::FleetStatus::kOk)
    return fleet_error(status, w.deployment, w.node_id, store_->options());
  if (out.empty()) return std::nullopt;
  return poll_response(w.epoch, out);
}

void CommandPolls::answer(std::shared_ptr<PollWaiter> w, Respond respond,
                          std::chrono::milliseconds wait) {
  if (auto r = poll_now(*w)) {
    respond(std::move(*r));
    return;
  }
  if (wait <= std::chrono::milliseconds::zero()) {
    respond(poll_response(w->epoch, {}));
    return;
  }
  w->deadline = std::chrono::steady_clock::now() + wait;
  w->respond = std::move(respond);
  if (!hub_.park(w)) w->respond(not_leader());
}

void CommandPolls::wake(const std::string& deployment, const std::vector<std::string>& nodes) {
  for (auto& w : hub_.take(deployment, nodes)) {
    if (auto r = poll_now(*w)) {
      w->respond(std::move(*r));
    } else if (!hub_.park(w)) {
      w->respond(not_leader());
    }
  }
}

void CommandPolls::on_leadership(const LeadershipSnapshot& s) {
  const std::string epoch = s.ready ? s.epoch.str() : std::string();
  {
    std::lock_guard lock(epoch_mutex_);
    if (s.ready && epoch == last_epoch_) return;
    last_epoch_ = epoch;
  }
  auto waiters = hub_.take_all();
  if (waiters.empty()) return;
  if (!s.ready) {
    log::info(kLog, "leadership lost: answering " + std::to_string(waiters.size()) +
                        " parked command poll(s) with 503");
    const HttpResponse r = not_leader_response(s, gate_->retry_after_secs);
    for (auto& w : waiters) w->respond(r);
  } else {
    // A new term: the polls were parked under the old epoch; answer them
    // empty so the nodes poll again under the new one.
    for (auto& w : waiters) w->respond(poll_response(w->epoch, {}));
  }
}

}  // namespace pgdc::api
