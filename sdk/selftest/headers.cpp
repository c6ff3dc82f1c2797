// The SDK's C++ headers, each on its own and then together, as C++17 (see
// CMakeLists.txt): self-contained, warning free with -pedantic, and the
// PGDC_PLUGIN macro instantiates for a minimal backend.
#include <pgdog_control/plugin.h>
// (Each include below would compile first in a file of its own; together
// they also prove the headers do not clash.)
#include <pgdog_control/boot_clock.hpp>
#include <pgdog_control/host.hpp>
#include <pgdog_control/plugin.hpp>

#include <cstdint>
#include <string_view>

namespace {

class SelftestBackend final : public pgdc::sdk::Backend {
 public:
  SelftestBackend(pgdc::sdk::Host host, std::string_view /*config_json*/) : host_(host) {}
  void start() override { host_.log(pgdc::sdk::LogLevel::kInfo, "started"); }
  bool stop(bool /*release*/, std::int64_t /*deadline_ns*/) override { return true; }

 private:
  pgdc::sdk::Host host_;
};

static_assert(pgdc::sdk::BootClock::is_steady);
static_assert(pgdc::sdk::host::kLeadershipMinSize < sizeof(pgdc_leadership));

}  // namespace

PGDC_PLUGIN(SelftestBackend, "selftest", "1.0.0", "compiles the SDK headers")
