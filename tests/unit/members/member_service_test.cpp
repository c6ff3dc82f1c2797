#include "members/member_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "fake_member_backend.h"
#include "members/members_json.h"
#include "metrics/prometheus_sample.h"

namespace pgdc::members {
namespace {

using namespace std::chrono_literals;
using test::FakeMemberBackend;
using Kind = SwitchoverOutcome::Kind;

// Polls `done` until it holds or 10 s pass.
template <typename F>
bool eventually(F done) {
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

Member m(std::string id, std::string version, bool eligible = true, std::int64_t age = 100,
         bool stale = false) {
  return Member{std::move(id), "10.0.0.1:8080", std::move(version), "fake 1.0", eligible, age,
                stale};
}

class MemberServiceTest : public ::testing::Test {
 protected:
  MemberServiceTest() : member_metrics(metrics) {
    backend.listed = {m("b", "0.1.0"), m("self", "0.1.0"), m("a", "0.1.0")};
  }
  std::unique_ptr<MemberService> make() {
    MemberServiceOptions o;
    o.self = Member{"self", "127.0.0.1:8080", "0.1.0", "fake 1.0"};
    o.cache_ttl = 1h;  // a test decides when a list is fresh
    o.refresh_interval = 1h;
    o.first_refresh = 1h;
    auto s = std::make_unique<MemberService>(backend, state, &member_metrics, o);
    s->set_fenced([this] { return fenced.load(); });
    return s;
  }
  void lead(std::uint64_t term) {
    Observation obs;
    obs.role = Role::kLeader;
    obs.holder = "self";
    obs.epoch = Epoch{"scope", term};
    obs.valid_until = LeaseTime::max();
    state.apply(obs);
  }
  // Runs a switchover to completion.
  SwitchoverOutcome switchover(MemberService& s, std::optional<std::string> to,
                               Epoch epoch = Epoch{"scope", 1}) {
    std::promise<SwitchoverOutcome> p;
    s.switchover(std::move(to), epoch, "a test",
                 [&](const SwitchoverOutcome& o) { p.set_value(o); });
    return p.get_future().get();
  }
  MembersView list(MemberService& s) {
    std::promise<MembersView> p;
    s.members([&](const MembersView& v) { p.set_value(v); });
    return p.get_future().get();
  }
  std::string gauge(const std::string& series) {
    return pgdc::test::sample(metrics.serialize(), "pgdog_control_" + series);
  }

  FakeMemberBackend backend;
  LeadershipState state;
  Metrics metrics;
  MemberMetrics member_metrics;
  std::atomic<bool> fenced{false};
};

TEST_F(MemberServiceTest, StartPublishesThisReplicaAsEligible) {
  auto s = make();
  s->start();
  std::lock_guard l(backend.mutex);
  ASSERT_EQ(backend.published.size(), 1u);
  const Member& p = backend.published[0];
  EXPECT_EQ(p.identity, "self");
  EXPECT_EQ(p.address, "127.0.0.1:8080");
  EXPECT_EQ(p.version, "0.1.0");
  EXPECT_EQ(p.backend, "fake 1.0");
  EXPECT_TRUE(p.eligible);
}

TEST_F(MemberServiceTest, ShutdownPublishesNotEligible) {
  auto s = make();
  s->start();
  s->begin_shutdown();
  std::lock_guard l(backend.mutex);
  ASSERT_EQ(backend.published.size(), 2u);
  EXPECT_FALSE(backend.published[1].eligible);
}

TEST_F(MemberServiceTest, FencingPublishesNotEligibleAndItsEndEligibleAgain) {
  auto s = make();
  s->start();
  fenced = true;
  lead(1);  // any leadership change makes the service look again
  ASSERT_TRUE(eventually([&] { return backend.publishes.load() == 2; }));
  {
    std::lock_guard l(backend.mutex);
    EXPECT_FALSE(backend.published[1].eligible);
  }
  fenced = false;
  lead(2);
  ASSERT_TRUE(eventually([&] { return backend.publishes.load() == 3; }));
  std::lock_guard l(backend.mutex);
  EXPECT_TRUE(backend.published[2].eligible);
}

TEST_F(MemberServiceTest, ListIsSortedWithRolesAndSelf) {
  auto s = make();
  s->start();
  const MembersView v = list(*s);
  ASSERT_TRUE(v.ok);
  const auto j = members_json(v, "self", "b");
  EXPECT_EQ(j["self"], "self");
  EXPECT_EQ(j["leader"], "b");
  EXPECT_EQ(j["members_supported"], true);
  EXPECT_EQ(j["switchover_supported"], true);
  ASSERT_EQ(j["members"].size(), 3u);
  EXPECT_EQ(j["members"][0]["identity"], "a");
  EXPECT_EQ(j["members"][0]["role"], "follower");
  EXPECT_EQ(j["members"][1]["identity"], "b");
  EXPECT_EQ(j["members"][1]["role"], "leader");
  EXPECT_EQ(j["members"][2]["self"], true);
  EXPECT_EQ(j["members"][2]["address"], "10.0.0.1:8080");
  EXPECT_EQ(j["members"][2]["heartbeat_age_ms"], 100);
  EXPECT_EQ(j["members"][2]["stale"], false);
  EXPECT_EQ(j["members"][2]["eligible"], true);
  EXPECT_EQ(members_json(v, "self", "")["members"][1]["role"], "follower");
}

TEST_F(MemberServiceTest, SelfMissingFromTheBackendIsAddedFromLocalKnowledge) {
  backend.listed = {m("a", "0.1.0")};
  auto s = make();
  s->start();
  const MembersView v = list(*s);
  ASSERT_EQ(v.members.size(), 2u);
  EXPECT_EQ(v.members[1].identity, "self");
  EXPECT_EQ(v.members[1].heartbeat_age_ms, -1);
}

TEST_F(MemberServiceTest, WithoutMembersListOnlySelf) {
  backend.list_offered = false;
  backend.transfer_offered = false;
  auto s = make();
  s->start();
  const MembersView v = list(*s);
  ASSERT_TRUE(v.ok);
  EXPECT_FALSE(v.members_supported);
  EXPECT_FALSE(v.switchover_supported);
  ASSERT_EQ(v.members.size(), 1u);
  EXPECT_EQ(v.members[0].identity, "self");
  EXPECT_TRUE(v.members[0].eligible);
  EXPECT_EQ(backend.lists.load(), 0);
  EXPECT_EQ(switchover(*s, "a").kind, Kind::kUnsupported);
}

TEST_F(MemberServiceTest, ConcurrentCallersShareOneBackendList) {
  auto s = make();
  s->start();
  backend.hold();
  std::atomic<int> answered{0};
  constexpr int kCallers = 50;
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&] {
      s->members([&](const MembersView& v) {
        if (v.ok && v.members.size() == 3) ++answered;
      });
    });
  }
  for (auto& t : callers) t.join();
  ASSERT_TRUE(eventually([&] { return backend.entered.load() >= 1; }));
  backend.release();
  ASSERT_TRUE(eventually([&] { return answered.load() == kCallers; }));
  EXPECT_EQ(backend.lists.load(), 1);
  (void)list(*s);  // fresh: from the cache
  EXPECT_EQ(backend.lists.load(), 1);
}

