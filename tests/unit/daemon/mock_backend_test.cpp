// The core against a GoogleMock backend, through the real C ABI path:
// descriptor -> PluginInstance -> HostServices -> LeadershipState.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <thread>

#include "daemon/shutdown.h"
#include "leadership/leadership_state.h"
#include "members/fake_member_backend.h"
#include "members/member_service.h"
#include "metrics/metrics.h"
#include "plugin/host_services.h"
#include "plugin/plugin_instance.h"

namespace pgdc {
namespace {

using namespace std::chrono_literals;
using ::testing::_;
using ::testing::Invoke;
using ::testing::Return;

class MockBackend {
 public:
  MOCK_METHOD(std::int32_t, create, (std::string config_json));
  MOCK_METHOD(std::int32_t, start, ());
  MOCK_METHOD(std::int32_t, stop, (std::int32_t release, std::int64_t deadline_ns));
  MOCK_METHOD(void, destroy, ());
};

// The C side of the mock plugin: one instance at a time.
MockBackend* g_mock = nullptr;
const pgdc_host* g_host = nullptr;
std::string g_create_error;

std::int32_t mock_create(const pgdc_host* host, pgdc_str config, pgdc_instance** out,
                         pgdc_errbuf err) {
  g_host = host;
  const std::int32_t rc = g_mock->create(std::string(config.data, config.len));
  if (rc != PGDC_OK) {
    std::snprintf(err.buf, err.cap, "%s", g_create_error.c_str());
    return rc;
  }
  *out = reinterpret_cast<pgdc_instance*>(g_mock);
  return PGDC_OK;
}
std::int32_t mock_start(pgdc_instance*, pgdc_errbuf) { return g_mock->start(); }
std::int32_t mock_stop(pgdc_instance*, std::int32_t release, std::int64_t deadline,
                       pgdc_errbuf err) {
  const std::int32_t rc = g_mock->stop(release, deadline);
  if (rc != PGDC_OK) std::snprintf(err.buf, err.cap, "release refused: 403");
  return rc;
}
void mock_destroy(pgdc_instance*) { g_mock->destroy(); }

const pgdc_vtable kVtable{sizeof(pgdc_vtable),
                          &mock_create,
                          &mock_start,
                          &mock_stop,
                          &mock_destroy,
                          nullptr,
                          nullptr,
                          nullptr,
                          nullptr,
                          nullptr};
const pgdc_plugin_descriptor kDescriptor{
    PGDC_PLUGIN_MAGIC, sizeof(pgdc_plugin_descriptor), PGDC_ABI_MAJOR, PGDC_ABI_MINOR, "mock",
    "0.0.1",           "GoogleMock backend",           &kVtable};

// Reports through the C host table, exactly as a plugin would.
void report(Role role, std::uint64_t term, std::chrono::milliseconds valid_for,
            const char* holder = "me") {
  pgdc_leadership l{};
  l.size = sizeof l;
  l.role = role == Role::kLeader ? PGDC_ROLE_LEADER : PGDC_ROLE_FOLLOWER;
  l.holder = pgdc_str{holder, std::strlen(holder)};
  l.epoch_scope = pgdc_str{"uid", 3};
  l.epoch = term;
  l.valid_until_ns = g_host->monotonic_now_ns(g_host->ctx) +
                     std::chrono::duration_cast<std::chrono::nanoseconds>(valid_for).count();
  g_host->on_leadership(g_host->ctx, &l);
}

LeadershipOptions short_stop_work() {
  LeadershipOptions o;
  o.stop_work_timeout = 100ms;
  return o;
}

class CoreWithMockBackend : public ::testing::Test {
 protected:
  void SetUp() override {
    g_mock = &mock;
    EXPECT_CALL(mock, create(_)).WillOnce(Return(PGDC_OK));
    EXPECT_CALL(mock, destroy()).Times(1);
    std::string error;
    plugin = PluginInstance::create(LoadedPlugin{"/in-process/mock.so", &kDescriptor},
                                    host.c_host(), R"({"identity":"me"})", &error);
    ASSERT_TRUE(plugin) << error;
  }
  void TearDown() override {
    plugin.reset();
    g_mock = nullptr;
  }

