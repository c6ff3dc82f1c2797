// The configuration rules that involve several keys. They run after the
// whole document was read, each only on values that were valid alone, and
// fill the defaults that depend on other keys:
//
//   the leader timing rule (docs/configuration.md#the-timing-rule):
//     lease_interval_secs >= 0.1 (the key's own minimum),
//     lease_duration_secs > renew_deadline_secs > 1.2 x lease_interval_secs,
//     lease_duration_secs - renew_deadline_secs >= max(1 s, 10% of the duration),
//     0 < stop_work_timeout_secs < lease_duration_secs - renew_deadline_secs;
//     defaults: renew_deadline = duration - max(interval, the minimum margin),
//     stop_work_timeout = min(2 s, margin / 2); release_timeout_secs above the
//     duration is a warning;
//   api.liveness: stale_after_secs < evict_after_secs;
//   api.commands: default_wait_secs <= max_wait_secs (the default follows
//     max_wait_secs down when not given);
//   api.memory: max_bytes_per_deployment <= max_bytes (the default follows
//     max_bytes down when not given);
//   api.forward_to_leader needs api.forward_secret_file;
//   api.telemetry.max_upload_bytes above http.max_body_bytes is a warning;
//   api.web.read_access: open while listening beyond loopback is a warning;
//   state_dir is for a single replica: an error with leader.enabled.
//
// Each problem is reported at the position of the last key involved, so it
// sorts after all of them.
#pragma once

#include "config/config.h"
#include "config/config_reader.h"

namespace pgdc::config_detail {

void check_cross_key_rules(const Reader& reader, Config& config, Problems& problems);

}  // namespace pgdc::config_detail