TEST_F(MemberServiceTest, AFailedListIsReportedAndCachedToo) {
  backend.list_result = {CallResult::Status::kUnavailable, "members_list failed: timeout"};
  auto s = make();
  s->start();
  const MembersView v = list(*s);
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.error.find("timeout"), std::string::npos);
  (void)list(*s);
  EXPECT_EQ(backend.lists.load(), 1);
}

TEST_F(MemberServiceTest, TheCacheExpires) {
  MemberServiceOptions o;
  o.self = Member{"self", "", "0.1.0", "fake 1.0"};
  o.cache_ttl = 0ms;
  o.first_refresh = 1h;
  MemberService s(backend, state, nullptr, o);
  s.start();
  (void)list(s);
  (void)list(s);
  EXPECT_EQ(backend.lists.load(), 2);
}

TEST_F(MemberServiceTest, GaugesCountMembersByState) {
  backend.listed = {m("self", "1"), m("a", "1"), m("b", "1", false), m("c", "1", true, 99999, true),
                    m("d", "1", false, 99999, true)};
  auto s = make();
  s->start();
  (void)list(*s);
  EXPECT_EQ(gauge("members{state=\"eligible\"}"), "2");
  EXPECT_EQ(gauge("members{state=\"ineligible\"}"), "1");
  EXPECT_EQ(gauge("members{state=\"stale\"}"), "2");
}

