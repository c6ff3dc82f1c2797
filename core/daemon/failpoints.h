// Test-only fault injection in the daemon, for the leadership tests against a
// real API server (tests/kube/leadership_contract_test.py): faults no signal
// or proxy can place, such as leader-only work that does not stop. Off unless
// the environment variable PGDC_FAILPOINTS is set; every active failpoint is
// logged as a warning at startup.
//
//   PGDC_FAILPOINTS="name=value[,name=value]..."
//   leader_work_ignores_stop_ms=N   each term this replica starts runs one
//                                   leader-only task that ignores its stop
//                                   token for N ms (stuck leader work)
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "leadership/leadership_state.h"

namespace pgdc {

class DaemonFailpoints {
 public:
  // Empty when PGDC_FAILPOINTS is unset or empty; *error is set (and the
  // result empty) when it names an unknown failpoint or a malformed value.
  static std::unique_ptr<DaemonFailpoints> from_env(std::string* error);

  // One line for the startup warning.
  std::string describe() const;
  // Hooks the failpoints into the leadership state.
  void attach(LeadershipState& state);
  // Waits for the tasks it started (so none outlives the state it uses).
  ~DaemonFailpoints();

 private:
  std::optional<std::chrono::milliseconds> leader_work_ignores_stop_;
  std::mutex mutex_;
  std::vector<std::jthread> tasks_;
  Epoch last_epoch_;
  bool was_ready_ = false;
};

}  // namespace pgdc
