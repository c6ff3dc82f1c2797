// The core and the SDK in one translation unit. Both name a Role and a
// LogLevel; the SDK's live in pgdc::sdk, so a file may include both sets of
// headers (this one compiling is most of the test). The checks below pin what
// the host relies on when it converts between the two.
#include <pgdog_control/plugin.h>
#include <pgdog_control/boot_clock.hpp>
#include <pgdog_control/host.hpp>
#include <pgdog_control/plugin.hpp>
#include <pgdog_control/testing/conformance.hpp>
#include <pgdog_control/testing/load.hpp>
#include <pgdog_control/testing/mock_host.hpp>

#include <type_traits>

#include <gtest/gtest.h>

#include "leadership/leadership_state.h"
#include "log/log_level.h"
#include "log/logger.h"
#include "plugin/host_services.h"

namespace pgdc {
namespace {

static_assert(!std::is_same_v<Role, sdk::Role>);
static_assert(!std::is_same_v<LogLevel, sdk::LogLevel>);
// Every deadline the core keeps is on the clock the SDK gives plugins.
static_assert(std::is_same_v<LeaseClock, sdk::BootClock>);

// HostServices turns a pgdc_log_level into the core's LogLevel by value.
static_assert(static_cast<int>(LogLevel::kDebug) == PGDC_LOG_DEBUG);
static_assert(static_cast<int>(LogLevel::kInfo) == PGDC_LOG_INFO);
static_assert(static_cast<int>(LogLevel::kWarn) == PGDC_LOG_WARN);
static_assert(static_cast<int>(LogLevel::kError) == PGDC_LOG_ERROR);
static_assert(static_cast<std::uint32_t>(sdk::LogLevel::kWarn) == PGDC_LOG_WARN);

TEST(SdkCoexistence, AReportThroughTheSdkReachesTheCoreState) {
  LeadershipState state;
  Metrics metrics;
  HostServices services("coexist", state, metrics);
  const sdk::Host host(services.c_host());

  sdk::Leadership l;
  l.role = sdk::Role::kLeader;
  l.holder = "replica-a";
  l.epoch_scope = "scope";
  l.epoch = 3;
  l.valid_until_ns = PGDC_NEVER;
  host.report(l);

  const LeadershipSnapshot s = state.snapshot();
  EXPECT_EQ(s.role, Role::kLeader);
  EXPECT_EQ(s.holder, "replica-a");
  EXPECT_EQ(s.epoch, (Epoch{"scope", 3}));
  EXPECT_TRUE(s.ready);
  services.close();
}

}  // namespace
}  // namespace pgdc
