// Several electors on one fake API server and one time line. Every report
// and every step goes to the IntervalChecker, which proves that no two
// electors may act as leader at the same instant (a leader may act from the
// report that made it leader until its reported validity ends or it reports
// that it stopped) and that epochs (uid, transitions) strictly increase
// within a uid.
//
// Limit of the simulation: a request is atomic on the time line. While one
// replica's request hangs, the others do not run; they run, late, once it
// returns. Interleavings inside a request are tested explicitly with
// Link::before_serve.
#include <gtest/gtest.h>

#include <random>

#include "fakes.h"

namespace pgdc::kube {
namespace {

using namespace std::chrono_literals;
using namespace testing;  // NOLINT: pgdc::kube::testing, the fakes
using ::testing::_;
using ::testing::IsEmpty;
using ::testing::Not;

#define EXPECT_SAFE(sim) EXPECT_THAT((sim).checker.violations(), IsEmpty()) << (sim).checker.dump()

// The time-line instant of the last PUT/POST of `r` that succeeded.
Nanos last_successful_write_sent(const Replica& r) {
  Nanos at{-1};
  for (const auto& rec : r.link.records()) {
    if ((rec.request.method == "PUT" || rec.request.method == "POST") &&
        rec.response.status / 100 == 2) {
      at = r.clock.timeline_of(rec.sent);
    }
  }
  return at;
}

TEST(MultiElector, CreateRaceHasExactlyOneWinner) {
  Sim sim;
  Replica& a = sim.add("pod-a_1");
  Replica& b = sim.add("pod-b_2");
  bool raced = false;
  // While a's create is on its way, b reads (404) and creates first.
  a.link.before_serve = [&](const ApiRequest& r) {
    if (r.method == "POST" && !raced) {
      raced = true;
      b.step();
    }
  };
  a.step();
  ASSERT_TRUE(raced);
  EXPECT_TRUE(b.elector.holding()) << "b holds the Lease it created (acting 15 s later)";
  EXPECT_FALSE(a.elector.holding());
  ASSERT_EQ(a.link.records().size(), 2u);
  EXPECT_EQ(a.link.records()[0].response.status, 404);
  EXPECT_EQ(a.link.records()[1].response.status, 409);
  EXPECT_EQ(json::parse(a.link.records()[1].response.body)["reason"], "AlreadyExists");
  EXPECT_EQ(a.conflicts, 1);
  EXPECT_EQ(a.next, a.clock.steady()) << "reads the winner's Lease at once";
  for (const auto& r : a.reports) EXPECT_FALSE(r.leading) << "a never reported leading";

  sim.run_for(60s);
  EXPECT_FALSE(a.elector.leading());
  EXPECT_TRUE(b.elector.leading());
  EXPECT_EQ(sim.checker.terms().size(), 1u);
  EXPECT_EQ(sim.checker.terms()[0].start(), 15s);
  EXPECT_EQ(a.last_report().holder, "pod-b_2");
  EXPECT_SAFE(sim);
}

TEST(MultiElector, AcquireRaceOnAReleasedLeaseHasExactlyOneWinner) {
  Sim sim;
  sim.server.put_released(9);
  Replica& a = sim.add("pod-a_1");
  Replica& b = sim.add("pod-b_2");
  Replica& c = sim.add("pod-c_3");
  bool raced = false;
  a.link.before_serve = [&](const ApiRequest& r) {
    if (r.method == "PUT" && !raced) {
      raced = true;
      b.step();  // b read the same version and writes first
      c.step();  // c reads b's Lease and waits
    }
  };
  a.step();
  EXPECT_TRUE(b.elector.leading());
  EXPECT_FALSE(a.elector.leading());
  EXPECT_FALSE(c.elector.leading());
  EXPECT_EQ(a.link.records().back().response.status, 409);
  sim.run_for(60s);
  EXPECT_EQ(sim.checker.terms().size(), 1u);
  EXPECT_EQ(sim.checker.terms()[0].epoch, 10u);
  EXPECT_SAFE(sim);
}

TEST(MultiElector, PartitionedLeaderStepsDownBeforeAFollowerCanAcquire) {
  Sim sim;
  sim.server.put_released();  // a takes it at 0 s, in term 1
  Replica& a = sim.add("pod-a_1");
  sim.add("pod-b_2");
  sim.run_until(12s);
  ASSERT_TRUE(a.elector.leading());
  a.partition();  // every request of a is refused from now on
  sim.run_until(60s);

  const auto a_terms = sim.checker.terms_of(0);
  const auto b_terms = sim.checker.terms_of(1);
  ASSERT_EQ(a_terms.size(), 1u);
  ASSERT_EQ(b_terms.size(), 1u);
  const Nanos last_renew = last_successful_write_sent(a);
  EXPECT_EQ(last_renew, 10s);
  EXPECT_EQ(a_terms[0].end(), last_renew + 10s) << "last renew sent + renew deadline";
  EXPECT_EQ(b_terms[0].start(), 25s) << "b saw the 10 s renewal at 10 s; + 15 s";
  const Nanos margin = b_terms[0].start() - a_terms[0].end();
  EXPECT_GT(margin, Nanos::zero());
  EXPECT_EQ(margin, 5s) << "lease duration - renew deadline";
  EXPECT_GT(b_terms[0].epoch, a_terms[0].epoch);
  EXPECT_SAFE(sim);
}

TEST(MultiElector, PartitionedLeaderWhoseRequestsHangStepsDownBeforeAFollowerCanAcquire) {
  Sim sim;
  sim.server.put_released();  // a takes it at 0 s, in term 1
  Replica& a = sim.add("pod-a_1");
  sim.add("pod-b_2");
  sim.run_until(12s);
  ASSERT_TRUE(a.elector.leading());
  a.partition(Fault::hang());
  sim.run_until(60s);
  const auto a_terms = sim.checker.terms_of(0);
  const auto b_terms = sim.checker.terms_of(1);
  ASSERT_EQ(a_terms.size(), 1u);
  ASSERT_EQ(b_terms.size(), 1u) << sim.checker.dump() << sim[1].all_logs();
  EXPECT_EQ(a_terms[0].end(), 20s);
  EXPECT_GE(b_terms[0].start(), 25s);
  for (const auto& rec : a.link.records()) {
    if (a.clock.timeline_of(rec.sent) >= 20s) break;  // a stopped leading at 20 s
    EXPECT_LE(a.clock.timeline_of(rec.sent + rec.request.timeout), 20s)
        << "no request of the leader outlives its validity";
  }
  EXPECT_SAFE(sim);
}

TEST(MultiElector, FollowerWithAWatchTakesOverExactlyOneDurationAfterTheLastRenewal) {
  Sim sim;
  sim.server.put_released();  // a takes it at 0 s, in term 1
  Replica& a = sim.add("pod-a_1");
  Replica& b = sim.add("pod-b_2");
  b.set_watching(true);
  sim.run_until(12s);
  a.partition();
  sim.run_until(60s);
  const auto b_terms = sim.checker.terms_of(1);
  ASSERT_EQ(b_terms.size(), 1u);
  EXPECT_EQ(b_terms[0].start(), 25s) << "10 s (last renewal, seen on the watch) + 15 s";
  EXPECT_EQ(b.sent_times("GET").size(), 0u) << "the watch did all the reading";
  EXPECT_SAFE(sim);
}

class ApiDownForEveryone : public ::testing::TestWithParam<int> {};

Fault outage_fault(int kind) {
  switch (kind) {
    case 0:
      return Fault::refused();
    case 1:
      return Fault::hang();
    case 2:
      return Fault::http(503, 2s);
    case 3:
      return Fault::http(429, 7s);
    default:
      return Fault::http(500);
  }
}

TEST_P(ApiDownForEveryone, AtMostOneLeaderAtEveryStepAndOneAfterwards) {
  Sim sim;
  sim.server.put_released();
  Replica& a = sim.add("pod-a_1");
  sim.add("pod-b_2");
  Replica& c = sim.add("pod-c_3");
  c.set_watching(true);
  sim.run_until(12s);
  ASSERT_TRUE(a.elector.leading());
  sim.server.faults().during(12s, 42s, outage_fault(GetParam()));
  sim.run_until(42s);
  EXPECT_EQ(sim.leaders_now(), 0) << "nobody can renew through the outage";
  const auto a_terms = sim.checker.terms_of(0);
  ASSERT_EQ(a_terms.size(), 1u);
  EXPECT_LE(a_terms[0].end(), 20s);
  sim.run_until(120s);
  EXPECT_EQ(sim.leaders_now(), 1);
  for (const auto& t : sim.checker.terms()) {
    if (&t == &sim.checker.terms()[0]) continue;
    EXPECT_GE(t.start(), 42s) << to_string(t);
  }
  EXPECT_SAFE(sim);
}

std::string outage_name(const ::testing::TestParamInfo<int>& info) {
  static const char* const kNames[] = {"Refused", "Hang", "Unavailable503", "Throttled429",
                                       "InternalError500"};
  return kNames[info.param];
}

INSTANTIATE_TEST_SUITE_P(Faults, ApiDownForEveryone, ::testing::Values(0, 1, 2, 3, 4), outage_name);

TEST(MultiElector, ReContentionWithoutRestartHasStrictlyIncreasingEpochs) {
  Sim sim;
  sim.server.put_released();  // a takes it at 0 s, in term 1
  Replica& a = sim.add("pod-a_1");
  Replica& b = sim.add("pod-b_2");
  sim.run_until(12s);
  a.partition();
  sim.run_until(30s);
  ASSERT_TRUE(b.elector.leading());
  a.heal();
  sim.run_until(32s);
  b.partition();
  sim.run_until(80s);
  ASSERT_TRUE(a.elector.leading()) << a.all_logs();

  const auto& terms = sim.checker.terms();
  ASSERT_EQ(terms.size(), 3u) << sim.checker.dump();
  EXPECT_EQ(terms[0].who, 0);
  EXPECT_EQ(terms[1].who, 1);
  EXPECT_EQ(terms[2].who, 0);
  EXPECT_EQ(terms[0].uid, terms[2].uid);
  EXPECT_EQ(terms[0].epoch, 1u);
  EXPECT_EQ(terms[1].epoch, 2u);
  EXPECT_EQ(terms[2].epoch, 3u);
  EXPECT_SAFE(sim);
}

TEST(MultiElector, ReleasedLeaderKeepsContendingAndLeadsAgain) {
  // a releases but keeps running: it is an ordinary follower afterwards and
  // takes the Lease again when b releases it (no restart needed).
  Sim sim;
  sim.server.put_released();  // a takes it at 0 s, in term 1
  Replica& a = sim.add("pod-a_1");
  Replica& b = sim.add("pod-b_2");
  b.set_watching(true);
  sim.run_until(10s);
  ASSERT_EQ(a.elector.release(a.clock.steady() + 1s), ReleaseOutcome::kReleased);
  sim.run_until(11s);
  ASSERT_TRUE(b.elector.leading());
  ASSERT_FALSE(a.elector.leading());
  sim.run_until(20s);
  ASSERT_EQ(b.elector.release(b.clock.steady() + 1s), ReleaseOutcome::kReleased);
  b.stopped = true;
  sim.run_until(40s);
  ASSERT_TRUE(a.elector.leading());
  const auto a_terms = sim.checker.terms_of(0);
  ASSERT_EQ(a_terms.size(), 2u);
  EXPECT_EQ(a_terms[0].epoch, 1u);
  EXPECT_EQ(a_terms[1].epoch, 3u);
  EXPECT_LE(a_terms[1].start(), 25s) << "found the released Lease at its next poll";
  std::vector<bool> a_leading;  // a's reported role, collapsed
  for (const auto& r : a.reports) {
    if (a_leading.empty() || a_leading.back() != r.leading) a_leading.push_back(r.leading);
  }
  EXPECT_EQ(a_leading, (std::vector<bool>{false, true, false, true}));
  EXPECT_SAFE(sim);
}

TEST(MultiElector, HandoverByReleaseCostsOneRequestForAWatchingFollower) {
  Sim sim;
  sim.server.put_released();  // a takes it at 0 s, in term 1
  Replica& a = sim.add("pod-a_1");
  Replica& b = sim.add("pod-b_2");
  b.set_watching(true);
  sim.run_until(30s);
  ASSERT_TRUE(a.elector.leading());
  EXPECT_THAT(b.link.methods(), IsEmpty());
  // SIGTERM: a's leader work stops, then it releases and exits.
  ASSERT_EQ(a.elector.release(a.clock.steady() + 5s), ReleaseOutcome::kReleased);
  a.stopped = true;
  sim.run_until(31s);
  ASSERT_TRUE(b.elector.leading());
  EXPECT_EQ(b.link.methods(), std::vector<std::string>{"PUT"});
  const auto b_terms = sim.checker.terms_of(1);
  ASSERT_EQ(b_terms.size(), 1u);
  EXPECT_EQ(b_terms[0].start(), 30s) << "handover within the same instant, no poll interval";
  EXPECT_EQ(sim.checker.terms_of(0)[0].end(), 30s);
  EXPECT_SAFE(sim);
}

TEST(MultiElector, IdleFollowerWithAHealthyWatchMakesNoRequestsWhileTheLeaderRenews) {
  Sim sim;
  sim.server.put_released();  // a takes it at 0 s, in term 1
  Replica& a = sim.add("pod-a_1");
  Replica& b = sim.add("pod-b_2");
  b.set_watching(true);
  EXPECT_CALL(b.transport, send(_)).Times(0);
  sim.run_until(60s);
  EXPECT_TRUE(a.elector.leading());
  EXPECT_EQ(a.renew_ok, 12);
  EXPECT_FALSE(b.elector.leading());
  EXPECT_SAFE(sim);
}

TEST(MultiElector, FollowerWithoutAWatchPollsEveryRetryPeriod) {
  Sim sim;
  sim.server.put_released();  // a takes it at 0 s, in term 1
  sim.add("pod-a_1");
  Replica& b = sim.add("pod-b_2");
  sim.run_until(60s);
  const auto gets = b.sent_times("GET");
  ASSERT_EQ(gets.size(), 13u);
  for (std::size_t i = 1; i < gets.size(); ++i) EXPECT_EQ(gets[i] - gets[i - 1], 5s);
  EXPECT_THAT(b.sent_times("PUT"), IsEmpty());
}

TEST(MultiElector, PausedLeaderNeverOverlapsWithItsSuccessor) {
  Sim sim;
  sim.server.put_released();  // a takes it at 0 s, in term 1
  Replica& a = sim.add("pod-a_1");
  Replica& b = sim.add("pod-b_2");
  sim.run_until(7s);
  a.paused_until = 37s;  // SIGSTOP for 30 s, longer than the lease duration
  const std::size_t before = a.link.records().size();
  sim.run_until(37s - 1ns);
  EXPECT_TRUE(b.elector.leading());
  EXPECT_TRUE(a.elector.leading()) << "a has not run: it does not know yet";
  EXPECT_FALSE(sim.checker.leading_at(0, 36s)) << "but its validity ran out at 15 s";
  sim.run_until(37s);
  EXPECT_FALSE(a.elector.leading());
  EXPECT_EQ(a.link.records().size(), before + 1) << "stepping down took no request; then a read";
  EXPECT_EQ(sim.checker.terms_of(0)[0].end(), 15s);
  EXPECT_EQ(sim.checker.terms_of(1)[0].start(), 20s);
  EXPECT_SAFE(sim);
}

// CHARACTERIZATION, NOT A GUARANTEE. Duplicate identity is a configuration
// error outside the elector's guarantees (identities must be unique per
// process incarnation). What the elector does: a replica leads only on the
// strength of its own writes, so the second elector, seeing "its" name in a
// term it did not write, waits it out like anyone's, and the first keeps
// renewing. (Races between their writes, with answers lost, can still make
// both believe a term theirs: nothing on the Lease tells them apart.)
TEST(MultiElector, DuplicateIdentityCharacterization) {
  Sim sim;
  sim.server.put_released();  // a takes it at 0 s, in term 1
  Replica& a = sim.add("pod-dup_1");
  Replica& b = sim.add("pod-dup_1");
  sim.run_until(60s);
  EXPECT_THAT(sim.checker.violations(), IsEmpty()) << sim.checker.dump();
  EXPECT_TRUE(a.elector.leading());
  EXPECT_TRUE(b.reports.empty() || !b.last_report().leading);
  EXPECT_THAT(b.sent_times("PUT"), IsEmpty()) << "b never wrote: a's renewals kept the Lease alive";
}

TEST(MultiElector, WallClockJumpsDoNotAffectExpiryDecisions) {
  Sim sim;
  sim.server.put_released();  // a takes it at 0 s, in term 1
  Replica& a = sim.add("pod-a_1");
  Replica& b = sim.add("pod-b_2");
  sim.run_until(3s);
  a.clock.jump_wall(-6h);
  b.clock.jump_wall(+6h);
  sim.run_until(8s);
  b.clock.jump_wall(-24h);
  sim.run_until(12s);
  a.partition();
  sim.run_until(60s);
  const auto b_terms = sim.checker.terms_of(1);
  ASSERT_EQ(b_terms.size(), 1u);
  EXPECT_EQ(b_terms[0].start(), 25s);
  EXPECT_EQ(sim.checker.terms_of(0)[0].end(), 20s);
  EXPECT_SAFE(sim);
}

TEST(MultiElector, ClockRateSkewWithinToleranceKeepsOneLeader) {
  // Documented tolerance: follower rate / leader rate < duration / renew
  // deadline = 1.5. Here 1.15 / 0.8 = 1.44, with a watching follower that
  // acts at the exact expiry instant.
  Sim sim;
  sim.server.put_released();  // a takes it at 0 s, in term 1
  FakeClock::Options slow, fast;
  slow.rate = 0.8;
  fast.rate = 1.15;
  Replica& a = sim.add("pod-a_1", slow);
  Replica& b = sim.add("pod-b_2", fast);
  b.set_watching(true);
  sim.run_until(12s);
  a.partition();
  sim.run_until(60s);
  const auto a_terms = sim.checker.terms_of(0);
  const auto b_terms = sim.checker.terms_of(1);
  ASSERT_EQ(a_terms.size(), 1u);
  ASSERT_EQ(b_terms.size(), 1u);
  EXPECT_GT(b_terms[0].start() - a_terms[0].end(), Nanos::zero());
  EXPECT_SAFE(sim);
  (void)a;
}

TEST(MultiElector, ClockRateSkewBeyondToleranceIsCaughtByTheChecker) {
  // 1.2 / 0.7 = 1.71 > 1.5: outside the documented tolerance, two leaders
  // overlap. This shows the limit is real and the checker is not vacuous.
  Sim sim;
  sim.server.put_released();  // a takes it at 0 s, in term 1
  FakeClock::Options slow, fast;
  slow.rate = 0.7;
  fast.rate = 1.2;
  Replica& a = sim.add("pod-a_1", slow);
  Replica& b = sim.add("pod-b_2", fast);
  b.set_watching(true);
  sim.run_until(12s);
  a.partition();
  sim.run_until(60s);
  EXPECT_THAT(sim.checker.violations(), Not(IsEmpty())) << sim.checker.dump();
  (void)a;
}

TEST(MultiElector, LeaseDeletedWhileHeldWatchingFollowerRecreatesButWaitsToAct) {
  Sim sim;
  sim.server.put_released();  // a takes it at 0 s, in term 1
  sim.add("pod-a_1");
  Replica& b = sim.add("pod-b_2");
  b.set_watching(true);
  sim.run_until(7s);
  const std::string uid1 = sim.server.uid();
  sim.server.delete_lease();
  sim.run_until(60s);
  // b saw the deletion on its watch and created the Lease at once; a's next
  // renewal (10 s) found b's Lease and a stepped down; b acted only a full
  // duration after its create, when a's term had long ended.
  EXPECT_NE(sim.server.uid(), uid1);
  EXPECT_EQ(b.sent_times("POST"), std::vector<LeaseTime>{b.at(7s)});
  const auto a_terms = sim.checker.terms_of(0);
  ASSERT_EQ(a_terms.size(), 1u);
  EXPECT_EQ(a_terms[0].end(), 10s);
  const auto b_terms = sim.checker.terms_of(1);
  ASSERT_EQ(b_terms.size(), 1u);
  EXPECT_EQ(b_terms[0].start(), 22s);
  EXPECT_EQ(b_terms[0].uid, sim.server.uid());
  EXPECT_EQ(b_terms[0].epoch, 1u);
  EXPECT_SAFE(sim);
}

TEST(MultiElector, LeaseDeletedWhilePartitionedLeaderHoldsItWatchingFollowerWaits) {
  Sim sim;
  sim.server.put_released();  // a takes it at 0 s, in term 1
  Replica& a = sim.add("pod-a_1");
  Replica& b = sim.add("pod-b_2");
  b.set_watching(true);
  sim.run_until(15s);  // a renewed at 15 s: valid until 25 s
  a.partition();
  sim.timeline.advance(500ms);
  sim.server.delete_lease();
  sim.run_until(60s);
  const auto b_terms = sim.checker.terms_of(1);
  ASSERT_EQ(b_terms.size(), 1u);
  EXPECT_EQ(b_terms[0].start(), 30500ms) << "created when the deletion was seen, + 15 s";
  EXPECT_SAFE(sim);
}

TEST(MultiElector, LeaseDeletedWhilePartitionedLeaderHoldsItPollingFollowerWithAMissedPollWaits) {
  // b polls. Its poll at 10 s fails (503), so it last saw the Lease at 5 s.
  // a renews at 15 s (valid until 25 s) and is then cut off; the Lease is
  // deleted just before b's next read at 15 s. b must not create before a's
  // term can have ended: the renewal it never saw may be as late as its read.
  Sim sim;
  sim.server.put_released();  // a takes it at 0 s, in term 1
  Replica& a = sim.add("pod-a_1");
  Replica& b = sim.add("pod-b_2");
  b.link.faults().during(9s, 11s, Fault::http(503));
  bool deleted = false;
  b.link.before_serve = [&](const ApiRequest& r) {
    if (!deleted && r.method == "GET" && sim.timeline.now() >= 15s) {
      deleted = true;
      a.partition();
      sim.server.delete_lease();
    }
  };
  sim.run_until(60s);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(sim.checker.terms_of(0)[0].end(), 25s);
  const auto b_terms = sim.checker.terms_of(1);
  ASSERT_EQ(b_terms.size(), 1u);
  EXPECT_GE(b_terms[0].start(), 25s);
  EXPECT_SAFE(sim);
}

TEST(MultiElector, LeaseDeletedAfterAnUnseenTakeoverFormerLeaderWaits) {
  // a led, was cut off and stepped down at 20 s with the Lease still naming
  // it; b took over at 25 s, unseen by a. After b's renewal at 30 s, b is
  // cut off too (valid until 40 s) and the Lease is deleted. a's read, once
  // healed, gets 404: it must not create while b may still act.
  Sim sim;
  sim.server.put_released();  // a takes it at 0 s, in term 1
  Replica& a = sim.add("pod-a_1");
  Replica& b = sim.add("pod-b_2");
  sim.run_until(12s);
  a.partition();
  sim.run_until(30s);
  ASSERT_TRUE(b.elector.leading());
  b.partition();
  sim.timeline.advance(500ms);
  sim.server.delete_lease();
  sim.run_until(31s);
  a.heal();
  sim.run_until(80s);
  EXPECT_EQ(sim.checker.terms_of(1).back().end(), 40s);
  ASSERT_EQ(sim.checker.terms_of(0).size(), 2u);
  EXPECT_GE(sim.checker.terms_of(0)[1].start(), 40s);
  EXPECT_SAFE(sim);
}

TEST(MultiElector, ThrottlingForEveryoneKeepsAtMostOneLeader) {
  Sim sim;
  sim.add("pod-a_1");
  sim.add("pod-b_2");
  sim.add("pod-c_3");
  sim.server.faults().during(3s, 9s, Fault::http(429, 2s));
  sim.server.faults().during(20s, 50s, Fault::http(429, 4s).only("PUT"));
  sim.run_until(120s);
  EXPECT_EQ(sim.leaders_now(), 1);
  EXPECT_SAFE(sim);
}

// A deterministic soak: random partitions, outages, throttling, hangs,
// latency, lost responses, malformed answers, watch breaks, pauses,
// deletions of an unheld Lease, foreign writers, releases and small
// clock-rate skews (within tolerance) on three electors for ten minutes
// each, many seeds. PGDC_SIM_HISTORY=1 prints a failing seed's history.
TEST(MultiElector, RandomFaultScheduleNeverHasTwoLeadersAtOnce) {
  int total_terms = 0;
  for (unsigned seed = 1; seed <= 24; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    auto uniform = [&](double lo, double hi) {
      return std::uniform_real_distribution<double>(lo, hi)(rng);
    };
    auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
    Sim sim;
    for (int i = 0; i < 3; ++i) {
      FakeClock::Options o;
      o.rate = uniform(0.95, 1.05);
      o.wall_origin += std::chrono::duration_cast<WallTime::duration>(secs(uniform(-7200, 7200)));
      Replica& r = sim.add("pod-" + std::to_string(i) + "_" + std::to_string(seed), o);
      if (pick(2)) r.set_watching(true);
    }
    std::string actions;
    for (int slice = 0; slice < 120; ++slice) {
      const Nanos now = sim.timeline.now();
      const int who = pick(3);
      Replica& r = sim[static_cast<std::size_t>(who)];
      const int action = pick(14);
      actions += std::to_string(now.count() / 1000000) + "ms: action " + std::to_string(action) +
                 " on " + std::to_string(who) + "\n";
      switch (action) {
        case 0:
          r.partition(pick(2) ? Fault::refused() : Fault::hang());
          break;
        case 1:
        case 2:
          r.heal();
          break;
        case 3:
          sim.server.faults().during(now, now + secs(uniform(1, 25)),
                                     pick(2) ? Fault::http(503) : Fault::refused());
          break;
        case 4:
          sim.server.faults().during(now, now + secs(uniform(1, 15)),
                                     Fault::http(429, std::chrono::seconds(pick(6))));
          break;
        case 5:
          r.link.set_latency(secs(uniform(0, 1.5)), secs(uniform(0, 1.5)));
          break;
        case 6:
          r.link.faults().next(1 + pick(3), pick(2) ? Fault::lose_response()
                                                    : Fault::respond(200, "{\"kind\":\"Lease\"}"));
          break;
        case 7:
          r.set_watching(!r.watching);
          break;
        case 8:
          r.paused_until = now + secs(uniform(0, 30));
          break;
        case 9:
          if (pick(3) == 0) sim.server.delete_lease();  // held or not
          break;
        case 10:
          if (sim.server.lease()) {
            sim.server.modify([&](json& o) { o["metadata"]["annotations"]["n"] = slice; });
          }
          break;
        case 11:
          if (r.elector.leading() && now >= r.paused_until) {
            r.elector.release(r.clock.steady() + 2s);
          }
          break;
        case 12:
          r.link.faults().next(1, Fault::slow(secs(uniform(0, 8))));
          break;
        default:
          sim.server.faults().clear();
          for (auto& x : sim.replicas) x->heal();
          break;
      }
      sim.run_for(5s);
    }
    // Heal everything: someone must lead again.
    sim.server.faults().clear();
    for (auto& x : sim.replicas) {
      x->heal();
      x->link.set_latency(Nanos::zero(), Nanos::zero());
      x->paused_until = Nanos::zero();
    }
    sim.run_for(120s);
    EXPECT_EQ(sim.leaders_now(), 1) << sim.checker.dump();
    EXPECT_SAFE(sim);
    if (!sim.checker.violations().empty() && std::getenv("PGDC_SIM_HISTORY")) {
      std::string h = actions;
      for (auto& x : sim.replicas) h += x->history();
      ADD_FAILURE() << h;
    }
    total_terms += static_cast<int>(sim.checker.terms().size());
  }
  EXPECT_GT(total_terms, 48) << "the schedule must actually move leadership around";
}

}  // namespace
}  // namespace pgdc::kube