  ::testing::StrictMock<MockBackend> mock;
  LeadershipState state{short_stop_work()};
  Metrics metrics;
  HostServices host{"mock", state, metrics};
  std::unique_ptr<PluginInstance> plugin;
};

TEST_F(CoreWithMockBackend, ShutdownDoesNotReleaseWhileLeaderWorkStillRuns) {
  // Leader work that outlives the stop-work timeout may still be acting: a
  // release would let another replica act beside it. The plugin is told to
  // stop without releasing; the lease expires instead.
  EXPECT_CALL(mock, start()).WillOnce(Invoke([] {
    report(Role::kLeader, 1, 10s);
    return PGDC_OK;
  }));
  std::string error;
  ASSERT_TRUE(plugin->start(&error)) << error;
  ASSERT_TRUE(state.ready());
  std::atomic<bool> started{false};
  std::atomic<bool> finish{false};
  std::thread worker([&] {
    state.run_as_leader(state.current_term()->epoch, [&](std::stop_token) {
      started = true;
      while (!finish.load()) std::this_thread::sleep_for(1ms);
    });
  });
  while (!started.load()) std::this_thread::sleep_for(1ms);
  EXPECT_CALL(mock, stop(0, _)).WillOnce(Return(PGDC_OK));
  const LeadershipStopResult r = stop_leadership(state, *plugin, host, 1s, 1s);
  EXPECT_FALSE(r.release_allowed);
  EXPECT_TRUE(r.clean);
  finish = true;
  worker.join();
}

TEST_F(CoreWithMockBackend, ReadinessFollowsLeadership) {
  EXPECT_CALL(mock, start()).WillOnce(Invoke([] {
    report(Role::kLeader, 1, 10s);
    return PGDC_OK;
  }));
  EXPECT_CALL(mock, stop(_, _)).WillOnce(Return(PGDC_OK));
  std::string error;
  ASSERT_TRUE(plugin->start(&error)) << error;
  EXPECT_TRUE(state.ready());

  report(Role::kFollower, 0, 0ms, "other");
  EXPECT_FALSE(state.ready());
  EXPECT_EQ(state.snapshot().holder, "other");

  report(Role::kLeader, 2, 10s);
  EXPECT_TRUE(state.ready());
  EXPECT_EQ(state.current_term()->epoch, (Epoch{"uid", 2}));
  ASSERT_TRUE(plugin->stop(false, HostServices::to_ns(LeaseClock::now() + 1s), &error));
}

TEST_F(CoreWithMockBackend, HolderAddressIsCarriedAndOptionalForAbi10Plugins) {
  EXPECT_CALL(mock, start()).WillOnce(Return(PGDC_OK));
  EXPECT_CALL(mock, stop(_, _)).WillOnce(Return(PGDC_OK));
  std::string error;
  ASSERT_TRUE(plugin->start(&error)) << error;

  pgdc_leadership l{};
  l.size = sizeof l;
  l.role = PGDC_ROLE_FOLLOWER;
  l.holder = pgdc_str{"other", 5};
  l.holder_address = pgdc_str{"10.0.0.9:8080", 13};
  g_host->on_leadership(g_host->ctx, &l);
  EXPECT_EQ(state.snapshot().holder, "other");
  EXPECT_EQ(state.snapshot().holder_address, "10.0.0.9:8080");

  // A plugin built against ABI 1.0 sends the shorter struct: whatever lies
  // beyond its size is not read.
  l.size = static_cast<std::uint32_t>(offsetof(pgdc_leadership, holder_address));
  l.holder = pgdc_str{"third", 5};
  l.holder_address = pgdc_str{"must-not-be-read", 16};
  g_host->on_leadership(g_host->ctx, &l);
  EXPECT_EQ(state.snapshot().holder, "third");
  EXPECT_EQ(state.snapshot().holder_address, "");
  ASSERT_TRUE(plugin->stop(false, HostServices::to_ns(LeaseClock::now() + 1s), &error));
}

TEST_F(CoreWithMockBackend, LosingLeadershipCancelsLeaderWorkBeforeTheReportReturns) {
  EXPECT_CALL(mock, start()).WillOnce(Return(PGDC_OK));
  EXPECT_CALL(mock, stop(_, _)).WillOnce(Return(PGDC_OK));
  std::string error;
  ASSERT_TRUE(plugin->start(&error));
  report(Role::kLeader, 1, 10s);

  std::atomic<bool> running{false};
  std::atomic<bool> finished{false};
  std::thread worker([&] {
    state.run_as_leader(Epoch{"uid", 1}, [&](std::stop_token stop) {
      running = true;
      while (!stop.stop_requested()) std::this_thread::sleep_for(1ms);
      finished = true;
    });
  });
  while (!running) std::this_thread::sleep_for(1ms);
  report(Role::kFollower, 0, 0ms, "other");  // the plugin's thread
  EXPECT_TRUE(finished.load()) << "on_leadership returned while leader work still ran";
  worker.join();
  EXPECT_FALSE(state.snapshot().ready);
  ASSERT_TRUE(plugin->stop(false, HostServices::to_ns(LeaseClock::now() + 1s), &error));
}

TEST_F(CoreWithMockBackend, ShutdownStopsLeaderWorkThenReleasesWithinTheTimeout) {
  EXPECT_CALL(mock, start()).WillOnce(Return(PGDC_OK));
  std::string error;
  ASSERT_TRUE(plugin->start(&error));
  report(Role::kLeader, 1, 10s);
  std::atomic<bool> work_running{false};
  std::atomic<bool> work_stopped{false};
  std::thread worker([&] {
    state.run_as_leader(Epoch{"uid", 1}, [&](std::stop_token stop) {
      work_running = true;
      while (!stop.stop_requested()) std::this_thread::sleep_for(1ms);
      work_stopped = true;
    });
  });
  while (!work_running) std::this_thread::sleep_for(1ms);

  const auto release_timeout = 5s;
  const auto before = LeaseClock::now();
  EXPECT_CALL(mock, stop(1, _)).WillOnce(Invoke([&](std::int32_t, std::int64_t deadline) {
    // By the time the plugin may release, nothing on this replica acts.
    EXPECT_FALSE(state.ready());
    EXPECT_TRUE(work_stopped.load());
    EXPECT_LE(HostServices::from_ns(deadline), LeaseClock::now() + release_timeout);
    EXPECT_GE(HostServices::from_ns(deadline), before + release_timeout);
    return PGDC_OK;
  }));
  const auto r = stop_leadership(state, *plugin, host, release_timeout, 1s);
  worker.join();
  EXPECT_TRUE(r.clean) << r.error;
  EXPECT_FALSE(r.hung);
  EXPECT_LT(r.took, release_timeout);

  // Nothing the plugin says after stop() returned counts.
  report(Role::kLeader, 7, 10s);
  EXPECT_FALSE(state.ready());
  EXPECT_EQ(host.calls_after_close(), 1u);
}

TEST_F(CoreWithMockBackend, FailedReleaseIsReportedNotHidden) {
  EXPECT_CALL(mock, start()).WillOnce(Return(PGDC_OK));
  EXPECT_CALL(mock, stop(1, _)).WillOnce(Return(PGDC_ERR_UNAVAILABLE));
  std::string error;
  ASSERT_TRUE(plugin->start(&error));
  const auto r = stop_leadership(state, *plugin, host, 2s, 1s);
  EXPECT_FALSE(r.clean);
  EXPECT_FALSE(r.hung);
  EXPECT_NE(r.error.find("release refused: 403"), std::string::npos) << r.error;
}

TEST_F(CoreWithMockBackend, ABackendThatIgnoresItsDeadlineCannotHangShutdown) {
  EXPECT_CALL(mock, start()).WillOnce(Return(PGDC_OK));
  std::atomic<bool> let_go{false};
  EXPECT_CALL(mock, stop(1, _)).WillOnce(Invoke([&](std::int32_t, std::int64_t) {
    while (!let_go) std::this_thread::sleep_for(1ms);
    return PGDC_OK;
  }));
  std::string error;
  ASSERT_TRUE(plugin->start(&error));
  const auto r = stop_leadership(state, *plugin, host, 50ms, 50ms);
  EXPECT_TRUE(r.hung);
  EXPECT_FALSE(r.clean);
  let_go = true;  // the daemon would _exit here; the test lets the thread finish
  ASSERT_TRUE(r.late_stop.valid());
  EXPECT_TRUE(r.late_stop.get().first);
}

// The shutdown handover (step 1b): the members come from a fake backend, the
// plugin's stop() from the mock. Handed over: stop() without release (the
// lease is no longer ours). Not handed over: stop() releases as before.
class ShutdownHandover : public CoreWithMockBackend {
 protected:
  void lead_then_prepare(std::vector<members::Member> listed) {
    EXPECT_CALL(mock, start()).WillOnce(Invoke([] {
      report(Role::kLeader, 1, 10s);
      return PGDC_OK;
    }));
    std::string error;
    ASSERT_TRUE(plugin->start(&error)) << error;
    ASSERT_TRUE(state.ready());
    fake.listed = std::move(listed);
    members::MemberServiceOptions o;
    o.self = members::Member{"me", "", "0.1.0", "mock 1.0"};
    o.first_refresh = 1h;
    service = std::make_unique<members::MemberService>(fake, state, nullptr, o);
    service->start();
    service->begin_shutdown();
  }
  void TearDown() override {
    if (service) service->stop();
    CoreWithMockBackend::TearDown();
  }
  static members::Member member(std::string id, std::string version, bool eligible = true) {
    return members::Member{std::move(id), "", std::move(version), "mock 1.0", eligible, 5, false};
  }

