// The backend conformance suite from the SDK testing component, run against
// the noop plugin as the loader loads it.
#include <string>

#include <pgdog_control/testing/conformance.hpp>

#include "plugin/plugin_loader.h"

// The suite's factory (outside an anonymous namespace: its name shows in
// ctest names, e.g. plugin.Conformance.ReleaseOnStop<NoopBackend>).
struct NoopBackend {
  static pgdc::sdk::testing::BackendUnderTest make() {
    pgdc::sdk::testing::BackendUnderTest b;
    const pgdc::LoadResult r = pgdc::load_plugin(std::string(PGDC_TEST_PLUGIN_DIR) + "/noop.so");
    EXPECT_TRUE(r.plugin) << r.error;
    b.descriptor = r.plugin ? r.plugin->descriptor : nullptr;
    pgdc::sdk::testing::HostConfig config;
    config.identity = "noop-replica";
    b.config_json = pgdc::sdk::testing::host_config_json(config);
    b.identity = config.identity;
    b.advertise_address = config.advertise_address;
    // One replica only, epoch 1 forever: a second replica would lead too.
    b.capabilities.exclusive = false;
    b.capabilities.takeover_on_release = false;
    b.capabilities.takeover_on_expiry = false;
    b.observe_for = std::chrono::milliseconds(50);
    b.invalid_configs = {"[]", R"({"identity":""})"};
    return b;
  }
};

namespace pgdc::sdk::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Conformance, BackendConformance, ::NoopBackend);
}  // namespace pgdc::sdk::testing
