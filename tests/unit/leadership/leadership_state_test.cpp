#include "leadership/leadership_state.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace pgdc {
namespace {

using namespace std::chrono_literals;

// A manual clock: tests move time explicitly, so nothing depends on sleeps.
struct FakeClock {
  std::atomic<LeaseClock::rep> ticks{LeaseClock::now().time_since_epoch().count()};
  LeaseTime now() const { return LeaseTime(LeaseClock::duration(ticks.load())); }
  void advance(LeaseClock::duration d) { ticks += d.count(); }
};

class LeadershipStateTest : public ::testing::Test {
 protected:
  LeadershipState make(std::chrono::milliseconds stop_work_timeout = 2000ms) {
    LeadershipOptions o;
    o.stop_work_timeout = stop_work_timeout;
    o.progress_timeout = 10s;
    o.now = [this] { return clock.now(); };
    return LeadershipState(o);
  }
  Observation leader(std::uint64_t term, std::chrono::milliseconds valid_for = 10s,
                     std::string scope = "uid-1") {
    return Observation{Role::kLeader, "me", Epoch{std::move(scope), term}, clock.now() + valid_for,
                       ""};
  }
  Observation follower(std::string holder = "other") {
    return Observation{Role::kFollower, std::move(holder), Epoch{}, LeaseTime::min(), ""};
  }
  FakeClock clock;
};

TEST_F(LeadershipStateTest, StartsAsNotReadyFollower) {
  LeadershipState s = make();
  const auto snap = s.snapshot();
  EXPECT_EQ(snap.role, Role::kFollower);
  EXPECT_FALSE(snap.ready);
  EXPECT_FALSE(s.ready());
  EXPECT_FALSE(s.current_term().has_value());
}

TEST_F(LeadershipStateTest, ReadinessFollowsLeadership) {
  LeadershipState s = make();
  s.apply(leader(1));
  EXPECT_TRUE(s.ready());
  ASSERT_TRUE(s.current_term().has_value());
  EXPECT_EQ(s.current_term()->epoch, (Epoch{"uid-1", 1}));
  EXPECT_EQ(s.snapshot().holder, "me");

  s.apply(follower("other"));
  EXPECT_FALSE(s.ready());
  EXPECT_EQ(s.snapshot().holder, "other");
  EXPECT_EQ(s.snapshot().transitions, 2u);
}

TEST_F(LeadershipStateTest, ReadinessEndsAtTheValidityDeadlineWithoutAnyReport) {
  LeadershipState s = make();
  s.apply(leader(1, 5s));
  clock.advance(4999ms);
  EXPECT_TRUE(s.ready());
  clock.advance(1ms);
  EXPECT_FALSE(s.ready()) << "a silent (wedged) plugin must not keep the replica ready";
  EXPECT_EQ(s.run_as_leader(Epoch{"uid-1", 1}, [](std::stop_token) {}),
            LeadershipState::GuardResult::kExpired);
}

TEST_F(LeadershipStateTest, RenewalExtendsTheSameTerm) {
  LeadershipState s = make();
  s.apply(leader(3, 5s));
  const auto token = s.current_term()->stop;
  clock.advance(4s);
  s.apply(leader(3, 5s));  // renewal: same epoch, later deadline
  clock.advance(4s);
  EXPECT_TRUE(s.ready());
  EXPECT_FALSE(token.stop_requested()) << "a renewal must not end the term";
  EXPECT_EQ(s.snapshot().transitions, 1u);
}

TEST_F(LeadershipStateTest, GuardRunsOnlyWithTheCurrentEpoch) {
  LeadershipState s = make();
  int ran = 0;
  auto work = [&](std::stop_token) { ++ran; };
  EXPECT_EQ(s.run_as_leader(Epoch{"uid-1", 1}, work), LeadershipState::GuardResult::kNotLeader);
  s.apply(leader(1));
  EXPECT_EQ(s.run_as_leader(Epoch{"uid-1", 1}, work), LeadershipState::GuardResult::kRan);
  s.apply(follower());
  s.apply(leader(2));
  EXPECT_EQ(s.run_as_leader(Epoch{"uid-1", 1}, work), LeadershipState::GuardResult::kStaleEpoch)
      << "work stamped with an older epoch must be refused";
  EXPECT_EQ(s.run_as_leader(Epoch{"uid-2", 2}, work), LeadershipState::GuardResult::kStaleEpoch)
      << "same term number in another scope is another epoch";
  EXPECT_EQ(s.run_as_leader(Epoch{"uid-1", 2}, work), LeadershipState::GuardResult::kRan);
  EXPECT_EQ(ran, 2);
}

TEST_F(LeadershipStateTest, LosingLeadershipCancelsLeaderWorkBeforeAnythingElse) {
  LeadershipState s = make();
  s.apply(leader(1));
  std::atomic<bool> work_running{false};
  std::atomic<bool> work_finished{false};
  std::atomic<bool> listener_saw_unfinished_work{false};
  std::atomic<int> follower_notifications{0};
  s.add_listener([&](const LeadershipSnapshot& snap) {
    if (snap.role == Role::kFollower) {
      ++follower_notifications;
      if (!work_finished.load()) listener_saw_unfinished_work = true;
    }
  });
  std::thread worker([&] {
    const auto result = s.run_as_leader(Epoch{"uid-1", 1}, [&](std::stop_token stop) {
      work_running = true;
      while (!stop.stop_requested()) std::this_thread::sleep_for(1ms);
      std::this_thread::sleep_for(20ms);  // cleanup that must finish first
      work_finished = true;
    });
    EXPECT_EQ(result, LeadershipState::GuardResult::kRan);
  });
  while (!work_running.load()) std::this_thread::sleep_for(1ms);

  s.apply(follower());  // returns only after the work above has stopped
  EXPECT_TRUE(work_finished.load()) << "apply() returned before leader work stopped";
  EXPECT_FALSE(s.ready());
  worker.join();
  EXPECT_EQ(follower_notifications.load(), 1);
  EXPECT_FALSE(listener_saw_unfinished_work.load());
}

TEST_F(LeadershipStateTest, RevocationWaitIsBoundedForWorkThatIgnoresItsToken) {
  LeadershipState s = make(50ms);
  s.apply(leader(1));
  std::atomic<bool> started{false};
  std::atomic<bool> release{false};
  std::thread worker([&] {
    s.run_as_leader(Epoch{"uid-1", 1}, [&](std::stop_token) {
      started = true;
      while (!release.load()) std::this_thread::sleep_for(1ms);
    });
  });
  while (!started.load()) std::this_thread::sleep_for(1ms);
  s.apply(follower());  // must return after ~stop_work_timeout, not hang
  EXPECT_FALSE(s.ready());
  release = true;
  worker.join();
}

TEST_F(LeadershipStateTest, NewTermEpochMustIncreaseWithinAScope) {
  LeadershipState s = make();
  s.apply(leader(5));
  s.apply(follower());
  s.apply(leader(5));  // same term again after losing it: a fencing violation
  EXPECT_FALSE(s.ready());
  s.apply(leader(4));
  EXPECT_FALSE(s.ready());
  s.apply(leader(6));
  EXPECT_TRUE(s.ready());
  s.apply(follower());
  s.apply(leader(1, 10s, "uid-2"));  // a new scope (Lease recreated) starts over
  EXPECT_TRUE(s.ready());
}

TEST_F(LeadershipStateTest, ExpiredLeadershipIsIgnored) {
  LeadershipState s = make();
  s.apply(Observation{Role::kLeader, "me", Epoch{"u", 1}, clock.now(), ""});
  EXPECT_FALSE(s.ready());
  EXPECT_EQ(s.snapshot().role, Role::kFollower);
}

TEST_F(LeadershipStateTest, ShutdownTurnsReadinessOffAtOnceAndForever) {
  LeadershipState s = make();
  s.apply(leader(1));
  const auto token = s.current_term()->stop;
  s.begin_shutdown();
  EXPECT_FALSE(s.ready());
  EXPECT_TRUE(token.stop_requested());
  EXPECT_TRUE(s.snapshot().shutting_down);
  s.apply(leader(2));  // nothing revives a stopping replica
  EXPECT_FALSE(s.ready());
  EXPECT_EQ(s.run_as_leader(Epoch{"uid-1", 2}, [](std::stop_token) {}),
            LeadershipState::GuardResult::kShuttingDown);
}

TEST_F(LeadershipStateTest, ExpireIfDueRevokesTheTerm) {
  LeadershipState s = make();
  s.apply(leader(1, 1s));
  const auto token = s.current_term()->stop;
  s.expire_if_due();
  EXPECT_FALSE(token.stop_requested());
  clock.advance(1s);
  s.expire_if_due();
  EXPECT_TRUE(token.stop_requested());
}

// ---------------------------------------------------------------- issue 11

TEST_F(LeadershipStateTest, ALateRenewalOfTheSameTermResumesIt) {
  // The renewal was written in time, but reached the core after the
  // watchdog had ended the term (a slow reply, a descheduled thread). A
  // repeated epoch is an unbroken term (plugin.h), so it resumes: refusing
  // it for ever left the lease held by a replica that never served again.
  LeadershipState s = make();
  s.apply(leader(3, 300ms));
  const auto first = s.current_term()->stop;
  clock.advance(300ms);
  s.expire_if_due();
  EXPECT_FALSE(s.ready());
  EXPECT_TRUE(first.stop_requested()) << "the ended part of the term was revoked";
  clock.advance(100ms);
  s.apply(leader(3, 300ms));  // the late renewal
  ASSERT_TRUE(s.ready());
  EXPECT_EQ(s.current_term()->epoch, (Epoch{"uid-1", 3}));
  EXPECT_FALSE(s.current_term()->stop.stop_requested()) << "a fresh stop token for the new part";
  EXPECT_EQ(s.run_as_leader(Epoch{"uid-1", 3}, [](std::stop_token) {}),
            LeadershipState::GuardResult::kRan);
  EXPECT_EQ(s.wedged_reason(), "");
  // And it keeps working at every later late renewal.
  for (int i = 0; i < 5; ++i) {
    clock.advance(300ms);
    s.expire_if_due();
    EXPECT_FALSE(s.ready());
    clock.advance(100ms);
    s.apply(leader(3, 300ms));
    EXPECT_TRUE(s.ready()) << "round " << i;
  }
}

TEST_F(LeadershipStateTest, ALateRenewalThatIsItselfExpiredWaitsForTheNextOne) {
  LeadershipState s = make();
  s.apply(leader(3, 300ms));
  clock.advance(300ms);
  s.expire_if_due();
  s.apply(Observation{Role::kLeader, "me", Epoch{"uid-1", 3}, clock.now(), ""});  // already over
  EXPECT_FALSE(s.ready());
  s.apply(leader(3, 300ms));
  EXPECT_TRUE(s.ready()) << "the next, valid renewal of the same term still resumes it";
}

TEST_F(LeadershipStateTest, OnlyATermTheCoreEndedAtItsDeadlineResumes) {
  // A term the plugin itself ended (it reported follower) does not come
  // back under the same epoch: that is a fencing violation, refused.
  LeadershipState s = make();
  s.apply(leader(3));
  s.apply(follower("me"));
  s.apply(leader(3));
  EXPECT_FALSE(s.ready());
  // Nor does a term that expired and was followed by another report.
  LeadershipState t = make();
  t.apply(leader(4, 1s));
  clock.advance(1s);
  t.expire_if_due();
  t.apply(follower("other"));
  t.apply(leader(4));
  EXPECT_FALSE(t.ready());
}

TEST_F(LeadershipStateTest, AClaimRefusedForLongerThanTheDisagreementTimeoutFailsHealth) {
  LeadershipOptions o;
  o.now = [this] { return clock.now(); };
  o.disagreement_timeout = 5s;
  LeadershipState s(o);
  s.apply(leader(5));
  s.apply(follower());
  s.apply(leader(5));  // refused: not greater than 5
  EXPECT_FALSE(s.ready());
  EXPECT_EQ(s.snapshot().holder, "") << "a refused claim is not a confirmed holder";
  clock.advance(5s);
  s.apply(leader(5));  // still claiming it
  EXPECT_EQ(s.wedged_reason(), "") << "not longer than the timeout yet";
  clock.advance(1ms);
  EXPECT_NE(s.wedged_reason().find("not greater than the earlier 5"), std::string::npos)
      << s.wedged_reason();
  // A report the core accepts ends the disagreement.
  s.apply(leader(6));
  EXPECT_TRUE(s.ready());
  EXPECT_EQ(s.wedged_reason(), "");
  s.apply(leader(4));
  clock.advance(6s);
  EXPECT_NE(s.wedged_reason(), "");
  s.apply(follower());
  EXPECT_EQ(s.wedged_reason(), "") << "the plugin gave the claim up";
}

TEST_F(LeadershipStateTest, ALeaderWhoseTermRanOutNamesNoHolder) {
  // Until the plugin confirms a holder with a read, naming itself would send
  // clients back to the replica that just lost.
  LeadershipState s = make();
  s.apply(Observation{Role::kLeader, "me", Epoch{"uid-1", 1}, clock.now() + 1s, "10.0.0.1:8080"});
  EXPECT_EQ(s.snapshot().holder, "me");
  EXPECT_EQ(s.snapshot().holder_address, "10.0.0.1:8080");
  clock.advance(1s);  // before the watchdog ran
  EXPECT_EQ(s.snapshot().holder, "");
  EXPECT_EQ(s.snapshot().holder_address, "");
  s.expire_if_due();  // and after
  EXPECT_EQ(s.snapshot().holder, "");
  s.apply(follower("other"));
  EXPECT_EQ(s.snapshot().holder, "other");
  s.begin_shutdown();
  EXPECT_EQ(s.snapshot().holder, "other") << "a follower's confirmed holder stays";
}

TEST_F(LeadershipStateTest, ShutdownSaysWhetherLeaderWorkStoppedInTime) {
  LeadershipState s = make(50ms);
  s.apply(leader(1));
  std::atomic<bool> started{false};
  std::atomic<bool> release{false};
  std::thread worker([&] {
    s.run_as_leader(Epoch{"uid-1", 1}, [&](std::stop_token) {
      started = true;
      while (!release.load()) std::this_thread::sleep_for(1ms);
    });
  });
  while (!started.load()) std::this_thread::sleep_for(1ms);
  EXPECT_FALSE(s.begin_shutdown()) << "work outlived stop_work_timeout: do not release";
  release = true;
  worker.join();

  LeadershipState t = make(50ms);
  t.apply(leader(1));
  EXPECT_TRUE(t.begin_shutdown()) << "no work running: release";
}

TEST(LeadershipWatchdog, StopsLeaderWorkAtTheDeadlineWithoutAnyReport) {
  LeadershipState s;  // the real clock (CLOCK_BOOTTIME)
  s.start_watchdog();
  s.apply(Observation{Role::kLeader, "me", Epoch{"u", 1}, LeaseClock::now() + 50ms, ""});
  const auto term = s.current_term();
  ASSERT_TRUE(term.has_value());
  // Liveness, not timing: the token must fire eventually (generous bound).
  const auto give_up = LeaseClock::now() + 10s;
  while (!term->stop.stop_requested() && LeaseClock::now() < give_up) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(term->stop.stop_requested());
  s.stop_watchdog();
}

TEST_F(LeadershipStateTest, WedgedOnlyAfterProgressStops) {
  LeadershipState s = make();
  EXPECT_EQ(s.wedged_reason(), "") << "a plugin that never reports progress is never wedged";
  s.report_progress();
  clock.advance(10s);
  EXPECT_EQ(s.wedged_reason(), "");
  clock.advance(1ms);
  EXPECT_NE(s.wedged_reason().find("no progress"), std::string::npos);
  s.report_progress();
  EXPECT_EQ(s.wedged_reason(), "");
}

// Run under ThreadSanitizer in CI: readers race with transitions.
TEST_F(LeadershipStateTest, ConcurrentReadersAndTransitionsAreClean) {
  LeadershipState s = make(100ms);
  std::atomic<bool> stop{false};
  std::atomic<long> reads{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        const auto snap = s.snapshot();
        if (snap.ready) {
          EXPECT_EQ(snap.role, Role::kLeader);
        }
        (void)s.ready();
        if (auto t = s.current_term()) {
          s.run_as_leader(t->epoch, [](std::stop_token) {});
        }
        (void)s.wedged_reason();
        ++reads;
      }
    });
  }
  for (std::uint64_t term = 1; term <= 300; ++term) {
    s.apply(leader(term));
    s.report_progress();
    s.apply(leader(term));
    s.apply(follower());
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(s.snapshot().transitions, 600u);
}

}  // namespace
}  // namespace pgdc
