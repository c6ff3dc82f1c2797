#include "daemon/failpoints.h"

#include <charconv>
#include <cstdlib>
#include <string_view>

#include "log/logger.h"

namespace pgdc {

std::unique_ptr<DaemonFailpoints> DaemonFailpoints::from_env(std::string* error) {
  const char* env = std::getenv("PGDC_FAILPOINTS");
  if (env == nullptr || *env == '\0') return nullptr;
  auto f = std::make_unique<DaemonFailpoints>();
  std::string_view text = env;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    const std::string_view name = item.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
    if (name == "leader_work_ignores_stop_ms") {
      long ms = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
      if (ec != std::errc() || end != value.data() + value.size() || ms <= 0) {
        *error = "PGDC_FAILPOINTS: leader_work_ignores_stop_ms expects a positive integer, got \"" +
                 std::string(value) + "\"";
        return nullptr;
      }
      f->leader_work_ignores_stop_ = std::chrono::milliseconds(ms);
    } else {
      *error = "PGDC_FAILPOINTS: unknown failpoint \"" + std::string(name) +
               "\" (known: leader_work_ignores_stop_ms)";
      return nullptr;
    }
  }
  return f;
}

std::string DaemonFailpoints::describe() const {
  if (!leader_work_ignores_stop_) return "none";
  return "leader_work_ignores_stop_ms: each term runs a leader task that ignores its stop token "
         "for " +
         std::to_string(leader_work_ignores_stop_->count()) + "ms";
}

void DaemonFailpoints::attach(LeadershipState& state) {
  if (!leader_work_ignores_stop_) return;
  const auto hold = *leader_work_ignores_stop_;
  state.add_listener([this, &state, hold](const LeadershipSnapshot& s) {
    std::lock_guard lock(mutex_);
    const bool new_term = s.ready && (!was_ready_ || !(s.epoch == last_epoch_));
    was_ready_ = s.ready;
    last_epoch_ = s.epoch;
    if (!new_term) return;
    tasks_.emplace_back([&state, hold, epoch = s.epoch](std::stop_token) {
      state.run_as_leader(epoch, [hold](std::stop_token) {
        log::warn("failpoint", "leader task started; it ignores its stop token for " +
                                   std::to_string(hold.count()) + "ms");
        std::this_thread::sleep_for(hold);
        log::warn("failpoint", "leader task ended");
      });
    });
  });
}

DaemonFailpoints::~DaemonFailpoints() {
  std::vector<std::jthread> tasks;
  {
    std::lock_guard lock(mutex_);
    tasks.swap(tasks_);
  }
  tasks.clear();  // joins
}

}  // namespace pgdc
