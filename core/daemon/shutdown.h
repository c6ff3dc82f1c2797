// The leadership half of a graceful shutdown, in the only safe order:
//   1. readiness false and leader-only work stopped (LeadershipState),
//   1b. when this replica led and the plugin offers a handover (members):
//      the leadership is handed to another member, the newest version first
//      (an already updated replica in a rolling upgrade), within half the
//      release timeout; if none qualifies or the handover fails, step 2
//      releases as usual,
//   2. the plugin stops and releases, bounded by release_timeout (+ grace);
//      if leader work did not stop within stop_work_timeout, the plugin
//      stops without releasing and the lease expires on its own,
//   3. the host services are closed: nothing the plugin says counts after.
// Another replica may act as soon as step 2 releases, so step 1 must be over.
#pragma once

#include <chrono>
#include <future>
#include <string>
#include <utility>

#include "leadership/leadership_state.h"
#include "members/member_service.h"
#include "plugin/host_services.h"
#include "plugin/plugin_instance.h"

namespace pgdc {

struct LeadershipStopResult {
  bool clean = false;  // plugin stop() returned OK (released if it held and asked)
  // Leader work stopped in time, so the plugin was asked to release.
  bool release_allowed = false;
  bool hung = false;  // plugin stop() did not return by deadline + grace
  std::string error;  // the plugin's message when not clean
  std::chrono::milliseconds took{0};
  // Step 1b: tried only when this replica led, leader work stopped in time
  // and the plugin offers transfer (handover.why says otherwise).
  bool handover_tried = false;
  members::HandoverOutcome handover;
  // When hung: becomes ready if stop() ever returns (tests wait on it).
  std::shared_future<std::pair<bool, std::string>> late_stop;
};

// If hung, the plugin's stop() is still running on a detached thread and the
// caller must end the process without destroying the plugin. members: null
// for no handover; else the handover and stop() run through it (never
// concurrently with a switchover's transfer).
LeadershipStopResult stop_leadership(LeadershipState& state, PluginInstance& plugin,
                                     HostServices& host, std::chrono::milliseconds release_timeout,
                                     std::chrono::milliseconds grace,
                                     members::MemberService* members = nullptr);

}  // namespace pgdc