  members::test::FakeMemberBackend fake;
  std::unique_ptr<members::MemberService> service;
};

TEST_F(ShutdownHandover, HandsOverToANewerReplicaAndDoesNotRelease) {
  lead_then_prepare({member("me", "0.1.0"), member("old", "0.1.0"), member("new", "0.2.0")});
  EXPECT_CALL(mock, stop(0, _)).WillOnce(Return(PGDC_OK));
  const auto r = stop_leadership(state, *plugin, host, 2s, 1s, service.get());
  EXPECT_TRUE(r.clean) << r.error;
  EXPECT_TRUE(r.handover_tried);
  EXPECT_TRUE(r.handover.handed_over) << r.handover.why;
  EXPECT_EQ(r.handover.target, "new");
  EXPECT_TRUE(r.handover.newer);
  EXPECT_EQ(fake.transfers.load(), 1);
}

TEST_F(ShutdownHandover, FallsBackToTheReleaseWhenTheTransferFails) {
  lead_then_prepare({member("me", "0.1.0"), member("a", "0.1.0")});
  fake.transfer_result = {members::CallResult::Status::kUnavailable, "transfer failed: timeout"};
  EXPECT_CALL(mock, stop(1, _)).WillOnce(Return(PGDC_OK));
  const auto r = stop_leadership(state, *plugin, host, 2s, 1s, service.get());
  EXPECT_TRUE(r.clean) << r.error;
  EXPECT_TRUE(r.handover_tried);
  EXPECT_FALSE(r.handover.handed_over);
  EXPECT_EQ(r.handover.target, "a");
  EXPECT_NE(r.handover.why.find("timeout"), std::string::npos);
}

TEST_F(ShutdownHandover, FallsBackToTheReleaseWithNoEligibleMember) {
  lead_then_prepare({member("me", "0.1.0"), member("off", "0.2.0", false)});
  EXPECT_CALL(mock, stop(1, _)).WillOnce(Return(PGDC_OK));
  const auto r = stop_leadership(state, *plugin, host, 2s, 1s, service.get());
  EXPECT_TRUE(r.clean) << r.error;
  EXPECT_FALSE(r.handover.handed_over);
  EXPECT_EQ(fake.transfers.load(), 0);
}

TEST_F(ShutdownHandover, AFollowerDoesNotHandOver) {
  lead_then_prepare({member("me", "0.1.0"), member("a", "0.1.0")});
  report(Role::kFollower, 0, 0ms, "other");
  EXPECT_CALL(mock, stop(1, _)).WillOnce(Return(PGDC_OK));
  const auto r = stop_leadership(state, *plugin, host, 2s, 1s, service.get());
  EXPECT_FALSE(r.handover_tried);
  EXPECT_EQ(fake.transfers.load(), 0);
}

TEST(CoreWithMockBackendCreate, CreateFailureCarriesThePluginsMessage) {
  ::testing::StrictMock<MockBackend> mock;
  g_mock = &mock;
  g_create_error = "options.kubeconfig: file /nope not found";
  EXPECT_CALL(mock, create(_)).WillOnce(Return(PGDC_ERR_CONFIG));
  LeadershipState state;
  Metrics metrics;
  HostServices host("mock", state, metrics);
  std::string error;
  auto plugin = PluginInstance::create(LoadedPlugin{"/in-process/mock.so", &kDescriptor},
                                       host.c_host(), "{}", &error);
  EXPECT_FALSE(plugin);
  EXPECT_NE(error.find("options.kubeconfig: file /nope not found"), std::string::npos) << error;
  EXPECT_NE(error.find("mock"), std::string::npos) << error;
  g_mock = nullptr;
}

}  // namespace
}  // namespace pgdc
