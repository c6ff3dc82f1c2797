// The clock every leadership deadline is measured on: CLOCK_BOOTTIME.
//
// Why not std::chrono::steady_clock: on Linux it is CLOCK_MONOTONIC, which
// stops while the machine (or the VM) is suspended. A leader whose host is
// suspended for a minute would, after resuming, believe a minute less had
// passed and keep acting for the rest of its apparent validity while another
// replica, whose clock kept running, already took over. CLOCK_BOOTTIME is the
// same monotonic clock plus the time spent suspended, so a deadline that
// passed during a suspend has passed when the process runs again.
//
// pgdc_host.monotonic_now_ns returns this clock. A plugin that keeps its own
// time (for example to time requests against a validity deadline) must use
// this clock too, so its deadlines and the host's agree.
//
// Header-only; a std::chrono clock (usable with condition variables and
// sleep_until: libstdc++ re-checks now() after each wait, so a wait may end
// late by the time suspended, never early).
#ifndef PGDOG_CONTROL_BOOT_CLOCK_HPP
#define PGDOG_CONTROL_BOOT_CLOCK_HPP

#include <chrono>
#include <cstdint>
#include <ctime>

namespace pgdc::sdk {

struct BootClock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<BootClock>;
  static constexpr bool is_steady = true;

  static time_point now() noexcept {
    timespec ts{};
#ifdef CLOCK_BOOTTIME
    ::clock_gettime(CLOCK_BOOTTIME, &ts);
#else
    ::clock_gettime(CLOCK_MONOTONIC, &ts);  // no suspend-aware clock on this platform
#endif
    return time_point(duration(std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec));
  }
};

}  // namespace pgdc::sdk

#endif  // PGDOG_CONTROL_BOOT_CLOCK_HPP
