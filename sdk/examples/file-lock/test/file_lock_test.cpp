// The example plugin against the SDK's conformance suite and mock host,
// loaded from the built .so as the host loads it.
#include <pgdog_control/host.hpp>
#include <pgdog_control/testing/conformance.hpp>
#include <pgdog_control/testing/load.hpp>
#include <pgdog_control/testing/mock_host.hpp>

#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

using pgdc::sdk::testing::HostConfig;
using pgdc::sdk::testing::MockHost;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::NiceMock;

const pgdc_plugin_descriptor* descriptor() {
  std::string error;
  static const pgdc_plugin_descriptor* d =
      pgdc::sdk::testing::load_descriptor(EXAMPLE_PLUGIN_PATH, &error);
  EXPECT_NE(d, nullptr) << error;
  return d;
}

// A fresh directory per test, removed when the test binary exits.
std::string fresh_dir() {
  static std::vector<std::string> dirs;
  static struct Cleanup {
    ~Cleanup() {
      std::error_code ec;
      for (const auto& d : dirs) std::filesystem::remove_all(d, ec);
    }
  } cleanup;
  std::string templ = (std::filesystem::temp_directory_path() / "pgdc-file-lock-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
  dirs.push_back(templ);
  return templ;
}

// Each identity serves at its own address, so reports can be told apart.
std::string address_of(const std::string& identity) { return identity + ".example:8080"; }

std::string config_for(const std::string& identity, const std::string& lock_file) {
  HostConfig c;
  c.identity = identity;
  c.advertise_address = address_of(identity);
  c.lease_interval_ms = 20;
  c.options_json = "{\"lock_file\":" + pgdc::sdk::testing::json_quote(lock_file) + "}";
  return pgdc::sdk::testing::host_config_json(c);
}

// Runs one replica until it leads (or not), then stops it.
struct Replica {
  std::unique_ptr<NiceMock<MockHost>> host = std::make_unique<NiceMock<MockHost>>();
  std::unique_ptr<pgdc::sdk::host::Instance> instance;

  explicit Replica(const std::string& config) {
    std::string error;
    instance = pgdc::sdk::host::Instance::create(descriptor(), host->c_host(), config, &error);
    EXPECT_TRUE(instance) << error;
    if (instance) {
      EXPECT_TRUE(instance->start(&error)) << error;
    }
  }
  ~Replica() {
    stop(false);
    instance.reset();
  }
  void stop(bool release) {
    if (!instance || !instance->running()) return;
    std::string error;
    EXPECT_TRUE(instance->stop(release, host->clock().now_ns() + 1'000'000'000, &error)) << error;
    host->mark_stopped();
  }
  pgdc::sdk::testing::Observation leader() const {
    pgdc::sdk::testing::Observation found;
    for (const auto& o : host->observations()) {
      if (o.leader()) found = o;
    }
    return found;
  }
};

TEST(FileLock, EpochsContinueAcrossTermsAndRestartWithANewScope) {
  const std::string dir = fresh_dir();
  const std::string config = config_for("replica-a", dir + "/leader.lock");
  std::vector<pgdc::sdk::testing::Observation> terms;
  for (int i = 0; i < 3; ++i) {
    Replica r(config);
    ASSERT_TRUE(r.host->wait_for_leader(std::chrono::seconds(5)));
    terms.push_back(r.leader());
    r.stop(true);
  }
  EXPECT_EQ(terms[0].epoch, 1u);
  EXPECT_EQ(terms[1].epoch, 2u);
  EXPECT_EQ(terms[2].epoch, 3u);
  EXPECT_EQ(terms[0].epoch_scope, terms[2].epoch_scope);

  // Losing the epoch file starts a new scope (the old epochs cannot be trusted).
  std::filesystem::remove(dir + "/leader.lock.epoch");
  Replica r(config);
  ASSERT_TRUE(r.host->wait_for_leader(std::chrono::seconds(5)));
  EXPECT_EQ(r.leader().epoch, 1u);
  EXPECT_NE(r.leader().epoch_scope, terms[0].epoch_scope);
}

TEST(FileLock, FollowerSeesTheHolder) {
  const std::string lock_file = fresh_dir() + "/leader.lock";
  Replica a(config_for("replica-a", lock_file));
  ASSERT_TRUE(a.host->wait_for_leader(std::chrono::seconds(5)));
  Replica b(config_for("replica-b", lock_file));
  ASSERT_TRUE(b.host->wait_for_observation(
      [](const pgdc::sdk::testing::Observation& o) {
        return !o.leader() && o.holder == "replica-a" &&
               o.holder_address == address_of("replica-a");
      },
      std::chrono::seconds(5)));
}

TEST(FileLock, ReplacedLockFileEndsLeadership) {
  const std::string lock_file = fresh_dir() + "/leader.lock";
  Replica a(config_for("replica-a", lock_file));
  ASSERT_TRUE(a.host->wait_for_leader(std::chrono::seconds(5)));
  std::filesystem::remove(lock_file);
  ASSERT_TRUE(a.host->wait_for_observation(
      [](const pgdc::sdk::testing::Observation& o) { return !o.leader(); },
      std::chrono::seconds(5)));
  EXPECT_THAT(a.host->logs(), Contains(HasSubstr("lost leadership: the lock file was deleted")));
}

TEST(FileLock, UnopenableLockFileFailsStart) {
  NiceMock<MockHost> host;
  std::string error;
  auto instance = pgdc::sdk::host::Instance::create(
      descriptor(), host.c_host(), config_for("a", "/nonexistent-dir/leader.lock"), &error);
  ASSERT_TRUE(instance) << error;
  EXPECT_FALSE(instance->start(&error));
  EXPECT_EQ(error,
            "start failed: unavailable: cannot open /nonexistent-dir/leader.lock: No such file or "
            "directory");
}

}  // namespace

// The conformance suite's factory: a fresh lock file per test.
struct ExampleFileLock {
  static pgdc::sdk::testing::BackendUnderTest make() {
    const std::string lock_file = fresh_dir() + "/leader.lock";
    pgdc::sdk::testing::BackendUnderTest b;
    b.descriptor = descriptor();
    b.identity = "replica-a";
    b.advertise_address = address_of("replica-a");
    b.config_json = config_for("replica-a", lock_file);
    b.second_config_json = config_for("replica-b", lock_file);
    // An election: the defaults (exclusive, takeover on release and when the
    // holder's process is gone), and the epoch file carries the address.
    b.capabilities.follower_knows_holder_address = true;
    b.observe_for = std::chrono::milliseconds(150);
    b.invalid_configs = {R"({"identity":"a","options":{}})",
                         R"({"identity":"","options":{"lock_file":"/tmp/x"}})",
                         R"({"identity":"a","options":{"lock_file":"/tmp/x","lock_flie":"y"}})"};
    return b;
  }
};

namespace pgdc::sdk::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Conformance, BackendConformance, ::ExampleFileLock);
}  // namespace pgdc::sdk::testing