TEST_F(MemberServiceTest, TheFirstRefreshIsAtStart) {
  MemberServiceOptions o;
  o.self = Member{"self", "", "0.1.0", "fake 1.0"};
  o.refresh_interval = 1h;
  MemberService s(backend, state, &member_metrics, o);
  s.start();
  ASSERT_TRUE(eventually([&] { return gauge("members{state=\"eligible\"}") == "3"; }));
  EXPECT_EQ(backend.lists.load(), 1);
}

TEST_F(MemberServiceTest, TheLeaderListsWithoutAClientAFollowerOnlyOnceAtStart) {
  MemberServiceOptions o;
  o.self = Member{"self", "", "0.1.0", "fake 1.0"};
  o.cache_ttl = 0ms;
  o.refresh_interval = 10ms;
  MemberService s(backend, state, &member_metrics, o);
  s.start();
  ASSERT_TRUE(eventually([&] { return backend.lists.load() >= 1; }));
  EXPECT_EQ(gauge("members{state=\"eligible\"}"), "3");
  // A follower: every periodic list would be a backend request for a view
  // the leader already has.
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(backend.lists.load(), 1);
  lead(1);
  ASSERT_TRUE(eventually([&] { return backend.lists.load() >= 3; }));
}

TEST_F(MemberServiceTest, SwitchoverToANamedMember) {
  lead(1);
  auto s = make();
  s->start();
  const auto o = switchover(*s, "a");
  ASSERT_EQ(o.kind, Kind::kOk) << o.message;
  EXPECT_EQ(o.from, "self");
  EXPECT_EQ(o.to, "a");
  EXPECT_EQ(o.epoch, "scope/1");
  std::lock_guard l(backend.mutex);
  EXPECT_EQ(backend.transferred_to, std::vector<std::string>{"a"});
}

TEST_F(MemberServiceTest, SwitchoverAutomaticPrefersNewerThenFresher) {
  backend.listed = {m("self", "0.1.0"), m("old", "0.1.0", true, 1),
                    m("new-slow", "0.2.0", true, 900), m("new-fast", "0.2.0", true, 20),
                    m("newest-stale", "0.3.0", true, 1, true)};
  lead(1);
  auto s = make();
  s->start();
  const auto o = switchover(*s, std::nullopt);
  ASSERT_EQ(o.kind, Kind::kOk) << o.message;
  EXPECT_EQ(o.to, "new-fast");
}

TEST_F(MemberServiceTest, EveryRefusal) {
  backend.listed = {m("self", "1"), m("off", "1", false), m("gone", "1", true, 99999, true)};
  lead(1);
  auto s = make();
  s->start();
  EXPECT_EQ(switchover(*s, "nobody").kind, Kind::kUnknownMember);
  EXPECT_EQ(switchover(*s, "self").kind, Kind::kRefused);
  EXPECT_EQ(switchover(*s, "off").kind, Kind::kRefused);
  EXPECT_EQ(switchover(*s, "gone").kind, Kind::kRefused);
  const auto none = switchover(*s, std::nullopt);
  EXPECT_EQ(none.kind, Kind::kRefused);
  EXPECT_NE(none.message.find("no eligible"), std::string::npos) << none.message;
  EXPECT_EQ(backend.transfers.load(), 0);
  EXPECT_EQ(gauge("switchovers_total{result=\"refused\"}"), "5");
}

