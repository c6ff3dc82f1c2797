// PluginInstance: the host-side life cycle, with the GoogleMock host from the
// SDK testing component.
#include "plugin/plugin_instance.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pgdog_control/testing/mock_host.hpp>

namespace pgdc {
namespace {

using sdk::testing::IsLeader;
using sdk::testing::MockHost;
using ::testing::_;
using ::testing::AllOf;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::NiceMock;
using ::testing::StrictMock;

constexpr const char* kConfig =
    R"({"identity":"replica-a","advertise_address":"10.1.2.3:8080","options":{}})";

LoadedPlugin load(const std::string& path) {
  LoadResult r = load_plugin(path);
  EXPECT_TRUE(r.plugin) << r.error;
  return r.plugin.value_or(LoadedPlugin{});
}
LoadedPlugin noop() { return load(std::string(PGDC_TEST_PLUGIN_DIR) + "/noop.so"); }
LoadedPlugin broken(const std::string& file) {
  return load(std::string(PGDC_TEST_BROKEN_PLUGIN_DIR) + "/" + file);
}

TEST(PluginInstance, NoopStartsANewEpochScopeEachTime) {
  // Command numbers restart at 1 with the process: a node polling with its
  // last epoch must see that the term changed.
  const LoadedPlugin plugin = noop();
  std::vector<std::string> scopes;
  for (int start = 0; start < 2; ++start) {
    NiceMock<MockHost> host;
    EXPECT_CALL(host, on_leadership(_)).WillOnce([&](const sdk::testing::Observation& o) {
      scopes.push_back(o.epoch_scope);
    });
    std::string error;
    auto instance = PluginInstance::create(plugin, host.c_host(), kConfig, &error);
    ASSERT_TRUE(instance) << error;
    ASSERT_TRUE(instance->start(&error)) << error;
    ASSERT_TRUE(instance->stop(true, host.clock().now_ns() + 1'000'000'000, &error)) << error;
    host.mark_stopped();
  }
  ASSERT_EQ(scopes.size(), 2u);
  EXPECT_NE(scopes[0], scopes[1]);
}

TEST(PluginInstance, NoopLifeCycle) {
  StrictMock<MockHost> host;
  const LoadedPlugin plugin = noop();
  {
    ::testing::InSequence order;
    EXPECT_CALL(host, log(PGDC_LOG_WARN, HasSubstr("leader election is disabled")));
    EXPECT_CALL(host, on_leadership(AllOf(
                          IsLeader("replica-a"), Field(&sdk::testing::Observation::epoch, 1u),
                          Field(&sdk::testing::Observation::epoch_scope,
                                ::testing::MatchesRegex("noop-[0-9a-f]{16}")),
                          Field(&sdk::testing::Observation::valid_until_ns, PGDC_NEVER),
                          Field(&sdk::testing::Observation::holder_address, "10.1.2.3:8080"))));
  }
  std::string error;
  auto instance = PluginInstance::create(plugin, host.c_host(), kConfig, &error);
  ASSERT_TRUE(instance) << error;
  EXPECT_EQ(instance->name(), "noop");
  EXPECT_EQ(instance->version(), "1.0.0");
  EXPECT_THAT(instance->description(), HasSubstr("Single replica"));
  EXPECT_EQ(instance->path(), plugin.path);
  EXPECT_EQ(instance->label(), "plugin \"" + plugin.path + "\" (noop 1.0.0)");
  ASSERT_TRUE(instance->start(&error)) << error;
  ASSERT_TRUE(instance->stop(true, host.clock().now_ns() + 1'000'000'000, &error)) << error;
  host.mark_stopped();
  instance.reset();
  EXPECT_EQ(host.calls_after_stop(), 0);
}

TEST(PluginInstance, DestructorStopsARunningInstance) {
  NiceMock<MockHost> host;
  std::string error;
  auto instance = PluginInstance::create(noop(), host.c_host(), kConfig, &error);
  ASSERT_TRUE(instance) << error;
  ASSERT_TRUE(instance->start(&error)) << error;
  instance.reset();  // stop (no release) and destroy
  EXPECT_EQ(host.observations().size(), 1u);
}

TEST(PluginInstance, StopBeforeStartIsANoOp) {
  NiceMock<MockHost> host;
  std::string error;
  auto instance = PluginInstance::create(noop(), host.c_host(), kConfig, &error);
  ASSERT_TRUE(instance) << error;
  EXPECT_TRUE(instance->stop(false, 0, &error));
  host.mark_stopped();
  instance.reset();
  EXPECT_EQ(host.calls_after_stop(), 0);
}

TEST(PluginInstance, StartTwiceFails) {
  NiceMock<MockHost> host;
  std::string error;
  auto instance = PluginInstance::create(noop(), host.c_host(), kConfig, &error);
  ASSERT_TRUE(instance) << error;
  ASSERT_TRUE(instance->start(&error)) << error;
  EXPECT_FALSE(instance->start(&error));
  EXPECT_THAT(error, HasSubstr("start() may be called once"));
}

TEST(PluginInstance, NoopRejectsAConfigWithoutIdentity) {
  NiceMock<MockHost> host;
  const LoadedPlugin plugin = noop();
  std::string error;
  EXPECT_FALSE(PluginInstance::create(plugin, host.c_host(), R"({"options":{}})", &error));
  EXPECT_EQ(error, "plugin \"" + plugin.path +
                       "\" (noop 1.0.0): create failed: config error: noop: identity must be a "
                       "non-empty string");
}

TEST(PluginInstance, CreateFailsWithThePluginsMessage) {
  NiceMock<MockHost> host;
  const LoadedPlugin plugin = broken("create-fails.so");
  std::string error;
  EXPECT_FALSE(PluginInstance::create(plugin, host.c_host(), kConfig, &error));
  EXPECT_EQ(error, "plugin \"" + plugin.path +
                       "\" (create-fails 1.0.0): create failed: config error: broken: "
                       "options.widget is required");
}

TEST(PluginInstance, ExceptionAcrossTheAbiBecomesAnError) {
  NiceMock<MockHost> host;
  const LoadedPlugin plugin = broken("create-throws.so");
  std::string error;
  EXPECT_FALSE(PluginInstance::create(plugin, host.c_host(), kConfig, &error));
  EXPECT_EQ(error, "plugin \"" + plugin.path +
                       "\" (create-throws 1.0.0): create failed: internal error: a C++ exception "
                       "escaped the plugin (broken: create() threw across the C ABI); this is a "
                       "plugin bug");
}

TEST(PluginInstance, ExceptionInsideTheSdkMacroBecomesAnInternalError) {
  NiceMock<MockHost> host;
  const LoadedPlugin plugin = broken("create-throws-macro.so");
  std::string error;
  EXPECT_FALSE(PluginInstance::create(plugin, host.c_host(), kConfig, &error));
  EXPECT_EQ(error, "plugin \"" + plugin.path +
                       "\" (create-throws-macro 1.0.0): create failed: internal error: broken: "
                       "an unexpected exception");
}

TEST(PluginInstance, StartFailure) {
  NiceMock<MockHost> host;
  const LoadedPlugin plugin = broken("start-fails.so");
  std::string error;
  auto instance = PluginInstance::create(plugin, host.c_host(), kConfig, &error);
  ASSERT_TRUE(instance) << error;
  EXPECT_FALSE(instance->start(&error));
  EXPECT_EQ(error, "plugin \"" + plugin.path +
                       "\" (start-fails 1.0.0): start failed: unavailable: broken: the store is "
                       "unreachable");
  EXPECT_TRUE(instance->stop(false, 0, &error));  // nothing to stop
  instance.reset();                               // destroy only
}

TEST(PluginInstance, UncleanStop) {
  NiceMock<MockHost> host;
  EXPECT_CALL(host, log(PGDC_LOG_INFO, "started"));
  const LoadedPlugin plugin = broken("stop-fails.so");
  std::string error;
  auto instance = PluginInstance::create(plugin, host.c_host(), kConfig, &error);
  ASSERT_TRUE(instance) << error;
  ASSERT_TRUE(instance->start(&error)) << error;
  EXPECT_FALSE(instance->stop(true, host.clock().now_ns(), &error));
  EXPECT_EQ(error, "plugin \"" + plugin.path +
                       "\" (stop-fails 1.0.0): stop failed: unavailable: stopped, but not cleanly "
                       "(see the plugin's log)");
}

TEST(PluginInstance, RefusesAnInvalidHostTable) {
  pgdc_host host{};
  host.size = sizeof(host);
  host.abi_major = PGDC_ABI_MAJOR;
  std::string error;
  EXPECT_FALSE(PluginInstance::create(noop(), &host, kConfig, &error));
  EXPECT_THAT(error, HasSubstr("create failed: host services table has a null required function"));
}

TEST(PluginInstance, RefusesAnInvalidDescriptor) {
  NiceMock<MockHost> host;
  std::string error;
  EXPECT_FALSE(
      PluginInstance::create(LoadedPlugin{"/x.so", nullptr}, host.c_host(), kConfig, &error));
  EXPECT_THAT(error, HasSubstr("plugin \"/x.so\": create refused: plugin: entry point"));
}

}  // namespace
}  // namespace pgdc
