#include "daemon/shutdown.h"

#include <future>
#include <memory>
#include <thread>
#include <utility>

namespace pgdc {

LeadershipStopResult stop_leadership(LeadershipState& state, PluginInstance& plugin,
                                     HostServices& host, std::chrono::milliseconds release_timeout,
                                     std::chrono::milliseconds grace) {
  const auto started = LeaseClock::now();
  LeadershipStopResult r;
  // Leader work that outlived stop_work_timeout may still be running: a
  // release now would let another replica act beside it. Keep the lease
  // until it expires instead (stop() still stops campaigning).
  r.release_allowed = state.begin_shutdown();
  const LeaseTime deadline = LeaseClock::now() + release_timeout;

  // stop() runs on its own thread so a plugin that ignores its deadline
  // cannot hang the daemon; the promise outlives us if it never returns.
  auto done = std::make_shared<std::promise<std::pair<bool, std::string>>>();
  std::shared_future<std::pair<bool, std::string>> future = done->get_future().share();
  std::thread([&plugin, deadline, done, release = r.release_allowed] {
    std::string error;
    const bool ok = plugin.stop(release, HostServices::to_ns(deadline), &error);
    done->set_value({ok, std::move(error)});
  }).detach();
  if (future.wait_until(deadline + grace) != std::future_status::ready) {
    r.hung = true;
    r.error = "stop() did not return within the release timeout plus grace";
    r.late_stop = future;
  } else {
    const auto& [ok, error] = future.get();
    r.clean = ok;
    r.error = error;
    host.close();
  }
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(LeaseClock::now() - started);
  return r;
}

}  // namespace pgdc
