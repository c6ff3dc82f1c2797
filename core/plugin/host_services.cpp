#include "plugin/host_services.h"

#include <cstddef>
#include <exception>
#include <vector>

#include "log/logger.h"

namespace pgdc {
namespace {

std::string_view view(pgdc_str s) {
  return s.data == nullptr ? std::string_view{} : std::string_view(s.data, s.len);
}

// The fields a plugin built against ABI 1.0 always has.
constexpr std::size_t kMinLeadershipSize =
    offsetof(pgdc_leadership, valid_until_ns) + sizeof(pgdc_leadership::valid_until_ns);
// ABI 1.1 plugins also send holder_address.
constexpr std::size_t kAddressLeadershipSize =
    offsetof(pgdc_leadership, holder_address) + sizeof(pgdc_leadership::holder_address);

}  // namespace

HostServices::HostServices(std::string plugin_name, LeadershipState& state, Metrics& metrics)
    : component_("plugin:" + std::move(plugin_name)), state_(state), metrics_(metrics) {
  host_.size = sizeof(pgdc_host);
  host_.abi_major = PGDC_ABI_MAJOR;
  host_.abi_minor = PGDC_ABI_MINOR;
  host_.ctx = this;
  host_.log = &log_cb;
  host_.monotonic_now_ns = &now_cb;
  host_.on_leadership = &leadership_cb;
  host_.report_progress = &progress_cb;
  host_.metric_define = &metric_define_cb;
  host_.metric_record = &metric_record_cb;
}

std::int64_t HostServices::to_ns(LeaseTime t) {
  if (t == LeaseTime::max()) return PGDC_NEVER;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

LeaseTime HostServices::from_ns(std::int64_t ns) {
  if (ns == PGDC_NEVER) return LeaseTime::max();
  return LeaseTime(std::chrono::duration_cast<LeaseClock::duration>(std::chrono::nanoseconds(ns)));
}

bool HostServices::accept() {
  if (!closed_.load()) return true;
  calls_after_close_.fetch_add(1);
  return false;
}

// Every callback is noexcept by contract (called from C); anything thrown
// inside is logged and swallowed rather than unwinding into the plugin.
void HostServices::log_cb(void* ctx, std::uint32_t level, pgdc_str message) {
  try {
    auto& s = self(ctx);
    if (!s.accept()) return;
    const LogLevel l = level <= PGDC_LOG_ERROR ? static_cast<LogLevel>(level) : LogLevel::kError;
    log::write(l, s.component_, view(message));
  } catch (...) {
  }
}

std::int64_t HostServices::now_cb(void* /*ctx*/) {
  return to_ns(LeaseClock::now());
}  // CLOCK_BOOTTIME

void HostServices::leadership_cb(void* ctx, const pgdc_leadership* l) {
  auto& s = self(ctx);
  try {
    if (!s.accept()) return;
    if (l == nullptr || l->size < kMinLeadershipSize) {
      log::error(s.component_, "ignored a leadership report with a missing or short struct");
      return;
    }
    Observation o;
    if (l->role == PGDC_ROLE_LEADER) {
      o.role = Role::kLeader;
    } else if (l->role != PGDC_ROLE_FOLLOWER) {
      log::error(s.component_, "leadership report with unknown role " + std::to_string(l->role) +
                                   "; treating it as follower");
    }
    o.holder = std::string(view(l->holder));
    o.epoch = Epoch{std::string(view(l->epoch_scope)), l->epoch};
    o.valid_until = from_ns(l->valid_until_ns);
    if (l->size >= kAddressLeadershipSize) o.holder_address = std::string(view(l->holder_address));
    s.state_.apply(o);
  } catch (const std::exception& e) {
    log::error(s.component_, std::string("failed to apply a leadership report: ") + e.what());
  } catch (...) {
  }
}

void HostServices::progress_cb(void* ctx) {
  auto& s = self(ctx);
  if (!s.accept()) return;
  s.state_.report_progress();
}

std::int64_t HostServices::metric_define_cb(void* ctx, std::uint32_t kind, pgdc_str name,
                                            pgdc_str help, pgdc_str labels_json,
                                            const double* buckets, std::size_t bucket_count) {
  auto& s = self(ctx);
  try {
    if (!s.accept()) return -1;
    if (kind > PGDC_METRIC_HISTOGRAM) {
      log::warn(s.component_,
                "metric \"" + std::string(view(name)) + "\": unknown kind " + std::to_string(kind));
      return -1;
    }
    std::vector<double> b;
    if (buckets != nullptr) b.assign(buckets, buckets + bucket_count);
    std::string error;
    const auto h = s.metrics_.define(static_cast<Metrics::Kind>(kind), view(name), view(help),
                                     view(labels_json), b, &error);
    if (h < 0) log::warn(s.component_, "metric rejected: " + error);
    return h;
  } catch (const std::exception& e) {
    log::error(s.component_, std::string("metric_define failed: ") + e.what());
    return -1;
  } catch (...) {
    return -1;
  }
}

void HostServices::metric_record_cb(void* ctx, std::int64_t handle, std::uint32_t op,
                                    double value) {
  auto& s = self(ctx);
  try {
    if (!s.accept() || op > PGDC_METRIC_OBSERVE) return;
    s.metrics_.record(handle, static_cast<Metrics::Op>(op), value);
  } catch (...) {
  }
}

}  // namespace pgdc
