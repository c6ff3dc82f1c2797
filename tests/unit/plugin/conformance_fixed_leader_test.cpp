// The backend conformance suite against the SDK's C example
// (sdk/examples/fixed-leader-c), loaded with the suite's own loader as a
// third party would, and a few checks of what it reports and refuses.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pgdog_control/host.hpp>
#include <pgdog_control/testing/conformance.hpp>
#include <pgdog_control/testing/load.hpp>

namespace {

namespace t = pgdc::sdk::testing;

const pgdc_plugin_descriptor* fixed_leader() {
  std::string error;
  const pgdc_plugin_descriptor* d = t::load_descriptor(
      std::string(PGDC_TEST_EXAMPLE_PLUGIN_DIR) + "/example-fixed-leader.so", &error);
  EXPECT_NE(d, nullptr) << error;
  return d;
}

// Replica `identity` in an election whose leader is "replica-a", serving at
// "a.example:8080".
std::string config_for(const std::string& identity) {
  t::HostConfig c;
  c.identity = identity;
  c.advertise_address = identity == "replica-a" ? "a.example:8080" : "b.example:8080";
  c.options_json = R"({"leader":"replica-a","leader_address":"a.example:8080"})";
  return t::host_config_json(c);
}

std::string create_error(const std::string& config) {
  ::testing::NiceMock<t::MockHost> host;
  std::string error;
  auto instance = pgdc::sdk::host::Instance::create(fixed_leader(), host.c_host(), config, &error);
  EXPECT_EQ(instance, nullptr);
  return error;
}

TEST(FixedLeaderExample, NamesTheKeyInEveryConfigError) {
  EXPECT_EQ(create_error(R"({"identity":"a","options":{}})"),
            "create failed: config error: example-fixed-leader: options.leader is required (a "
            "non-empty string)");
  EXPECT_EQ(create_error(R"({"identity":"a","options":{"leader":"a","leader_adress":"x"}})"),
            "create failed: config error: example-fixed-leader: options.leader_adress: unknown "
            "option; known options: leader, leader_address");
  EXPECT_EQ(create_error(R"({"identity":7,"options":{"leader":"a"}})"),
            "create failed: config error: example-fixed-leader: identity must be a non-empty "
            "string of at most 255 bytes");
}

TEST(FixedLeaderExample, ReadsEscapedStrings) {
  // \u00e9 and a surrogate pair decode to UTF-8; the leader is this replica.
  ::testing::NiceMock<t::MockHost> host;
  std::string error;
  auto instance = pgdc::sdk::host::Instance::create(
      fixed_leader(), host.c_host(),
      R"({"identity":"r\u00e9plica-\ud83d\ude00","options":{"leader":"r\u00e9plica-\ud83d\ude00"}})",
      &error);
  ASSERT_TRUE(instance) << error;
  ASSERT_TRUE(instance->start(&error)) << error;
  EXPECT_THAT(host.observations(),
              ::testing::ElementsAre(t::IsLeader("r\xc3\xa9plica-\xf0\x9f\x98\x80")));
  EXPECT_TRUE(instance->stop(true, host.clock().now_ns() + 1'000'000'000, &error)) << error;
  host.mark_stopped();
}

}  // namespace

// The suite's factory (outside an anonymous namespace: its name shows in
// ctest names, e.g.
// plugin.FixedLeaderConformance.FollowerReportsTheLeader<FixedLeader>). Its own
// prefix: one binary cannot instantiate the suite twice under one name.
struct FixedLeader {
  static t::BackendUnderTest make() {
    t::BackendUnderTest b;
    b.descriptor = fixed_leader();
    b.config_json = config_for("replica-a");
    b.identity = "replica-a";
    b.advertise_address = "a.example:8080";
    b.second_config_json = config_for("replica-b");
    // A leader fixed by configuration: B always follows and knows where A
    // serves, but never takes over.
    b.capabilities.follower_knows_holder_address = true;
    b.capabilities.takeover_on_release = false;
    b.capabilities.takeover_on_expiry = false;
    b.observe_for = std::chrono::milliseconds(50);
    b.invalid_configs = {"[]", R"({"identity":"replica-a"})",
                         R"({"identity":"","options":{"leader":"replica-a"}})",
                         R"({"identity":"a","options":{"leader":"a"},})"};
    return b;
  }
};

namespace pgdc::sdk::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(FixedLeaderConformance, BackendConformance, ::FixedLeader);
}  // namespace pgdc::sdk::testing
