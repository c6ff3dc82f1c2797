// Fault injection for tests of the real daemon against a real API server
// (tests/kube/leadership_contract_test.py): faults that no proxy or signal
// can place precisely, such as a thread descheduled between the API server's
// answer and the report to the host. Off unless the environment variable
// PGDC_KUBE_FAILPOINTS is set; the plugin logs each active failpoint as a
// warning at startup, so a production replica cannot run with one unnoticed.
//
//   PGDC_KUBE_FAILPOINTS="name=value[,name=value]..."
//   delay_renewal_report=N:MS   the report of this process's N-th successful
//                               renewal reaches the host MS milliseconds late
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace pgdc::kube {

struct Failpoints {
  struct Delay {
    int nth = 0;
    std::chrono::milliseconds delay{0};
  };
  std::optional<Delay> delay_renewal_report;

  bool any() const { return delay_renewal_report.has_value(); }
  // One line naming the active failpoints, for the startup warning.
  std::string describe() const;

  // Parses the variable's value; an unknown name or a malformed value is an
  // error (a test that sets a failpoint must not silently run without it).
  static std::optional<Failpoints> parse(std::string_view text, std::string* error);
};

}  // namespace pgdc::kube
