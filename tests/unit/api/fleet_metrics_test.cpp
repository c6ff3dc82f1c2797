#include "api/fleet_metrics.h"

#include <gtest/gtest.h>

#include <string>

#include "metrics/prometheus_sample.h"

namespace pgdc::api {
namespace {

using test::sample;

TEST(FleetMetrics, SeriesPerDeployment) {
  Metrics m;
  FleetMetrics fm(m, {"prod", "staging"});
  fm.command_issued("prod");
  fm.command_issued("prod");
  fm.command_acked("prod", true);
  fm.command_acked("staging", false);
  fm.node_counts({{"prod", 5, 3, 2}, {"staging", 0, 0, 0}});
  const std::string text = m.serialize();
  EXPECT_EQ(sample(text, R"(pgdog_control_fleet_commands_issued_total{deployment="prod"})"), "2")
      << text;
  EXPECT_EQ(sample(text, R"(pgdog_control_fleet_commands_issued_total{deployment="staging"})"),
            "0");
  EXPECT_EQ(
      sample(text, R"(pgdog_control_fleet_command_acks_total{deployment="prod",status="ok"})"),
      "1");
  EXPECT_EQ(
      sample(text,
             R"(pgdog_control_fleet_command_acks_total{deployment="staging",status="error"})"),
      "1");
  EXPECT_EQ(sample(text, R"(pgdog_control_fleet_nodes{deployment="prod",status="live"})"), "3");
  EXPECT_EQ(sample(text, R"(pgdog_control_fleet_nodes{deployment="prod",status="stale"})"), "2");
}

TEST(FleetMetrics, ParkedPollsAreReadAtScrape) {
  Metrics m;
  FleetMetrics fm(m, {"prod"});
  EXPECT_EQ(sample(m.serialize(), "pgdog_control_fleet_command_polls_parked"), "0");
  std::size_t parked = 3;
  fm.watch_parked_polls([&parked] { return parked; });
  EXPECT_EQ(sample(m.serialize(), "pgdog_control_fleet_command_polls_parked"), "3");
  parked = 1;
  EXPECT_EQ(sample(m.serialize(), "pgdog_control_fleet_command_polls_parked"), "1");
  fm.watch_parked_polls([] { return std::size_t{5}; });  // replaces the first
  EXPECT_EQ(sample(m.serialize(), "pgdog_control_fleet_command_polls_parked"), "5");
}

TEST(FleetMetrics, UnknownDeploymentsAreIgnored) {
  Metrics m;
  FleetMetrics fm(m, {"prod"});
  fm.command_issued("ghost");
  fm.command_acked("ghost", true);
  fm.node_counts({{"ghost", 1, 1, 0}});
  EXPECT_EQ(m.serialize().find("ghost"), std::string::npos);
}

// Core series: a plugin (defining after the core, as the daemon orders it)
// can neither take the names nor write them.
TEST(FleetMetrics, PluginsCannotWriteThem) {
  Metrics m;
  FleetMetrics fm(m, {"prod"});
  std::string error;
  EXPECT_EQ(m.define(Metrics::Kind::kGauge, "fleet_nodes", "", R"({"deployment":"x"})", {}, &error),
            -1);
  EXPECT_NE(error.find("reserved for the core"), std::string::npos) << error;
  EXPECT_EQ(m.define(Metrics::Kind::kCounter, "fleet_commands_issued_total", "", "", {}), -1);
}

// Deployment names are label values: quotes and backslashes are escaped.
TEST(FleetMetrics, DeploymentNamesAreEscaped) {
  Metrics m;
  FleetMetrics fm(m, {"a\"b"});
  fm.command_issued("a\"b");
  EXPECT_EQ(
      sample(m.serialize(), R"(pgdog_control_fleet_commands_issued_total{deployment="a\"b"})"), "1")
      << m.serialize();
}

}  // namespace
}  // namespace pgdc::api