TEST_F(MemberServiceTest, RefusedWhenNoLongerLeadingInThatEpoch) {
  lead(2);
  auto s = make();
  s->start();
  const auto o = switchover(*s, "a", Epoch{"scope", 1});
  EXPECT_EQ(o.kind, Kind::kRefused);
  EXPECT_NE(o.message.find("no longer leads"), std::string::npos) << o.message;
  EXPECT_EQ(backend.transfers.load(), 0);
}

TEST_F(MemberServiceTest, TransferFailuresMapToRefusedOrFailed) {
  lead(1);
  auto s = make();
  s->start();
  backend.transfer_result = {CallResult::Status::kConflict,
                             "transfer failed: conflict: not leading"};
  EXPECT_EQ(switchover(*s, "a").kind, Kind::kRefused);
  // The term ended here before the transfer; the plugin refused without
  // stepping down (it still reports the term): it resumes at once.
  EXPECT_TRUE(state.ready()) << "a refused handover's term resumes";
  backend.transfer_result = {CallResult::Status::kUnavailable, "transfer failed: timeout"};
  const auto o = switchover(*s, "a");
  EXPECT_EQ(o.kind, Kind::kFailed);
  EXPECT_NE(o.message.find("timeout"), std::string::npos);
  lead(1);
  backend.transfer_result = {CallResult::Status::kOk, ""};
  EXPECT_EQ(switchover(*s, "a").kind, Kind::kOk);
  EXPECT_EQ(gauge("switchovers_total{result=\"ok\"}"), "1");
  EXPECT_EQ(gauge("switchovers_total{result=\"refused\"}"), "1");
  EXPECT_EQ(gauge("switchovers_total{result=\"failed\"}"), "1");
}

TEST_F(MemberServiceTest, NoHandoverWhileLeaderWorkIsStillRunning) {
  // Leader work that ignores its stop token past the stop-work timeout: a
  // handover now would let the target act beside it.
  lead(1);
  auto s = make();
  s->start();
  std::promise<void> release_work;
  std::shared_future<void> released = release_work.get_future().share();
  std::atomic<bool> running{false};
  std::thread work([&] {
    state.run_as_leader(Epoch{"scope", 1}, [&](std::stop_token) {
      running = true;
      released.wait();
    });
  });
  ASSERT_TRUE(eventually([&] { return running.load(); }));
  const auto o = switchover(*s, "a");
  release_work.set_value();
  work.join();
  EXPECT_EQ(o.kind, Kind::kFailed);
  EXPECT_NE(o.message.find("did not stop"), std::string::npos) << o.message;
  EXPECT_EQ(backend.transfers.load(), 0) << "handed over while leader work ran";
  EXPECT_TRUE(state.ready()) << "the same leader leads on";
}

TEST_F(MemberServiceTest, ABackendListFailureFailsTheSwitchover) {
  lead(1);
  backend.list_result = {CallResult::Status::kUnavailable, "members_list failed: down"};
  auto s = make();
  s->start();
  EXPECT_EQ(switchover(*s, "a").kind, Kind::kFailed);
}

