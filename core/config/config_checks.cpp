#include "config/config_checks.h"

#include <algorithm>
#include <initializer_list>

#include "config/config_rules.h"

namespace pgdc::config_detail {
namespace {

namespace rules = config_rules;
using std::chrono::milliseconds;

bool before(const YAML::Mark& a, const YAML::Mark& b) {
  return a.line < b.line || (a.line == b.line && a.column < b.column);
}

// The position of the last given key among `involved`.
YAML::Mark last(std::initializer_list<const KeyState*> involved) {
  YAML::Mark mark = YAML::Mark::null_mark();
  for (const KeyState* s : involved) {
    if (s->given && (mark.is_null() || before(mark, s->mark))) mark = s->mark;
  }
  return mark;
}

void check_timing(const Reader& reader, LeaderConfig& leader, Problems& problems) {
  const KeyState duration = reader.state("leader.lease_duration_secs");
  const KeyState interval = reader.state("leader.lease_interval_secs");
  const KeyState renew = reader.state("leader.renew_deadline_secs");
  const KeyState stop_work = reader.state("leader.stop_work_timeout_secs");
  const KeyState release = reader.state("leader.release_timeout_secs");
  const std::int64_t d = leader.lease_duration.count();
  const std::int64_t i = leader.lease_interval.count();
  const std::int64_t min_margin = std::max<std::int64_t>(1000, d / 10);
  if (!renew.given && duration.valid && interval.valid) {
    leader.renew_deadline = milliseconds(d - std::max(i, min_margin));
  }
  const std::int64_t r = leader.renew_deadline.count();
  const std::string key = "leader.renew_deadline_secs";
  const char* kDefaultRule =
      " (default: lease_duration_secs - max(lease_interval_secs, the safety margin))";

  if (renew.given && renew.valid && duration.valid && !(d > r)) {
    problems.error(last({&duration, &renew}), key,
                   rules::format_seconds(r) + " must be less than leader.lease_duration_secs (" +
                       rules::format_seconds(d) + ")");
  }
  const bool renew_known = renew.given ? renew.valid : duration.valid;
  if (renew_known && interval.valid && !(r * 10 > i * 12)) {
    std::string shown = rules::format_seconds(r);
    if (!renew.given) shown += kDefaultRule;
    problems.error(last({&duration, &interval, &renew}), key,
                   shown + " must be greater than 1.2 x leader.lease_interval_secs (1.2 x " +
                       rules::format_seconds(i) + " = " + rules::format_decimal(i * 12, 4) + ")");
  }
  if (!renew_known || !duration.valid || !(d > r)) return;
  const std::int64_t margin = d - r;
  if (margin < min_margin) {
    std::string shown = rules::format_seconds(r);
    if (!renew.given) shown += kDefaultRule;
    problems.error(last({&duration, &interval, &renew}), key,
                   shown + " leaves " + rules::format_seconds(margin) +
                       " s below leader.lease_duration_secs (" + rules::format_seconds(d) +
                       "); the safety margin must be at least " +
                       rules::format_seconds(min_margin) +
                       " s (the larger of 1 s and 10% of the lease duration): it absorbs "
                       "clock-rate differences and the time leader work takes to stop before "
                       "another replica can take over; set renew_deadline_secs to at most " +
                       rules::format_seconds(d - min_margin) + " or lengthen lease_duration_secs");
    return;
  }
  if (!stop_work.given) {
    leader.stop_work_timeout = milliseconds(std::min<std::int64_t>(2000, margin / 2));
  } else if (stop_work.valid && leader.stop_work_timeout.count() >= margin) {
    problems.error(last({&duration, &interval, &renew, &stop_work}),
                   "leader.stop_work_timeout_secs",
                   rules::format_seconds(leader.stop_work_timeout.count()) +
                       " must be less than leader.lease_duration_secs - "
                       "leader.renew_deadline_secs (" +
                       rules::format_seconds(margin) +
                       " s): leader work must have stopped before another replica can take over");
  }
  if (release.valid && leader.release_timeout.count() > d) {
    problems.warning("leader.release_timeout_secs",
                     rules::format_seconds(leader.release_timeout.count()) +
                         " exceeds leader.lease_duration_secs (" + rules::format_seconds(d) +
                         "): the lease expires by itself before a release that slow would end; "
                         "shutdown only waits longer");
  }
}

void check_api(const Reader& reader, ApiConfig& api, Problems& problems) {
  const KeyState forward = reader.state("api.forward_to_leader");
  if (forward.valid && api.forward_to_leader && api.forward_secret_file.empty() &&
      reader.state("api.forward_secret_file").valid) {
    problems.error(forward.mark, "api.forward_to_leader",
                   "needs api.forward_secret_file (a secret shared by the replicas), so a "
                   "follower forwards requests and their tokens only to a leader that proves "
                   "it holds it, never to an address planted in the leadership record");
  }
  const KeyState budget = reader.state("api.memory.max_bytes");
  const KeyState per_deployment = reader.state("api.memory.max_bytes_per_deployment");
  if (budget.valid && per_deployment.valid &&
      api.memory_max_bytes_per_deployment > api.memory_max_bytes) {
    if (per_deployment.given) {
      problems.error(last({&budget, &per_deployment}), "api.memory.max_bytes_per_deployment",
                     std::to_string(api.memory_max_bytes_per_deployment) +
                         " must not exceed api.memory.max_bytes (" +
                         std::to_string(api.memory_max_bytes) + ")");
    } else {
      api.memory_max_bytes_per_deployment = api.memory_max_bytes;  // follows it down
    }
  }
  const KeyState stale = reader.state("api.liveness.stale_after_secs");
  const KeyState evict = reader.state("api.liveness.evict_after_secs");
  if ((stale.given || evict.given) && stale.valid && evict.valid &&
      !(api.stale_after < api.evict_after)) {
    problems.error(last({&stale, &evict}), "api.liveness.evict_after_secs",
                   rules::format_seconds(api.evict_after.count()) +
                       " must be greater than api.liveness.stale_after_secs (" +
                       rules::format_seconds(api.stale_after.count()) + ")");
  }
  const KeyState max_wait = reader.state("api.commands.max_wait_secs");
  const KeyState default_wait = reader.state("api.commands.default_wait_secs");
  if (max_wait.given && !default_wait.given && max_wait.valid) {
    api.default_wait = std::min(api.default_wait, api.max_wait);  // the default follows
  }
  if (default_wait.given && max_wait.valid && default_wait.valid &&
      api.default_wait > api.max_wait) {
    problems.error(last({&max_wait, &default_wait}), "api.commands.default_wait_secs",
                   std::to_string(api.default_wait.count() / 1000) +
                       " must not exceed api.commands.max_wait_secs (" +
                       std::to_string(api.max_wait.count() / 1000) + ")");
  }
}

}  // namespace

// Uploads bigger than the server reads are refused whatever their own limit.
void check_body_limits(const Reader& reader, const Config& config, Problems& problems) {
  const KeyState body = reader.state("http.max_body_bytes");
  const KeyState upload = reader.state("api.telemetry.max_upload_bytes");
  if ((body.given || upload.given) && body.valid && upload.valid &&
      config.api.max_upload_bytes > config.http.max_body_bytes) {
    problems.warning(
        "api.telemetry.max_upload_bytes",
        std::to_string(config.api.max_upload_bytes) + " exceeds http.max_body_bytes (" +
            std::to_string(config.http.max_body_bytes) + "): the server refuses bodies over " +
            std::to_string(config.http.max_body_bytes) +
            " bytes first; raise http.max_body_bytes too");
  }
}

// Open reads hand query text and telemetry to anyone who can connect: fine
// on loopback, a deliberate choice anywhere else.
void check_open_reads(const Reader& reader, const Config& config, Problems& problems) {
  if (config.api.web_read_access != WebReadAccess::kOpen) return;
  const std::string host = config_rules::host_of(config.listen_host);
  const bool loopback = host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
  if (loopback || !reader.state("api.web.read_access").valid) return;
  problems.warning("api.web.read_access",
                   "`open` while listening on " + config_rules::quote(config.listen_host) +
                       ": anyone who can reach the port reads fleet data, including query "
                       "text; use `token` (the default) unless the network is trusted");
}

// state_dir keeps state for one process (it is locked); replicas that elect
// a leader must share their state, which only the plugin's store can do.
void check_state_dir(const Reader& reader, const Config& config, Problems& problems) {
  const KeyState state_dir = reader.state("state_dir");
  const KeyState enabled = reader.state("leader.enabled");
  if (!state_dir.valid || !enabled.valid || config.state_dir.empty() || !config.leader.enabled) {
    return;
  }
  problems.error(last({&state_dir, &enabled}), "state_dir",
                 "state_dir keeps control state in files for a single replica; with "
                 "leader.enabled the coordination plugin's state store keeps it (remove "
                 "state_dir)");
}

void check_cross_key_rules(const Reader& reader, Config& config, Problems& problems) {
  check_timing(reader, config.leader, problems);
  check_api(reader, config.api, problems);
  check_body_limits(reader, config, problems);
  check_open_reads(reader, config, problems);
  check_state_dir(reader, config, problems);
}

}  // namespace pgdc::config_detail
