#include "daemon/shutdown.h"

#include <future>
#include <memory>
#include <thread>
#include <utility>

namespace pgdc {
namespace {

struct StopOutcome {
  bool ok = false;
  std::string error;
  bool handover_tried = false;
  members::HandoverOutcome handover;
};

}  // namespace

LeadershipStopResult stop_leadership(LeadershipState& state, PluginInstance& plugin,
                                     HostServices& host, std::chrono::milliseconds release_timeout,
                                     std::chrono::milliseconds grace,
                                     members::MemberService* members) {
  const auto started = LeaseClock::now();
  LeadershipStopResult r;
  const bool was_leading = state.snapshot().role == Role::kLeader;
  // Leader work that outlived stop_work_timeout may still be running: a
  // release now would let another replica act beside it. Keep the lease
  // until it expires instead (stop() still stops campaigning). A handover
  // lets its target act at once, so the same holds for it.
  r.release_allowed = state.begin_shutdown();
  const LeaseTime deadline = LeaseClock::now() + release_timeout;
  const bool try_handover =
      members != nullptr && was_leading && r.release_allowed && members->switchover_supported();
  // The handover gets half the release timeout; the release (if it fails)
  // and stop() keep the rest.
  const LeaseTime handover_deadline = LeaseClock::now() + release_timeout / 2;

  // The handover and stop() run on their own thread so a plugin that ignores
  // its deadline cannot hang the daemon; the promise outlives us if it never
  // returns.
  auto done = std::make_shared<std::promise<StopOutcome>>();
  std::shared_future<StopOutcome> future = done->get_future().share();
  std::thread([&plugin, members, deadline, handover_deadline, try_handover, done,
               release = r.release_allowed] {
    StopOutcome out;
    out.handover_tried = try_handover;
    if (try_handover) out.handover = members->shutdown_handover(handover_deadline);
    // Handed over: the lease is no longer ours, nothing to release.
    const bool release_now = release && !out.handover.handed_over;
    auto stop = [&] { return plugin.stop(release_now, HostServices::to_ns(deadline), &out.error); };
    out.ok = members ? members->stop_backend(stop) : stop();
    done->set_value(std::move(out));
  }).detach();
  if (future.wait_until(deadline + grace) != std::future_status::ready) {
    r.hung = true;
    r.error = "stop() did not return within the release timeout plus grace";
    r.late_stop = std::async(std::launch::deferred, [future] {
                    const StopOutcome& o = future.get();
                    return std::make_pair(o.ok, o.error);
                  }).share();
  } else {
    const StopOutcome& out = future.get();
    r.clean = out.ok;
    r.error = out.error;
    r.handover_tried = out.handover_tried;
    r.handover = out.handover;
    host.close();
  }
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(LeaseClock::now() - started);
  return r;
}

}  // namespace pgdc