TEST_F(MemberServiceTest, TransferAndStopNeverOverlap) {
  lead(1);
  auto s = make();
  s->start();
  (void)list(*s);  // warm; entered counts only what follows
  const int before = backend.entered.load();
  backend.hold();
  std::promise<SwitchoverOutcome> outcome;
  s->switchover("a", Epoch{"scope", 1}, "a test",
                [&](const SwitchoverOutcome& o) { outcome.set_value(o); });
  // The switchover lists (held), then transfers (held).
  ASSERT_TRUE(eventually([&] { return backend.entered.load() == before + 1; }));
  std::atomic<bool> stop_ran{false};
  std::atomic<int> in_call_during_stop{-1};
  std::thread stopper([&] {
    s->stop_backend([&] {
      in_call_during_stop = backend.in_call.load();
      stop_ran = true;
      return true;
    });
  });
  backend.release();  // list returns; transfer may already wait on the mutex behind stop
  stopper.join();
  EXPECT_TRUE(stop_ran);
  EXPECT_EQ(in_call_during_stop.load(), 0);  // nothing of the backend ran beside stop()
  EXPECT_EQ(backend.max_in_call.load(), 1);
  const auto o = outcome.get_future().get();
  // Either the transfer won the race (and finished before stop) or stop did
  // (and the switchover was refused without reaching the backend).
  if (backend.transfers.load() == 1) {
    EXPECT_EQ(o.kind, Kind::kOk);
  } else {
    EXPECT_EQ(o.kind, Kind::kFailed);
    EXPECT_NE(o.message.find("stopped"), std::string::npos) << o.message;
  }
  // After stop nothing reaches the backend.
  const int after = backend.entered.load();
  EXPECT_EQ(switchover(*s, "a").kind, Kind::kFailed);
  EXPECT_FALSE(list(*s).ok);
  s->begin_shutdown();
  EXPECT_EQ(backend.entered.load(), after);
}

TEST_F(MemberServiceTest, ShutdownHandoverPrefersANewerVersion) {
  backend.listed = {m("self", "0.1.0"), m("old", "0.1.0", true, 1),
                    m("updated", "0.2.0", true, 800)};
  auto s = make();
  s->start();
  s->begin_shutdown();
  const auto h = s->shutdown_handover(LeaseClock::now() + 5s);
  EXPECT_TRUE(h.handed_over) << h.why;
  EXPECT_EQ(h.target, "updated");
  EXPECT_TRUE(h.newer);
}

TEST_F(MemberServiceTest, ShutdownHandoverTakesAnyEligibleFreshMemberOtherwise) {
  backend.listed = {m("self", "0.2.0"), m("old", "0.1.0", true, 1),
                    m("gone", "0.3.0", true, 1, true)};
  auto s = make();
  s->start();
  const auto h = s->shutdown_handover(LeaseClock::now() + 5s);
  EXPECT_TRUE(h.handed_over) << h.why;
  EXPECT_EQ(h.target, "old");
  EXPECT_FALSE(h.newer);
}

TEST_F(MemberServiceTest, ShutdownHandoverFallsBackWhenNoneOrItFails) {
  backend.listed = {m("self", "0.1.0"), m("off", "0.2.0", false)};
  auto s = make();
  s->start();
  auto none = s->shutdown_handover(LeaseClock::now() + 5s);
  EXPECT_FALSE(none.handed_over);
  EXPECT_TRUE(none.target.empty());
  EXPECT_NE(none.why.find("no eligible"), std::string::npos);
  EXPECT_EQ(backend.transfers.load(), 0);

  backend.listed = {m("self", "0.1.0"), m("a", "0.1.0")};
  backend.transfer_result = {CallResult::Status::kUnavailable, "transfer failed: timeout"};
  auto failed = s->shutdown_handover(LeaseClock::now() + 5s);
  EXPECT_FALSE(failed.handed_over);
  EXPECT_EQ(failed.target, "a");
  EXPECT_NE(failed.why.find("timeout"), std::string::npos);

  backend.transfer_offered = false;
  auto unsupported = s->shutdown_handover(LeaseClock::now() + 5s);
  EXPECT_FALSE(unsupported.handed_over);
  EXPECT_EQ(backend.transfers.load(), 1);
}

}  // namespace
}  // namespace pgdc::members
