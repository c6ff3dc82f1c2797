// The elector against the fake API server, one replica at a time (plus a
// hand-driven second writer where a scenario needs one). Time is a fake time
// line; "t0" is the instant the replica was made. Default timings: lease
// duration 15 s, renew deadline 10 s, retry period 5 s.
#include <gtest/gtest.h>

#include "fakes.h"

namespace pgdc::kube {
namespace {

using namespace std::chrono_literals;
using namespace testing;  // NOLINT: pgdc::kube::testing, the fakes
using ::testing::_;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::InSequence;
using ::testing::IsEmpty;

constexpr const char* kOldTime = "2026-07-24T14:00:00.000000Z";

// A spec as another holder would have written it.
json held_by(const std::string& holder, int duration = 15, int transitions = 0,
             const std::string& renew = kOldTime) {
  json s{{"holderIdentity", holder},
         {"acquireTime", kOldTime},
         {"renewTime", renew},
         {"leaseTransitions", transitions}};
  if (duration > 0) s["leaseDurationSeconds"] = duration;
  return s;
}

std::string wire(WallTime t) { return format_micro_time(t); }

// Did `r` ever report that it stopped leading after it first led?
bool lost_leadership(const Replica& r) {
  bool led = false;
  for (const auto& s : r.reports) {
    if (s.leading) led = true;
    if (led && !s.leading) return true;
  }
  return false;
}

std::vector<ElectorState> leading_reports(const Replica& r) {
  std::vector<ElectorState> out;
  for (const auto& s : r.reports) {
    if (s.leading) out.push_back(s);
  }
  return out;
}

class ElectorTest : public ::testing::Test {
 protected:
  std::unique_ptr<Replica> make(const std::string& id = "pod-a_1", ReplicaOptions o = {}) {
    return std::make_unique<Replica>(id, server, timeline, o);
  }
  // A replica that took a released Lease (term 0, released by "former_0")
  // at its t0 and leads in term 1.
  std::unique_ptr<Replica> leader(const std::string& id = "pod-a_1", ReplicaOptions o = {}) {
    if (!server.lease()) server.put_released();
    auto r = make(id, o);
    r->step();
    EXPECT_TRUE(r->elector.leading()) << r->all_logs();
    return r;
  }

  Timeline timeline;
  FakeApiServer server{timeline};
};

// ================================================================ acquire

TEST_F(ElectorTest, CreatesAMissingLeaseAtOnceButActsOnlyAFullDurationLater) {
  // A Lease that is not there may have been deleted an instant ago while its
  // holder was valid; the deletion erased who that was. The creator holds
  // (and renews) the new Lease but acts only a full duration later.
  auto a = make();
  {
    InSequence seq;
    EXPECT_CALL(a->transport, send(Method("GET")));
    EXPECT_CALL(a->transport, send(Method("POST")));
  }
  const LeaseTime t0 = a->clock.steady();
  const LeaseTime next = a->step();
  ::testing::Mock::VerifyAndClearExpectations(&a->transport);

  EXPECT_FALSE(a->elector.leading());
  EXPECT_TRUE(a->elector.holding());
  EXPECT_EQ(next, t0 + 5s) << "renews one retry period after the create was sent";
  const json spec = server.spec();
  EXPECT_EQ(spec["holderIdentity"], "pod-a_1");
  EXPECT_EQ(spec["leaseDurationSeconds"], 15);
  EXPECT_EQ(spec["leaseTransitions"], 1);
  EXPECT_EQ(spec["acquireTime"], "2026-07-24T14:05:30.123456Z");
  EXPECT_EQ(spec["renewTime"], "2026-07-24T14:05:30.123456Z");
  ElectorState s = a->last_report();
  EXPECT_FALSE(s.leading);
  EXPECT_EQ(s.holder, "pod-a_1") << "it holds the Lease: clients may wait here";
  EXPECT_EQ(a->acquire_ok, 1);
  EXPECT_TRUE(a->logged("acting in 15000ms", 1)) << a->all_logs();

  a->run_until(t0 + 15s - 1ns);
  EXPECT_FALSE(a->elector.leading());
  for (const auto& r : a->reports) EXPECT_FALSE(r.leading);
  EXPECT_EQ(a->sent_times("PUT"), (std::vector<LeaseTime>{t0 + 5s, t0 + 10s})) << "renewing";
  a->run_until(t0 + 15s);
  ASSERT_TRUE(a->elector.leading());
  s = a->last_report();
  EXPECT_TRUE(s.leading);
  EXPECT_EQ(a->report_times.back(), a->clock.timeline_of(t0 + 15s));
  EXPECT_EQ(s.uid, server.uid());
  EXPECT_EQ(s.epoch, 1u) << "a leader's epoch is >= 1: a create starts at 1";
  EXPECT_EQ(s.valid_until, t0 + 25s) << "the renewal sent at 15 s + renew deadline";
  EXPECT_EQ(a->sent_times("PUT").size(), 3u);
}

TEST_F(ElectorTest, StartingToActBetweenRenewalsIsNotAWrite) {
  ReplicaOptions o;
  o.timings = {15s, 10s, 4s};  // renewals at 4, 8, 12, 16 s; acting at 15 s
  auto a = make("pod-a_1", o);
  a->step();
  a->run_until(a->at(15s));
  ASSERT_TRUE(a->elector.leading());
  EXPECT_EQ(a->report_times.back(), a->clock.timeline_of(a->at(15s)));
  EXPECT_EQ(a->last_report().valid_until, a->at(12s) + 10s);
  EXPECT_EQ(a->sent_times("PUT"), (std::vector<LeaseTime>{a->at(4s), a->at(8s), a->at(12s)}));
}

TEST_F(ElectorTest, LeaseWithAnEmptySpecIsWaitedOutLikeAHolder) {
  // Nothing says nobody held it: an edit may have blanked a live holder.
  server.put_lease(nullptr, json{{"labels", {{"team", "db"}}}});
  auto a = make();
  a->step();
  EXPECT_FALSE(a->elector.holding());
  a->run_until(a->at(15s) - 1ns);
  EXPECT_THAT(a->sent_times("PUT"), IsEmpty());
  a->run_until(a->at(15s));
  ASSERT_TRUE(a->elector.leading()) << a->all_logs();
  EXPECT_TRUE(a->logged("lease without a holder (and no release marker of its term) expired", 1));
  EXPECT_EQ(server.spec()["holderIdentity"], "pod-a_1");
  EXPECT_EQ(server.spec()["leaseTransitions"], 1) << "a new term on an unheld Lease";
  EXPECT_EQ((*server.lease())["metadata"]["labels"]["team"], "db");
  EXPECT_EQ(a->last_report().epoch, 1u);
}

TEST_F(ElectorTest, AcquiresAReleasedLeaseAtOnce) {
  server.put_released(4);
  auto a = make();
  {
    InSequence seq;
    EXPECT_CALL(a->transport, send(Method("GET")));
    EXPECT_CALL(a->transport, send(Method("PUT")));
  }
  const LeaseTime t0 = a->clock.steady();
  a->step();
  ASSERT_TRUE(a->elector.leading());
  EXPECT_EQ(a->sent_times("PUT"), std::vector<LeaseTime>{t0});
  EXPECT_EQ(server.spec()["leaseTransitions"], 5);
  EXPECT_EQ(server.spec()["leaseDurationSeconds"], 15);
  EXPECT_EQ(server.spec()["acquireTime"], wire(a->clock.wall()));
  EXPECT_FALSE((*server.lease())["metadata"]["annotations"].contains(kReleasedTermAnnotation))
      << "a write that names a holder removes the release marker";
}

TEST_F(ElectorTest, AnIneligibleReplicaNeverAcquiresButStillObserves) {
  // member_publish(eligible=false): shutting down or fenced. Neither a
  // released Lease, nor a missing one, nor an expired holder is taken.
  server.put_released(4);
  auto a = make();
  a->elector.set_eligible(false);
  a->run_until(a->at(60s));
  EXPECT_FALSE(a->elector.holding());
  EXPECT_THAT(a->sent_times("PUT"), IsEmpty());
  EXPECT_THAT(a->sent_times("POST"), IsEmpty());
  EXPECT_FALSE(a->sent_times("GET").empty()) << "it keeps reading the Lease";
  a->elector.set_eligible(true);
  a->run_until(a->at(70s));
  EXPECT_TRUE(a->elector.leading()) << "eligible again: acquires";
}

TEST_F(ElectorTest, ABlankHolderWithoutAReleaseMarkerIsWaitedOut) {
  // What client-go writes when it releases, and what an admin writes when
  // blanking a live holder by hand: indistinguishable, so waited out.
  server.put_lease(held_by("", 1, 4));
  auto a = make();
  a->step();
  a->run_until(a->at(15s) - 1ns);
  EXPECT_FALSE(a->elector.leading());
  EXPECT_THAT(a->sent_times("PUT"), IsEmpty());
  a->run_until(a->at(15s));
  ASSERT_TRUE(a->elector.leading());
  EXPECT_EQ(server.spec()["leaseTransitions"], 5);
}

TEST_F(ElectorTest, AReleaseMarkerOfAnotherTermOrLeaseIsNotARelease) {
  // A marker left from an earlier term (a client-go peer took the Lease and
  // released it without one), or copied from another Lease: waited out.
  for (const json& marker : {json{{"holder", "pod-x"}, {"uid", "?"}, {"epoch", 4}},
                             json{{"holder", "pod-x"}, {"uid", "same"}, {"epoch", 3}}}) {
    Timeline tl;
    FakeApiServer srv{tl};
    srv.put_lease(held_by("", 1, 4));
    json m = marker;
    if (m["uid"] == "same") m["uid"] = srv.uid();
    srv.modify([&](json& o) { o["metadata"]["annotations"][kReleasedTermAnnotation] = m.dump(); });
    Replica a("pod-a_1", srv, tl);
    a.run_until(a.at(15s) - 1ns);
    EXPECT_FALSE(a.elector.leading()) << m.dump();
    a.run_until(a.at(15s));
    EXPECT_TRUE(a.elector.leading()) << m.dump();
  }
}

TEST_F(ElectorTest, FreshFollowerWaitsAFullDurationEvenIfRenewTimeIsAncient) {
  server.put_lease(held_by("pod-b_2", 15, 2, "2000-01-01T00:00:00.000000Z"));
  auto a = make();
  a->step();
  EXPECT_FALSE(a->elector.leading());
  a->run_until(a->at(15s) - 1ns);
  EXPECT_FALSE(a->elector.leading());
  EXPECT_THAT(a->link.methods(), ElementsAre("GET", "GET", "GET")) << "polls at 0, 5, 10 s";

  a->run_until(a->at(15s));
  ASSERT_TRUE(a->elector.leading());
  EXPECT_EQ(a->sent_times("PUT"), std::vector<LeaseTime>{a->at(15s)});
  EXPECT_EQ(server.spec()["leaseTransitions"], 3);
  EXPECT_TRUE(a->logged("lease held by \"pod-b_2\" expired on this replica's clock", 1));
}

TEST_F(ElectorTest, RenewTimeInTheFutureDoesNotExtendTheWait) {
  server.put_lease(held_by("pod-b_2", 15, 2, "2100-01-01T00:00:00.000000Z"));
  auto a = make();
  a->run_until(a->at(15s) - 1ns);
  EXPECT_FALSE(a->elector.leading());
  a->run_until(a->at(15s));
  EXPECT_TRUE(a->elector.leading());
}

TEST_F(ElectorTest, HolderDurationLongerThanOursIsWaitedOut) {
  server.put_lease(held_by("pod-b_2", 30));
  auto a = make();
  a->run_until(a->at(30s) - 1ns);
  EXPECT_FALSE(a->elector.leading());
  a->run_until(a->at(30s));
  EXPECT_TRUE(a->elector.leading());
  EXPECT_EQ(server.spec()["leaseDurationSeconds"], 15) << "the new holder writes its own";
}

TEST_F(ElectorTest, HolderDurationShorterThanOursIsNotTrusted) {
  // leaseDurationSeconds is anyone's to edit: an edit to 5 must not let a
  // follower take over while the holder, configured like us, is valid.
  server.put_lease(held_by("pod-b_2", 5));
  auto a = make();
  a->run_until(a->at(15s) - 1ns);
  EXPECT_FALSE(a->elector.leading());
  a->run_until(a->at(15s));
  EXPECT_TRUE(a->elector.leading());
}

TEST_F(ElectorTest, AnEditOfTheDurationRestartsTheWaitWithTheLongerOfBoth) {
  server.put_lease(held_by("pod-b_2", 15));
  auto a = make();
  a->step();
  a->run_until(a->at(8s));
  server.modify([](json& o) { o["spec"]["leaseDurationSeconds"] = 1; });
  a->run_until(a->at(10s));  // a's poll sees the edit: the election changed
  a->run_until(a->at(25s) - 1ns);
  EXPECT_FALSE(a->elector.leading()) << "15 s from the edit seen at 10 s, not 1 s";
  a->run_until(a->at(25s));
  EXPECT_TRUE(a->elector.leading());
}

TEST_F(ElectorTest, LeaseWithoutDurationAssumesOurDuration) {
  server.put_lease(held_by("pod-b_2", /*duration=*/0));
  ASSERT_FALSE(server.spec().contains("leaseDurationSeconds"));
  ReplicaOptions o;
  o.timings = {20s, 10s, 5s};
  auto a = make("pod-a_1", o);
  a->run_until(a->at(20s) - 1ns);
  EXPECT_FALSE(a->elector.leading()) << "client-go would call it expired at once";
  a->run_until(a->at(20s));
  ASSERT_TRUE(a->elector.leading());
  EXPECT_EQ(server.spec()["leaseDurationSeconds"], 20);
}

TEST_F(ElectorTest, NoTakeoverOfALiveHolderWhoseRenewalsKeepRestartingTheClock) {
  server.put_lease(held_by("pod-b_2", 15, 7));
  auto a = make();
  a->step();
  // The holder renews every 5 s (just before each of a's polls) for a minute.
  for (int k = 1; k <= 12; ++k) {
    a->run_until(a->at(std::chrono::seconds(5 * k)) - 1ms);
    server.modify([&](json& o) { o["spec"]["renewTime"] = wire(a->clock.wall()); });
    a->run_until(a->at(std::chrono::seconds(5 * k)));
    EXPECT_FALSE(a->elector.leading()) << "at " << 5 * k << "s";
  }
  EXPECT_THAT(a->sent_times("PUT"), IsEmpty());
  // The last change a saw was at 60 s: it may take over at 75 s, not before.
  a->run_until(a->at(75s) - 1ns);
  EXPECT_FALSE(a->elector.leading());
  a->run_until(a->at(75s));
  EXPECT_TRUE(a->elector.leading());
  EXPECT_EQ(server.spec()["leaseTransitions"], 8);
}

TEST_F(ElectorTest, ForeignMetadataChangesDoNotRestartTheExpiryClock) {
  // Only the election's fields count: a label change is not a renewal.
  server.put_lease(held_by("pod-b_2"));
  auto a = make();
  a->step();
  a->run_until(a->at(10s) - 1ms);
  server.modify([](json& o) { o["metadata"]["labels"]["x"] = "y"; });
  a->run_until(a->at(15s));
  EXPECT_TRUE(a->elector.leading());
}

TEST_F(ElectorTest, OwnIdentityInATermThisProcessDidNotWriteIsWaitedOut) {
  // The Lease names this identity, but in a term this process never wrote:
  // a previous process with the same (configured) identity, or a duplicate.
  // A replica leads only on the strength of its own write: wait it out.
  server.put_lease(held_by("pod-a_1", 15, 3));
  auto a = make();
  a->step();
  EXPECT_FALSE(a->elector.leading());
  a->run_until(a->at(15s) - 1ns);
  EXPECT_FALSE(a->elector.leading());
  EXPECT_THAT(a->sent_times("PUT"), IsEmpty());
  a->run_until(a->at(15s));
  ASSERT_TRUE(a->elector.leading());
  EXPECT_EQ(server.spec()["leaseTransitions"], 4);
}

// ================================================================ renew

TEST_F(ElectorTest, RenewKeepsAcquireTimeAndTransitions) {
  server.put_released(6);
  auto a = make();
  a->step();
  ASSERT_TRUE(a->elector.leading());
  const std::string acquired = server.spec()["acquireTime"];
  EXPECT_EQ(server.spec()["leaseTransitions"], 7);

  a->run_until(a->at(5s));
  const json spec = server.spec();
  EXPECT_EQ(spec["acquireTime"], acquired);
  EXPECT_EQ(spec["renewTime"], wire(a->clock.wall()));
  EXPECT_NE(spec["renewTime"], acquired);
  EXPECT_EQ(spec["leaseTransitions"], 7);
  EXPECT_EQ(spec["holderIdentity"], "pod-a_1");
  EXPECT_EQ(spec["leaseDurationSeconds"], 15);
  EXPECT_EQ(a->last_report().valid_until, a->at(15s));
  EXPECT_EQ(a->last_report().epoch, 7u);
  EXPECT_EQ(a->renew_ok, 1);
}

TEST_F(ElectorTest, RenewFastPathIsOnePutPerRenewalWithoutAGet) {
  auto a = leader();
  a->link.clear();
  {
    InSequence seq;
    EXPECT_CALL(a->transport, send(Method("PUT"))).Times(6);
  }
  a->run_until(a->at(30s));
  ASSERT_EQ(a->link.records().size(), 6u);
  std::string previous_rv;
  for (std::size_t i = 0; i < 6; ++i) {
    const auto& r = a->link.records()[i];
    EXPECT_EQ(r.sent, a->at(std::chrono::seconds(5 * (i + 1))));
    EXPECT_EQ(r.request.path, kLeasePath);
    EXPECT_EQ(r.request.timeout, 5000ms) << "max(1 s, renew deadline / 2), within validity";
    EXPECT_EQ(r.response.status, 200);
    const std::string sent_rv = json::parse(r.request.body)["metadata"]["resourceVersion"];
    if (i > 0) {
      EXPECT_EQ(sent_rv, previous_rv) << "conditional on the version the last renewal returned";
    }
    previous_rv = json::parse(r.response.body)["metadata"]["resourceVersion"];
  }
  EXPECT_TRUE(a->elector.leading());
  EXPECT_EQ(a->renew_ok, 6);
}

TEST_F(ElectorTest, EveryRenewalIsReported) {
  auto a = leader();
  a->run_until(a->at(20s));
  ASSERT_EQ(a->reports.size(), 6u);
  EXPECT_FALSE(a->reports[0].leading) << "the read before the create: no holder";
  EXPECT_EQ(a->reports[0].holder, "");
  const auto leading = leading_reports(*a);
  ASSERT_EQ(leading.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(leading[i].valid_until, a->at(std::chrono::seconds(5 * i + 10)));
  }
}

TEST_F(ElectorTest, RenewFallsBackToGetAndPutOnAConflict) {
  auto a = leader();
  a->run_until(a->at(5s) - 1ms);
  // Another writer touches the Lease (an annotation): the cached version is stale.
  server.modify([](json& o) { o["metadata"]["annotations"]["ops"] = "audited"; });
  a->link.clear();
  {
    InSequence seq;
    EXPECT_CALL(a->transport, send(Method("PUT")));
    EXPECT_CALL(a->transport, send(Method("GET")));
    EXPECT_CALL(a->transport, send(Method("PUT")));
  }
  a->run_until(a->at(5s));
  ASSERT_EQ(a->link.records().size(), 3u);
  EXPECT_EQ(a->link.records()[0].response.status, 409);
  EXPECT_EQ(a->link.records()[2].response.status, 200);
  EXPECT_TRUE(a->elector.leading());
  EXPECT_EQ(a->last_report().valid_until, a->at(15s));
  EXPECT_EQ((*server.lease())["metadata"]["annotations"]["ops"], "audited");
  EXPECT_EQ(server.spec()["renewTime"], wire(a->clock.wall()));
  EXPECT_EQ(a->conflicts, 1);
  EXPECT_EQ(a->renew_ok, 1);
}

TEST_F(ElectorTest, RenewFallbackStepsDownWhenTheReadShowsAnotherHolder) {
  auto a = leader();
  a->run_until(a->at(5s) - 1ms);
  server.modify([](json& o) {
    o["spec"]["holderIdentity"] = "pod-b_2";
    o["spec"]["leaseTransitions"] = 2;
  });
  const std::string rv = server.resource_version();
  a->clock.advance(1ms);
  a->step();
  EXPECT_FALSE(a->elector.leading());
  EXPECT_THAT(a->link.methods(), ElementsAre("GET", "PUT", "PUT", "GET"));
  EXPECT_EQ(server.resource_version(), rv) << "never writes over the new holder";
  EXPECT_EQ(a->last_report().holder, "pod-b_2");
  EXPECT_TRUE(a->logged("stopped leading: the Lease is now held by \"pod-b_2\"", 2));
}

TEST_F(ElectorTest, RenewFallbackStepsDownWhenTheReadShowsAnotherTermUnderOurIdentity) {
  // Same holder name and uid, but leaseTransitions moved on: another
  // elector (a duplicate identity) started a term. Renewing it would change
  // this leader's epoch in the middle of its term.
  auto a = leader();
  a->run_until(a->at(5s) - 1ms);
  server.modify([](json& o) { o["spec"]["leaseTransitions"] = 2; });
  const std::string rv = server.resource_version();
  a->clock.advance(1ms);
  a->step();
  EXPECT_FALSE(a->elector.leading());
  EXPECT_THAT(a->link.methods(), ElementsAre("GET", "PUT", "PUT", "GET"));
  EXPECT_EQ(server.resource_version(), rv);
  for (const auto& r : leading_reports(*a)) EXPECT_EQ(r.epoch, 1u);
  EXPECT_TRUE(a->logged("another replica with identity \"pod-a_1\", or an edit by hand", 2))
      << a->all_logs();
  // The new term is not ours: waited out like any holder's.
  a->run_until(a->at(20s) - 1ms);
  EXPECT_FALSE(a->elector.leading());
  a->run_until(a->at(20s));
  EXPECT_TRUE(a->elector.leading());
  EXPECT_EQ(server.spec()["leaseTransitions"], 3);
}

TEST_F(ElectorTest, MalformedRenewResponseFallsBackToARead) {
  auto a = leader();
  a->link.faults().next(1, Fault::respond(200, "<html>proxy error</html>").only("PUT"));
  a->run_until(a->at(5s));
  EXPECT_THAT(a->link.methods(), ElementsAre("GET", "PUT", "PUT", "GET", "PUT"));
  EXPECT_TRUE(a->elector.leading());
  EXPECT_EQ(a->last_report().valid_until, a->at(15s));
}

TEST_F(ElectorTest, RenewThatWasAppliedButLostIsRecoveredByTheFallback) {
  // The PUT reached the server (new resourceVersion) but its answer was lost.
  ReplicaOptions o;
  o.timings = {15s, 10s, 2s};  // time for a fallback after a 5 s timeout
  auto a = leader("pod-a_1", o);
  a->link.faults().next(1, Fault::lose_response().only("PUT"));
  a->run_until(a->at(2s));
  EXPECT_THAT(a->link.methods(), ElementsAre("GET", "PUT", "PUT", "GET", "PUT"));
  EXPECT_TRUE(a->elector.leading());
  EXPECT_EQ(a->last_report().valid_until, a->at(7s) + 10s) << "the fallback PUT was sent at 7 s";
}

// ================================================================ request timeouts

TEST_F(ElectorTest, RequestTimeoutIsHalfTheRenewDeadlineAtLeastOneSecond) {
  auto a = make();
  EXPECT_EQ(a->elector.request_timeout(a->clock.steady()), 5000ms);
  ReplicaOptions o;
  o.timings = {3s, 1500ms, 1s};
  auto b = make("pod-b_2", o);
  EXPECT_EQ(b->elector.request_timeout(b->clock.steady()), 1000ms);
}

TEST_F(ElectorTest, LeaderRequestTimeoutNeverReachesPastItsValidity) {
  auto a = leader();
  const LeaseTime valid = a->last_report().valid_until;
  EXPECT_EQ(a->elector.request_timeout(valid - 7s), 5000ms);
  EXPECT_EQ(a->elector.request_timeout(valid - 3s), 3000ms);
  EXPECT_EQ(a->elector.request_timeout(valid - 250ms), 250ms);
}

// ================================================================ hung requests

// Every request a leader sends must end by its validity deadline.
void expect_requests_within_validity(const Replica& r) {
  for (const auto& rec : r.link.records()) {
    // The validity in force when the request was sent.
    LeaseTime valid{};
    bool leading = false;
    for (std::size_t i = 0; i < r.reports.size(); ++i) {
      if (r.clock.timeline_of(rec.sent) < r.report_times[i]) break;
      leading = r.reports[i].leading;
      valid = r.reports[i].valid_until;
    }
    if (!leading) continue;
    EXPECT_LE(rec.sent + rec.request.timeout, valid)
        << rec.request.method << " sent " << (valid - rec.sent).count() << "ns before the deadline";
  }
}

TEST_F(ElectorTest, HungRenewStepsDownAtSentPlusRenewDeadline) {
  auto a = leader();
  a->run_until(a->at(5s) - 1ns);
  a->partition(Fault::hang());
  a->run_until(a->at(5s));
  EXPECT_FALSE(a->elector.leading());
  ASSERT_TRUE(a->last_report_time(false));
  EXPECT_EQ(*a->last_report_time(false), a->clock.timeline_of(a->at(10s)))
      << "steps down exactly at last renew sent (0 s) + renew deadline";
  ASSERT_EQ(a->link.records().size(), 3u) << "no fallback once the deadline has passed";
  EXPECT_EQ(a->link.records()[2].request.timeout, 5000ms);
  expect_requests_within_validity(*a);
  EXPECT_TRUE(a->logged("stopped leading: no successful renewal within the renew deadline", 2));
}

TEST_F(ElectorTest, HungRequestsAreCutSoTheyEndAtTheValidityDeadline) {
  ReplicaOptions o;
  o.timings = {15s, 10s, 2s};
  auto a = leader("pod-a_1", o);
  a->run_until(a->at(2s) - 1ns);
  a->partition(Fault::hang());
  a->run_until(a->at(2s));
  // PUT at 2 s (5 s timeout) hangs to 7 s; the fallback GET gets the 3 s left.
  ASSERT_EQ(a->link.records().size(), 4u) << ::testing::PrintToString(a->link.methods());
  EXPECT_EQ(a->link.records()[2].request.timeout, 5000ms);
  EXPECT_EQ(a->link.records()[3].request.method, "GET");
  EXPECT_EQ(a->link.records()[3].request.timeout, 3000ms);
  EXPECT_FALSE(a->elector.leading());
  EXPECT_EQ(*a->last_report_time(false), a->clock.timeline_of(a->at(10s)));
  expect_requests_within_validity(*a);
}

TEST_F(ElectorTest, SlowButSuccessfulRenewKeepsLeading) {
  auto a = leader();
  a->link.faults().next(1, Fault::slow(4s));
  a->run_until(a->at(5s));
  EXPECT_TRUE(a->elector.leading());
  EXPECT_EQ(a->last_report().valid_until, a->at(15s)) << "counted from when it was sent";
}

// ================================================================ throttling, auth blips

TEST_F(ElectorTest, ThrottlingShorterThanTheRenewDeadlineKeepsLeading) {
  auto a = leader();
  const Nanos t0 = timeline.now();
  // 429 (Retry-After 1 s) for every request from 5 s to 8 s.
  a->link.faults().during(t0 + 5s, t0 + 8s, Fault::http(429, 1s));
  a->run_until(a->at(30s));
  EXPECT_TRUE(a->elector.leading()) << a->all_logs();
  EXPECT_FALSE(lost_leadership(*a)) << a->all_logs();
  EXPECT_TRUE(a->logged("429 Too Many Requests, retry after 1s", 2)) << a->all_logs();
  expect_requests_within_validity(*a);
}

TEST_F(ElectorTest, ThrottlingLongerThanTheRenewDeadlineStepsDownAtTheDeadline) {
  auto a = leader();
  const Nanos t0 = timeline.now();
  a->link.faults().during(t0 + 5s, t0 + 60s, Fault::http(429, 3s));
  a->run_until(a->at(30s));
  EXPECT_FALSE(a->elector.leading());
  EXPECT_EQ(*a->last_report_time(false), t0 + 10s) << "at the deadline, never later";
  expect_requests_within_validity(*a);
}

TEST_F(ElectorTest, RetryAfterIsRespectedByAFollower) {
  server.put_lease(held_by("pod-b_2"));
  auto a = make();
  a->step();
  a->link.faults().next(1, Fault::http(429, 30s).only("GET"));
  a->run_until(a->at(5s));
  EXPECT_EQ(a->next, a->at(35s)) << "Retry-After 30 s beats the 5 s retry period";
  a->run_until(a->at(35s) - 1ns);
  EXPECT_EQ(a->sent_times("GET"), (std::vector<LeaseTime>{a->at(0s), a->at(5s)}));
}

TEST_F(ElectorTest, RetryAfterShorterThanTheRetryPeriodDoesNotShortenIt) {
  server.put_lease(held_by("pod-b_2"));
  auto a = make();
  a->step();
  a->link.faults().next(1, Fault::http(503, 1s).only("GET"));
  a->run_until(a->at(5s));
  EXPECT_EQ(a->next, a->at(10s));
}

TEST_F(ElectorTest, RetryAfterIsRespectedByALeader) {
  auto a = leader();
  const Nanos t0 = timeline.now();
  a->link.faults().during(t0 + 5s, t0 + 6s, Fault::http(429, 3s));
  a->run_until(a->at(8s) - 1ns);
  EXPECT_EQ(a->sent_times().back(), a->at(5s)) << "nothing sent before Retry-After elapsed";
  a->run_until(a->at(8s));
  EXPECT_EQ(a->sent_times().back(), a->at(8s));
  EXPECT_TRUE(a->elector.leading());
  EXPECT_EQ(a->last_report().valid_until, a->at(18s));
}

TEST_F(ElectorTest, UnauthorizedBlipShorterThanTheDeadlineDoesNotCostLeadership) {
  auto a = leader();
  const Nanos t0 = timeline.now();
  a->link.faults().during(t0 + 5s, t0 + 7s, Fault::http(401));
  a->run_until(a->at(30s));
  EXPECT_TRUE(a->elector.leading()) << a->all_logs();
  EXPECT_FALSE(lost_leadership(*a)) << a->all_logs();
}

TEST_F(ElectorTest, ForbiddenBlipShorterThanTheDeadlineDoesNotCostLeadership) {
  auto a = leader();
  const Nanos t0 = timeline.now();
  a->link.faults().during(t0 + 5s, t0 + 7s, Fault::http(403));
  a->run_until(a->at(30s));
  EXPECT_TRUE(a->elector.leading()) << a->all_logs();
  EXPECT_FALSE(lost_leadership(*a)) << a->all_logs();
}

TEST_F(ElectorTest, LeaderRetriesAFailedRenewalBeforeItsDeadline) {
  // One failed round must not cost leadership: with a 5 s retry period and
  // a 10 s renew deadline, waiting a full retry period after the failure at
  // 5 s would land on the deadline itself.
  auto a = leader();
  a->link.faults().next(2, Fault::http(503));  // the PUT and the fallback GET at 5 s
  a->run_until(a->at(10s));
  EXPECT_TRUE(a->elector.leading()) << a->all_logs();
  const auto puts = a->sent_times("PUT");  // the acquire at 0, the failed renewal at 5 s, ...
  ASSERT_GE(puts.size(), 3u);
  EXPECT_EQ(puts[1], a->at(5s));
  EXPECT_GT(puts[2], a->at(5s));
  EXPECT_LT(puts[2], a->at(10s));
}

TEST_F(ElectorTest, RevokedUpdatePermissionStepsALeaderDownAtTheDeadline) {
  auto a = leader();
  a->run_until(a->at(5s) - 1ns);
  server.deny("update");
  a->run_until(a->at(30s));
  EXPECT_FALSE(a->elector.leading());
  EXPECT_EQ(*a->last_report_time(false), a->clock.timeline_of(a->at(10s)));
  EXPECT_TRUE(a->logged("verbs: [\"update\"], resourceNames: [\"pgdog-control-leader\"]", 3))
      << a->all_logs();
}

// ================================================================ RBAC on a follower

TEST_F(ElectorTest, ForbiddenFollowerNeverLeadsAndItsLogNamesTheRule) {
  server.deny("get");
  auto a = make();
  a->run_until(a->at(60s));
  EXPECT_FALSE(a->elector.leading());
  for (const auto& m : a->link.methods()) EXPECT_EQ(m, "GET");
  EXPECT_EQ(a->link.records().size(), 13u) << "one read per retry period";
  EXPECT_TRUE(a->logged(
      "get lease pgdog/pgdog-control-leader: 403 Forbidden: not allowed to get "
      "leases.coordination.k8s.io in namespace \"pgdog\"; grant it with a Role in namespace "
      "\"pgdog\" with rule {apiGroups: [\"coordination.k8s.io\"], resources: [\"leases\"], "
      "verbs: [\"get\"], resourceNames: [\"pgdog-control-leader\"]} bound to this replica's "
      "service account",
      3))
      << a->all_logs();
}

TEST_F(ElectorTest, ForbiddenCreateNeverLeadsAndItsLogNamesTheCreateRule) {
  server.deny("create");
  auto a = make();
  a->run_until(a->at(60s));
  EXPECT_FALSE(a->elector.leading());
  EXPECT_FALSE(server.lease().has_value());
  EXPECT_TRUE(a->logged("create lease pgdog/pgdog-control-leader: 403 Forbidden", 3));
  EXPECT_TRUE(a->logged("verbs: [\"create\"]} bound to this replica's service account", 3))
      << a->all_logs();
  EXPECT_EQ(a->acquire_ok, 0);
}

TEST_F(ElectorTest, ForbiddenUpdateNeverLeadsOnAnExistingLease) {
  server.put_lease(held_by("", 1));
  server.deny("update");
  auto a = make();
  a->run_until(a->at(60s));
  EXPECT_FALSE(a->elector.leading());
  EXPECT_EQ(server.spec()["holderIdentity"], "");
  EXPECT_TRUE(a->logged("verbs: [\"update\"]", 3));
}

// ================================================================ malformed responses

TEST_F(ElectorTest, MalformedReadsNeverCrashOrLead) {
  const json base = json::parse(R"({"kind":"Lease","apiVersion":"coordination.k8s.io/v1",
      "metadata":{"name":"pgdog-control-leader","namespace":"pgdog","uid":"u1",
                  "resourceVersion":"7"},
      "spec":{"holderIdentity":"","leaseDurationSeconds":1,"leaseTransitions":0}})");
  auto with = [&](const std::function<void(json&)>& f) {
    json o = base;
    f(o);
    return o.dump();
  };
  const std::vector<std::string> bodies = {
      "",
      "{not json",
      "null",
      "[]",
      status_body(200, "", "ok"),
      with([](json& o) { o["kind"] = "ConfigMap"; }),
      with([](json& o) { o.erase("metadata"); }),
      with([](json& o) { o["metadata"].erase("resourceVersion"); }),
      with([](json& o) { o["spec"]["leaseTransitions"] = -1; }),
      with([](json& o) { o["spec"]["leaseDurationSeconds"] = 0; }),
      with([](json& o) { o["spec"]["renewTime"] = "tomorrow"; }),
      with([](json& o) { o["spec"]["acquireTime"] = 12; }),
      with([](json& o) { o["spec"]["holderIdentity"] = json::array(); }),
  };
  for (const auto& body : bodies) {
    SCOPED_TRACE(body);
    Timeline tl;
    FakeApiServer s(tl);
    Replica a("pod-a_1", s, tl);
    a.link.faults().always(Fault::respond(200, body).only("GET"));
    a.run_until(a.at(60s));
    EXPECT_FALSE(a.elector.leading());
    for (const auto& m : a.link.methods()) EXPECT_EQ(m, "GET");
    EXPECT_TRUE(a.logged("get lease pgdog/pgdog-control-leader: malformed response", 2))
        << a.all_logs();
  }
}

TEST_F(ElectorTest, InvalidLeaseStoredOnTheServerIsNeverOverwritten) {
  json spec = held_by("", 1);
  spec["leaseTransitions"] = -5;  // written by a broken client; we cannot parse it
  server.put_lease(spec);
  const std::string rv = server.resource_version();
  auto a = make();
  a->run_until(a->at(60s));
  EXPECT_FALSE(a->elector.leading());
  EXPECT_EQ(server.resource_version(), rv);
  EXPECT_TRUE(a->logged("spec.leaseTransitions is out of range: -5", 2)) << a->all_logs();
}

TEST_F(ElectorTest, MalformedCreateResponseDoesNotLead) {
  auto a = make();
  a->link.faults().next(1, Fault::respond(201, "{}").only("POST"));
  a->step();
  EXPECT_FALSE(a->elector.leading());
  EXPECT_TRUE(a->logged("create lease pgdog/pgdog-control-leader: malformed response", 2));
}

TEST_F(ElectorTest, LostAcquireResponseIsRecoveredAsANewTerm) {
  server.put_released(2);
  auto a = make();
  a->link.faults().next(1, Fault::lose_response().only("PUT"));
  a->step();
  EXPECT_FALSE(a->elector.leading()) << "no answer: not leading";
  EXPECT_EQ(server.spec()["holderIdentity"], "pod-a_1") << "but the write happened";
  a->run_until(a->next);
  EXPECT_TRUE(a->elector.leading());
  EXPECT_EQ(a->last_report().epoch, 4u) << "a fresh term on top of the lost one";
}

// ================================================================ foreign fields

TEST_F(ElectorTest, ForeignFieldsArePreservedAcrossAcquireRenewAndRelease) {
  json spec = held_by("", 1, 2);
  spec["strategy"] = "OldestEmulationVersion";
  spec["someFutureField"] = {{"nested", true}};
  server.put_lease(spec, json{{"labels", {{"app", "pgdog-control"}}},
                              {"annotations", {{"owner", "dba"}}},
                              {"ownerReferences", json::array({{{"kind", "Deployment"}}})}});
  server.modify([](json& o) { o["futureTopLevel"] = {{"x", 1}}; });
  const std::string uid = server.uid();
  server.modify([&](json& o) {
    o["metadata"]["annotations"][kReleasedTermAnnotation] =
        json{{"holder", "pod-z_9"}, {"uid", uid}, {"epoch", 2}}.dump();
  });
  const json before = *server.lease();
  // The election's own annotations come and go; everyone else's stay.
  const auto foreign = [](json annotations) {
    for (const char* ours :
         {kLeaderAddressAnnotation, kReleasedTermAnnotation, kEpochEraAnnotation}) {
      annotations.erase(ours);
    }
    return annotations;
  };

  auto a = make();
  a->step();
  ASSERT_TRUE(a->elector.leading());
  a->run_until(a->at(5s));
  ASSERT_EQ(a->elector.release(a->clock.steady() + 5s), ReleaseOutcome::kReleased);

  int puts = 0;
  for (const auto& r : a->link.records()) {
    if (r.request.method != "PUT") continue;
    ++puts;
    const json body = json::parse(r.request.body);
    EXPECT_EQ(body["metadata"]["labels"], before["metadata"]["labels"]);
    EXPECT_EQ(foreign(body["metadata"]["annotations"]), foreign(before["metadata"]["annotations"]));
    EXPECT_EQ(body["metadata"]["ownerReferences"], before["metadata"]["ownerReferences"]);
    EXPECT_EQ(body["metadata"]["uid"], before["metadata"]["uid"]);
    EXPECT_EQ(body["spec"]["strategy"], "OldestEmulationVersion");
    // spec.preferredHolder is the election's (a handover release names it):
    // written only by a handover, removed by every other write.
    EXPECT_FALSE(body["spec"].contains("preferredHolder"));
    EXPECT_EQ(body["spec"]["someFutureField"], before["spec"]["someFutureField"]);
    EXPECT_EQ(body["futureTopLevel"], before["futureTopLevel"]);
  }
  EXPECT_EQ(puts, 3) << "acquire, renew, release";
  const json after = *server.lease();
  EXPECT_EQ(after["spec"]["strategy"], "OldestEmulationVersion");
  EXPECT_EQ(foreign(after["metadata"]["annotations"]), foreign(before["metadata"]["annotations"]));
}

// ================================================================ leader address

TEST_F(ElectorTest, LeaderPublishesItsAddressOnTheLeaseAndReportsIt) {
  server.put_released();
  auto a = make();
  a->elector.set_advertise_address("10.0.0.7:8080");
  a->step();
  ASSERT_TRUE(a->elector.leading());
  a->run_until(a->at(5s));  // a renewal keeps it
  const json annotation = json::parse(
      (*server.lease())["metadata"]["annotations"][kLeaderAddressAnnotation].get<std::string>());
  EXPECT_EQ(annotation, (json{{"holder", "pod-a_1"}, {"address", "10.0.0.7:8080"}}));
  EXPECT_EQ(a->last_report().holder_address, "10.0.0.7:8080");

  // A follower learns where the leader serves from the same Lease.
  auto b = make("pod-b_2");
  b->step();
  EXPECT_FALSE(b->elector.leading());
  EXPECT_EQ(b->last_report().holder, "pod-a_1");
  EXPECT_EQ(b->last_report().holder_address, "10.0.0.7:8080");

  ASSERT_EQ(a->elector.release(a->clock.steady() + 2s), ReleaseOutcome::kReleased);
  EXPECT_FALSE((*server.lease())["metadata"]["annotations"].contains(kLeaderAddressAnnotation))
      << "a released Lease names no address";
}

TEST_F(ElectorTest, TheLeaderNeverRepublishesAnAddressItDidNotWrite) {
  // Someone with update rights plants their listener as the leader's address
  // (the write also makes the leader's next renewal conflict): the leader's
  // next write names its own address again, from its configuration.
  server.put_released();
  auto a = make();
  a->elector.set_advertise_address("10.0.0.7:8080");
  a->step();
  ASSERT_TRUE(a->elector.leading());
  const auto planted = json{{"holder", "pod-a_1"}, {"address", "203.0.113.9:8080"}}.dump();
  server.modify([&](json& o) { o["metadata"]["annotations"][kLeaderAddressAnnotation] = planted; });
  a->run_until(a->at(12s));  // several renewals, the first one conflicting
  ASSERT_TRUE(a->elector.leading());
  const json annotation = json::parse(
      (*server.lease())["metadata"]["annotations"][kLeaderAddressAnnotation].get<std::string>());
  EXPECT_EQ(annotation, (json{{"holder", "pod-a_1"}, {"address", "10.0.0.7:8080"}}));
  EXPECT_EQ(a->last_report().holder_address, "10.0.0.7:8080");
}

TEST_F(ElectorTest, AddressOfAPreviousHolderIsNotBelieved) {
  // client-go keeps annotations it does not know: the address names the old holder.
  server.put_lease(held_by("peer_1"),
                   json{{"annotations",
                         {{kLeaderAddressAnnotation,
                           json{{"holder", "pod-a_1"}, {"address", "10.0.0.7:8080"}}.dump()}}}});
  auto b = make("pod-b_2");
  b->step();
  EXPECT_EQ(b->last_report().holder, "peer_1");
  EXPECT_EQ(b->last_report().holder_address, "");
}

// ================================================================ release

TEST_F(ElectorTest, ReleaseWritesAnEmptyHolderAndDurationOneAndKeepsTransitions) {
  server.put_released(3);
  auto a = make();
  a->step();
  a->run_until(a->at(5s));
  ASSERT_TRUE(a->elector.leading());
  const std::size_t before = a->link.records().size();

  EXPECT_EQ(a->elector.release(a->clock.steady() + 2s), ReleaseOutcome::kReleased);

  const json spec = server.spec();
  EXPECT_EQ(spec["holderIdentity"], "");
  EXPECT_EQ(spec["leaseDurationSeconds"], 1);
  EXPECT_EQ(spec["leaseTransitions"], 4);
  // The renewal at 5 s wrote this very instant: every write moves renewTime
  // on, by a microsecond if the clock has not.
  EXPECT_EQ(spec["acquireTime"], wire(a->clock.wall() + 1us));
  EXPECT_EQ(spec["renewTime"], wire(a->clock.wall() + 1us));
  ASSERT_EQ(a->link.records().size(), before + 2);
  EXPECT_EQ(a->link.records()[before].request.method, "GET") << "a fresh read first";
  EXPECT_EQ(a->link.records()[before + 1].request.method, "PUT");
  EXPECT_FALSE(a->elector.leading());
  // Leadership was given up (reported) before anything was sent for the release.
  std::size_t stop_report = 0;
  for (std::size_t i = 1; i < a->reports.size(); ++i) {
    if (a->reports[i - 1].leading && !a->reports[i].leading) {
      stop_report = i;
      break;
    }
  }
  ASSERT_GT(stop_report, 0u);
  EXPECT_EQ(a->requests_at_report[stop_report], before);
  EXPECT_EQ(a->last_report().holder, "");
  EXPECT_TRUE(a->logged("released lease pgdog/pgdog-control-leader", 1));
  const json marker = json::parse(
      (*server.lease())["metadata"]["annotations"][kReleasedTermAnnotation].get<std::string>());
  EXPECT_EQ(marker, (json{{"holder", "pod-a_1"}, {"uid", server.uid()}, {"epoch", 4}}))
      << "the release marks the term it ended";
}

TEST_F(ElectorTest, ReleaseRetriesAConflictWithAFreshRead) {
  auto a = leader();
  bool touched = false;
  a->link.before_serve = [&](const ApiRequest& r) {
    if (r.method == "PUT" && !touched) {
      touched = true;  // another writer gets in between the read and the write
      server.modify([](json& o) { o["metadata"]["annotations"]["late"] = "writer"; });
    }
  };
  a->link.clear();
  {
    InSequence seq;
    EXPECT_CALL(a->transport, send(Method("GET")));
    EXPECT_CALL(a->transport, send(Method("PUT")));
    EXPECT_CALL(a->transport, send(Method("GET")));
    EXPECT_CALL(a->transport, send(Method("PUT")));
  }
  EXPECT_EQ(a->elector.release(a->clock.steady() + 2s), ReleaseOutcome::kReleased);
  EXPECT_EQ(a->link.records()[1].response.status, 409);
  EXPECT_EQ(server.spec()["holderIdentity"], "");
  EXPECT_EQ((*server.lease())["metadata"]["annotations"]["late"], "writer");
  EXPECT_EQ(a->conflicts, 1);
}

TEST_F(ElectorTest, StaleReleaseAfterATakeoverWritesNothing) {
  auto a = leader();
  // a's process is stopped for 30 s; b takes over meanwhile.
  auto b = make("pod-b_2");
  b->step();
  b->run_until(b->at(20s));
  ASSERT_TRUE(b->elector.leading());
  const std::string rv = server.resource_version();
  ASSERT_TRUE(a->elector.leading()) << "a has not run since it was stopped";
  a->link.clear();
  EXPECT_CALL(a->transport, send(_)).Times(::testing::AnyNumber());
  EXPECT_CALL(a->transport, send(Method("PUT"))).Times(0);

  EXPECT_EQ(a->elector.release(a->clock.steady() + 2s), ReleaseOutcome::kNotHolder);

  EXPECT_THAT(a->link.methods(), ElementsAre("GET"));
  EXPECT_EQ(server.spec()["holderIdentity"], "pod-b_2");
  EXPECT_EQ(server.resource_version(), rv);
  EXPECT_FALSE(a->elector.leading());
  EXPECT_TRUE(a->logged("the Lease is held by \"pod-b_2\" now; nothing to release", 1));
}

TEST_F(ElectorTest, ReleaseWritesNothingWhenTheReadShowsAnotherTermUnderOurIdentity) {
  auto a = leader();
  server.modify([](json& o) { o["spec"]["leaseTransitions"] = 2; });
  const std::string rv = server.resource_version();
  EXPECT_EQ(a->elector.release(a->clock.steady() + 2s), ReleaseOutcome::kNotHolder);
  EXPECT_EQ(server.resource_version(), rv);
  EXPECT_EQ(server.spec()["holderIdentity"], "pod-a_1");
  EXPECT_TRUE(
      a->logged("release: the Lease names this identity in a term this process did not write", 2))
      << a->all_logs();
}

TEST_F(ElectorTest, ReleaseWhileFollowingWritesNothing) {
  server.put_lease(held_by("pod-b_2"));
  auto a = make();
  a->step();
  EXPECT_CALL(a->transport, send(_)).Times(0);
  EXPECT_EQ(a->elector.release(a->clock.steady() + 2s), ReleaseOutcome::kNotHolder);
  EXPECT_FALSE(a->elector.leading());
}

TEST_F(ElectorTest, ReleaseBeforeTheFirstStepWritesNothing) {
  auto a = make();
  EXPECT_CALL(a->transport, send(_)).Times(0);
  EXPECT_EQ(a->elector.release(a->clock.steady() + 2s), ReleaseOutcome::kNotHolder);
  EXPECT_FALSE(a->elector.leading());
  EXPECT_FALSE(server.lease().has_value());
}

TEST_F(ElectorTest, ReleaseOfADeletedLeaseWritesNothing) {
  auto a = leader();
  server.delete_lease();
  EXPECT_EQ(a->elector.release(a->clock.steady() + 2s), ReleaseOutcome::kNotHolder);
  EXPECT_FALSE(server.lease().has_value()) << "release never re-creates";
  EXPECT_FALSE(a->elector.leading());
}

TEST_F(ElectorTest, ForbiddenReleaseFailsAtOnce) {
  auto a = leader();
  server.deny("update");
  EXPECT_EQ(a->elector.release(a->clock.steady() + 5s), ReleaseOutcome::kFailed);
  EXPECT_FALSE(a->elector.leading()) << "leadership is given up even if the release fails";
  EXPECT_EQ(a->clock.sleep_calls(), 0);
  EXPECT_EQ(server.spec()["holderIdentity"], "pod-a_1");
  EXPECT_TRUE(a->logged("release: update lease pgdog/pgdog-control-leader: 403 Forbidden", 2));
  EXPECT_TRUE(a->logged("verbs: [\"update\"]", 2));
}

TEST_F(ElectorTest, ReleaseGivesUpAtTheDeadlineWithoutSpinning) {
  auto a = leader();
  a->partition();  // refused at once
  a->link.clear();
  const LeaseTime deadline = a->clock.steady() + 1s;
  EXPECT_EQ(a->elector.release(deadline), ReleaseOutcome::kFailed);
  EXPECT_EQ(a->clock.steady(), deadline);
  const auto gets = a->sent_times("GET");
  EXPECT_EQ(gets.size(), 10u) << "one read per 100 ms pause";
  EXPECT_THAT(a->sent_times("PUT"), IsEmpty());
}

TEST_F(ElectorTest, ReleaseRequestsNeverOutliveItsDeadline) {
  auto a = leader();
  a->partition(Fault::hang());
  const LeaseTime deadline = a->clock.steady() + 1500ms;
  EXPECT_EQ(a->elector.release(deadline), ReleaseOutcome::kFailed);
  EXPECT_EQ(a->clock.steady(), deadline);
  ASSERT_EQ(a->link.records().size(), 3u);
  EXPECT_EQ(a->link.records()[2].request.timeout, 1500ms);
}

TEST_F(ElectorTest, ShutdownWhileFollowingNeverLeads) {
  server.put_lease(held_by("", 1));
  auto a = make();
  EXPECT_EQ(a->elector.release(a->clock.steady() + 1s), ReleaseOutcome::kNotHolder);
  EXPECT_THAT(a->reports, IsEmpty()) << "nothing to report: it never led";
}

TEST_F(ElectorTest, ReleaseOutcomeNames) {
  EXPECT_EQ(release_outcome_name(ReleaseOutcome::kReleased), "released");
  EXPECT_EQ(release_outcome_name(ReleaseOutcome::kNotHolder), "not_holder");
  EXPECT_EQ(release_outcome_name(ReleaseOutcome::kFailed), "failed");
}

// ================================================================ paused process

TEST_F(ElectorTest, PausedLeaderStepsDownOnResumeWithoutARequest) {
  auto a = leader();
  a->clock.advance(30s);  // SIGSTOP for longer than the lease duration
  a->link.clear();
  a->step();
  EXPECT_FALSE(a->elector.leading());
  EXPECT_THAT(a->link.methods(), IsEmpty()) << "stepping down needs no round trip";
}

TEST_F(ElectorTest, PausedLeaderReacquiresItsUntakenLeaseAsANewTerm) {
  auto a = leader();
  a->clock.advance(30s);
  a->step();
  ASSERT_FALSE(a->elector.leading());
  a->step();
  EXPECT_TRUE(a->elector.leading());
  EXPECT_EQ(a->last_report().epoch, 2u) << "a new term: the epoch moved";
}

// ================================================================ clocks

TEST_F(ElectorTest, WallClockJumpsDoNotAffectAFollowersExpiry) {
  server.put_lease(held_by("pod-b_2"));
  auto a = make();
  a->step();
  a->run_until(a->at(1s));
  a->clock.jump_wall(5h);
  a->run_until(a->at(14s));
  a->clock.jump_wall(-10h);
  a->run_until(a->at(15s) - 1ns);
  EXPECT_FALSE(a->elector.leading());
  a->run_until(a->at(15s));
  EXPECT_TRUE(a->elector.leading());
  // Informational only, and strictly after the holder's: a wall clock behind
  // the Lease's renewTime still writes a change.
  EXPECT_EQ(server.spec()["renewTime"], "2026-07-24T14:00:00.000001Z");
}

TEST_F(ElectorTest, WallClockJumpsDoNotAffectALeader) {
  auto a = leader();
  a->run_until(a->at(7s));
  a->clock.jump_wall(-3h);
  a->run_until(a->at(22s));
  a->clock.jump_wall(+8h);
  a->run_until(a->at(40s));
  EXPECT_TRUE(a->elector.leading());
  EXPECT_FALSE(lost_leadership(*a)) << a->all_logs();
  const auto puts = a->sent_times("PUT");  // the acquire at 0, then a renewal every 5 s
  ASSERT_EQ(puts.size(), 9u);
  for (std::size_t i = 0; i < puts.size(); ++i) {
    EXPECT_EQ(puts[i], a->at(std::chrono::seconds(5 * i)));
  }
}

TEST_F(ElectorTest, FastFollowerClockWithinToleranceWaitsItsOwnDuration) {
  // A 40% fast follower clock still waits 15 s of its own time.
  server.put_lease(held_by("pod-b_2"));
  ReplicaOptions o;
  o.clock.rate = 1.4;
  auto a = make("pod-a_1", o);
  a->step();
  a->run_until(a->at(15s) - 1ns);
  EXPECT_FALSE(a->elector.leading());
  a->run_until(a->at(15s));
  EXPECT_TRUE(a->elector.leading());
  EXPECT_EQ(timeline.now(), a->clock.timeline_of(a->at(15s)));
  EXPECT_GT(timeline.now(), secs(10.7)) << "15 s at 1.4x is 10.71 s of real time";
}

// ================================================================ deletion

TEST_F(ElectorTest, LeaseDeletedWhileHeldLeaderStepsDownAndRecreatesWithANewUid) {
  auto a = leader();
  const std::string uid1 = server.uid();
  a->run_until(a->at(7s));
  server.delete_lease();
  a->link.clear();
  a->run_until(a->at(10s));
  EXPECT_THAT(a->link.methods(), ElementsAre("PUT", "GET", "POST"));
  ASSERT_TRUE(a->elector.leading());
  EXPECT_NE(server.uid(), uid1);
  EXPECT_EQ(server.spec()["leaseTransitions"], 1);
  // Reported: the old term ended, a new one began in a new epoch scope.
  ASSERT_GE(a->reports.size(), 3u);
  const auto& r = a->reports;
  EXPECT_FALSE(r[r.size() - 2].leading);
  EXPECT_EQ(r.back().uid, server.uid());
  EXPECT_EQ(r.back().epoch, 1u);
  EXPECT_TRUE(a->logged("stopped leading: the Lease was deleted", 2));
}

TEST_F(ElectorTest, FollowerRecreatesADeletedLeaseAtOnceAndActsAFullDurationAfterTheCreate) {
  server.put_lease(held_by("pod-b_2"));
  auto a = make();
  a->step();  // saw pod-b_2 at 0 s
  a->run_until(a->at(2s));
  server.delete_lease();
  // The 404 at 5 s: pod-b_2 may have renewed unseen just before the
  // deletion and act until its term runs out. a creates the Lease at once
  // (so pod-b_2's next renewal fails) but acts only 15 s after the create.
  a->run_until(a->at(5s));
  EXPECT_EQ(a->sent_times("POST"), std::vector<LeaseTime>{a->at(5s)});
  EXPECT_TRUE(a->elector.holding());
  a->run_until(a->at(20s) - 1ns);
  EXPECT_FALSE(a->elector.leading()) << "pod-b_2 may act until its lease runs out";
  a->run_until(a->at(20s));
  EXPECT_TRUE(a->elector.leading());
}

TEST_F(ElectorTest, FormerLeaderWhoseTermEndedActsAFullDurationAfterRecreating) {
  // a's term ended at its deadline (partitioned); the Lease it last saw names
  // itself, but another replica may have taken it over unseen since. A 404
  // then says nothing about who held it last.
  auto a = leader();
  a->partition();
  a->run_until(a->at(30s));
  ASSERT_FALSE(a->elector.leading());
  server.delete_lease();
  a->heal();
  a->run_until(a->next);
  ASSERT_TRUE(server.lease().has_value());
  const LeaseTime created = a->sent_times("POST").back();
  a->run_until(created + 15s - 1ns);
  EXPECT_FALSE(a->elector.leading());
  a->run_until(created + 15s);
  EXPECT_TRUE(a->elector.leading());
}

TEST_F(ElectorTest, AReleasedThenDeletedLeaseIsActedOnOnlyAFullDurationAfterTheCreate) {
  // The release happened, but so may anything between it and the deletion.
  server.put_released();
  auto a = make();
  a->step();
  ASSERT_TRUE(a->elector.leading());
  ASSERT_EQ(a->elector.release(a->clock.steady() + 1s), ReleaseOutcome::kReleased);
  server.delete_lease();
  auto b = make("pod-b_2");
  b->step();
  EXPECT_FALSE(b->elector.leading());
  EXPECT_TRUE(b->elector.holding());
  b->run_until(b->at(15s));
  EXPECT_TRUE(b->elector.leading());
}

// ================================================================ watch input

TEST_F(ElectorTest, ObservedReleaseIsAcquiredAtOnceWithOnePutAndNoGet) {
  server.put_lease(held_by("pod-b_2", 15, 3));
  auto a = make();
  a->set_watching(true);  // the watch delivered the Lease: no read needed
  {
    InSequence seq;
    EXPECT_CALL(a->transport, send(Method("PUT")));
  }
  a->step();
  EXPECT_FALSE(a->elector.leading());
  EXPECT_EQ(a->next, a->at(15s)) << "a one-shot timer at observed + duration, no polling";
  a->run_until(a->at(3s));
  // pod-b_2 releases, marking the term it ends.
  server.modify([](json& o) {
    o["spec"]["holderIdentity"] = "";
    o["spec"]["leaseDurationSeconds"] = 1;
    o["metadata"]["annotations"][kReleasedTermAnnotation] =
        json{{"holder", "pod-b_2"}, {"uid", o["metadata"]["uid"]}, {"epoch", 3}}.dump();
  });
  EXPECT_TRUE(a->pump_watch()) << "observe() of a released Lease asks to run at once";
  a->step();
  EXPECT_TRUE(a->elector.leading());
  EXPECT_EQ(server.spec()["leaseTransitions"], 4);
  EXPECT_EQ(a->sent_times("PUT"), std::vector<LeaseTime>{a->at(3s)});
}

TEST_F(ElectorTest, ObserveOfAHeldLeaseDoesNotAskToRun) {
  server.put_lease(held_by("pod-b_2"));
  auto a = make();
  std::string why;
  const auto lease = Lease::from_json(*server.lease(), &why);
  ASSERT_TRUE(lease) << why;
  EXPECT_FALSE(a->elector.observe(*lease));
  EXPECT_EQ(a->last_report().holder, "pod-b_2");
}

// A watch event can be older than the leader's own last write (a list taken
// before it, a slow stream). So a leader does not step down on the event
// itself: observe() asks for a step at once, and that step re-reads the Lease
// and steps down only if the read confirms the event.
TEST_F(ElectorTest, ObservedOtherHolderWhileLeadingStepsDownAfterOneConfirmingRead) {
  auto a = leader();
  a->run_until(a->at(3s));
  server.modify([](json& o) {
    o["spec"]["holderIdentity"] = "pod-b_2";
    o["spec"]["leaseTransitions"] = 1;
  });
  const std::string rv = server.resource_version();
  a->link.clear();
  {
    InSequence seq;
    EXPECT_CALL(a->transport, send(Method("GET")));
  }
  std::string why;
  EXPECT_TRUE(a->elector.observe(*Lease::from_json(*server.lease(), &why)))
      << "asks to run at once";
  EXPECT_THAT(a->link.methods(), IsEmpty()) << "observe() itself sends nothing";
  a->step();
  EXPECT_FALSE(a->elector.leading());
  EXPECT_EQ(*a->last_report_time(false), a->clock.timeline_of(a->at(3s)))
      << "stepped down in the same instant, after one read";
  EXPECT_EQ(a->last_report().holder, "pod-b_2");
  EXPECT_EQ(server.resource_version(), rv) << "never writes over the new holder";
  EXPECT_TRUE(a->logged("stopped leading: the Lease is now held by \"pod-b_2\"", 2))
      << a->all_logs();
}

TEST_F(ElectorTest, StaleWatchEventOfAnotherHolderDoesNotCostLeadership) {
  server.put_lease(held_by("pod-b_2", 1, 4));
  std::string why;
  const Lease stale = *Lease::from_json(*server.lease(), &why);  // b's, before a took over
  auto a = make();
  a->run_until(a->at(15s));
  ASSERT_TRUE(a->elector.leading());
  a->run_until(a->at(18s));
  a->link.clear();
  EXPECT_TRUE(a->elector.observe(stale));
  a->step();
  EXPECT_TRUE(a->elector.leading()) << a->all_logs();
  EXPECT_FALSE(lost_leadership(*a));
  EXPECT_THAT(a->link.methods(), ElementsAre("GET")) << "checked; renews at its usual time";
  a->run_until(a->at(20s));
  EXPECT_THAT(a->link.methods(), ElementsAre("GET", "PUT"));
  EXPECT_EQ(a->last_report().epoch, 5u) << "the same term";
}

TEST_F(ElectorTest, ObservedOwnRenewalWhileLeadingIsIgnored) {
  auto a = leader();
  a->run_until(a->at(5s));
  std::string why;
  const std::size_t reports = a->reports.size();
  a->link.clear();
  EXPECT_FALSE(a->elector.observe(*Lease::from_json(*server.lease(), &why)));
  EXPECT_TRUE(a->elector.leading());
  EXPECT_EQ(a->reports.size(), reports);
  a->run_until(a->at(10s));
  EXPECT_THAT(a->link.methods(), ElementsAre("PUT")) << "no extra read for our own echo";
}

TEST_F(ElectorTest, ObservedRecreatedLeaseWithOurNameButAnotherUidStepsDown) {
  auto a = leader();
  const std::string uid1 = server.uid();
  server.delete_lease();
  server.put_lease(held_by("pod-a_1"));  // same holder name, new object
  std::string why;
  EXPECT_TRUE(a->elector.observe(*Lease::from_json(*server.lease(), &why)));
  a->step();
  EXPECT_FALSE(a->elector.leading());
  EXPECT_NE(server.uid(), uid1);
  for (const auto& r : leading_reports(*a)) EXPECT_EQ(r.uid, uid1) << "never led the new object";
}

TEST_F(ElectorTest, ObservedDeletionWhileLeadingStepsDownAndRecreates) {
  auto a = leader();
  const std::string uid1 = server.uid();
  a->run_until(a->at(2s));
  server.delete_lease();
  a->link.clear();
  EXPECT_TRUE(a->elector.observe_deleted());
  a->step();  // reads: 404, the deletion is confirmed
  EXPECT_FALSE(a->elector.leading());
  EXPECT_TRUE(a->logged("stopped leading: the Lease was deleted", 2));
  a->step();  // it was the valid holder: nobody else can act, re-create and act at once
  EXPECT_TRUE(a->elector.leading());
  EXPECT_NE(server.uid(), uid1);
  EXPECT_EQ(a->last_report().uid, server.uid());
  EXPECT_THAT(a->link.methods(), ElementsAre("GET", "GET", "POST"));
}

TEST_F(ElectorTest, ObservedDeletionOfAHeldLeaseWaitsOutTheHoldersDuration) {
  server.put_lease(held_by("pod-b_2"));
  auto a = make();
  a->set_watching(true);
  a->step();
  for (int k = 1; k <= 2; ++k) {  // renewals at 5 s and 10 s, seen on the watch
    a->run_until(a->at(std::chrono::seconds(5 * k)));
    server.modify([&](json& o) { o["spec"]["renewTime"] = wire(a->clock.wall()); });
    a->pump_watch();
  }
  a->run_until(a->at(12s));
  server.delete_lease();
  EXPECT_TRUE(a->pump_watch());
  a->run_until(a->at(12s));
  EXPECT_EQ(a->sent_times("POST"), std::vector<LeaseTime>{a->at(12s)}) << "created at once";
  a->run_until(a->at(27s) - 1ns);
  EXPECT_FALSE(a->elector.leading()) << "the holder renewed at 10 s; its term may run";
  a->run_until(a->at(27s));
  EXPECT_TRUE(a->elector.leading());
}

TEST_F(ElectorTest, FollowerWithAnUnhealthyWatchPollsEveryRetryPeriod) {
  server.put_lease(held_by("pod-b_2", 3600));
  auto a = make();
  a->run_until(a->at(30s));
  const auto gets = a->sent_times("GET");
  ASSERT_EQ(gets.size(), 7u);
  for (std::size_t i = 0; i < gets.size(); ++i) {
    EXPECT_EQ(gets[i], a->at(std::chrono::seconds(5 * i)));
  }
}

TEST_F(ElectorTest, FollowerWithAHealthyWatchMakesNoRequests) {
  server.put_lease(held_by("pod-b_2", 3600));
  auto a = make();
  a->set_watching(true);
  EXPECT_CALL(a->transport, send(_)).Times(0);
  a->run_until(a->at(600s));
  EXPECT_FALSE(a->elector.leading());
}

TEST_F(ElectorTest, FollowerResumesPollingWhenItsWatchBreaks) {
  server.put_lease(held_by("pod-b_2", 3600));
  auto a = make();
  a->set_watching(true);
  a->step();
  a->run_until(a->at(20s));
  EXPECT_THAT(a->link.methods(), IsEmpty());
  a->set_watching(false);
  a->step();
  a->run_until(a->at(30s));
  EXPECT_EQ(a->sent_times("GET"), (std::vector<LeaseTime>{a->at(20s), a->at(25s), a->at(30s)}));
}

// ================================================================ issue 11: the adversary's edits

TEST_F(ElectorTest, EveryRenewalChangesTheSpecEvenUnderAFrozenWallClock) {
  // A frozen (or stepped-back) wall clock used to write the same renewTime:
  // the API server stores nothing for an update that changes nothing, no
  // watch event fires, and followers took a live leader for a dead one.
  auto a = leader();
  a->clock.freeze_wall(true);
  std::string previous = server.spec()["renewTime"];
  std::string rv = server.resource_version();
  for (int k = 1; k <= 4; ++k) {
    a->run_until(a->at(std::chrono::seconds(5 * k)));
    const std::string renew = server.spec()["renewTime"];
    EXPECT_GT(renew, previous) << "renewal " << k;
    EXPECT_NE(server.resource_version(), rv) << "renewal " << k << " was stored";
    previous = renew;
    rv = server.resource_version();
  }
  a->clock.jump_wall(-2h);  // and a clock that went back
  a->run_until(a->at(25s));
  EXPECT_GT(std::string(server.spec()["renewTime"]), previous);
}

TEST_F(ElectorTest, AFollowerSeesEachRenewalOfALeaderWithAFrozenWallClock) {
  auto a = leader();
  a->clock.freeze_wall(true);
  auto b = make("pod-b_2");
  b->set_watching(true);
  b->step();
  for (int k = 1; k <= 8; ++k) {  // 40 s of renewals: b never takes over
    a->run_until(a->at(std::chrono::seconds(5 * k)));
    b->pump_watch();
    b->run_until(b->at(std::chrono::seconds(5 * k)));
    EXPECT_FALSE(b->elector.leading()) << "at " << 5 * k << " s";
  }
}

TEST_F(ElectorTest, EditsOfTheElectionsAnnotationsAloneDoNotExtendAHolder) {
  // The leader-address annotation and the release marker are not renewals:
  // a controller touching them must not keep a dead holder alive.
  server.put_lease(held_by("pod-b_2"));
  auto a = make();
  a->set_watching(true);
  a->step();
  for (int k = 1; k <= 14; ++k) {
    a->run_until(a->at(std::chrono::seconds(k)));
    server.modify([&](json& o) {
      o["metadata"]["annotations"][kLeaderAddressAnnotation] =
          json{{"holder", "pod-b_2"}, {"address", "10.0.0." + std::to_string(k) + ":8080"}}.dump();
      o["metadata"]["labels"]["tick"] = std::to_string(k);
    });
    a->pump_watch();
  }
  a->run_until(a->at(15s));
  EXPECT_TRUE(a->elector.leading()) << "15 s after the last renewal, whatever was edited since";
}

TEST_F(ElectorTest, AWatchingFollowerWakesEarlierWhenAnEditShortensTheHoldersTerm) {
  // The soak found this: an edit to 60 s makes a watching follower sleep
  // until 60 s after it; an edit back to 1 s shortens the wait to max(15, 1)
  // from that edit, and the follower must not sleep through it.
  server.put_lease(held_by("pod-b_2"));
  auto a = make();
  a->set_watching(true);
  a->step();
  a->run_until(a->at(2s));
  server.modify([](json& o) { o["spec"]["leaseDurationSeconds"] = 60; });
  a->pump_watch();
  a->step();
  EXPECT_EQ(a->next, a->at(62s));
  a->run_until(a->at(3s));
  server.modify([](json& o) { o["spec"]["leaseDurationSeconds"] = 1; });
  EXPECT_TRUE(a->pump_watch()) << "the term now ends earlier than the runner was told";
  a->step();
  EXPECT_EQ(a->next, a->at(18s));
  a->run_until(a->at(18s));
  EXPECT_TRUE(a->elector.leading());
}

TEST_F(ElectorTest, LeaseTransitionsAtTheInt32LimitWrapIntoTheEra) {
  // An edit (or two billion terms) left leaseTransitions at 2147483647: the
  // next term cannot add one without overflowing (the API server would
  // answer 422 for ever). The epoch goes on in the era annotation instead.
  server.put_released(kMaxTransitions);
  auto a = make();
  a->step();
  ASSERT_TRUE(a->elector.leading()) << a->all_logs();
  EXPECT_EQ(server.spec()["leaseTransitions"], 0);
  EXPECT_EQ((*server.lease())["metadata"]["annotations"][kEpochEraAnnotation], "1");
  EXPECT_EQ(a->last_report().epoch, std::uint64_t{1} << 31) << "2147483647 + 1";
  a->run_until(a->at(5s));
  EXPECT_EQ(a->last_report().epoch, std::uint64_t{1} << 31) << "renewals keep it";
  ASSERT_EQ(a->elector.release(a->clock.steady() + 1s), ReleaseOutcome::kReleased);
  auto b = make("pod-b_2");
  b->step();
  ASSERT_TRUE(b->elector.leading());
  EXPECT_EQ(b->last_report().epoch, (std::uint64_t{1} << 31) + 1);
  EXPECT_EQ(server.spec()["leaseTransitions"], 1);
  EXPECT_EQ((*server.lease())["metadata"]["annotations"][kEpochEraAnnotation], "1");
}

TEST_F(ElectorTest, ALeaderWhoseTransitionsAreRaisedByHandStepsDownAndTheNextTermIsHigher) {
  auto a = leader();
  a->run_until(a->at(3s));
  server.modify([](json& o) { o["spec"]["leaseTransitions"] = kMaxTransitions; });
  a->run_until(a->at(5s));
  EXPECT_FALSE(a->elector.leading()) << "its term's epoch is gone from the Lease";
  a->run_until(a->at(20s));  // waited out like any term it did not write
  ASSERT_TRUE(a->elector.leading());
  EXPECT_GT(a->last_report().epoch, std::uint64_t{kMaxTransitions});
}

TEST_F(ElectorTest, ReleaseAfterAnUnansweredAcquireFindsAndReleasesTheTerm) {
  // SIGTERM cancelled the acquire; the server had applied it. The exiting
  // replica never saw itself leading, yet the Lease names it: it must read
  // and release, or everyone waits a full duration.
  server.put_released(4);
  auto a = make();
  a->link.faults().next(1, Fault::lose_response().only("PUT"));
  a->step();
  ASSERT_FALSE(a->elector.leading());
  ASSERT_EQ(server.spec()["holderIdentity"], "pod-a_1");
  a->link.clear();
  EXPECT_EQ(a->elector.release(a->clock.steady() + 2s), ReleaseOutcome::kReleased);
  EXPECT_THAT(a->link.methods(), ElementsAre("GET", "PUT"));
  EXPECT_EQ(server.spec()["holderIdentity"], "");
  const json marker = json::parse(
      (*server.lease())["metadata"]["annotations"][kReleasedTermAnnotation].get<std::string>());
  EXPECT_EQ(marker["epoch"], 5) << "the acquire had acted at once: its release is a release";
}

TEST_F(ElectorTest, ReleaseAfterAnUnansweredCreateReleasesItWithoutTheMarker) {
  // The create had not begun to act (a full duration must pass): its release
  // cannot vouch that no earlier holder is valid, so it carries no marker
  // and the next holder waits it out.
  auto a = make();
  a->link.faults().next(1, Fault::lose_response().only("POST"));
  a->step();
  ASSERT_FALSE(a->elector.holding());
  ASSERT_EQ(server.spec()["holderIdentity"], "pod-a_1");
  EXPECT_EQ(a->elector.release(a->clock.steady() + 2s), ReleaseOutcome::kReleased);
  EXPECT_EQ(server.spec()["holderIdentity"], "");
  EXPECT_FALSE((*server.lease())["metadata"]["annotations"].contains(kReleasedTermAnnotation));
  auto b = make("pod-b_2");
  b->run_until(b->at(15s) - 1ns);
  EXPECT_FALSE(b->elector.leading());
  b->run_until(b->at(15s));
  EXPECT_TRUE(b->elector.leading());
}

TEST_F(ElectorTest, AnUnansweredCreateFoundLaterStillWaitsAFullDurationFromTheRead) {
  auto a = make();
  a->link.faults().next(1, Fault::lose_response().only("POST"));
  a->step();  // the create was applied; its answer never came (5 s timeout)
  ASSERT_FALSE(a->elector.holding());
  const LeaseTime found = a->clock.steady();
  a->step();  // reads it: its own create, recognised by the renewTime it wrote
  EXPECT_TRUE(a->elector.holding());
  EXPECT_FALSE(a->elector.leading());
  a->run_until(found + 15s - 1ns);
  EXPECT_FALSE(a->elector.leading());
  a->run_until(found + 15s);
  EXPECT_TRUE(a->elector.leading());
}

TEST_F(ElectorTest, AStepDownForAMissedDeadlineNamesNoHolderUntilTheNextRead) {
  // A leader whose deadline passed (paused, partitioned) has not confirmed
  // who holds the Lease: reporting itself would send clients back to it.
  auto a = leader();
  a->partition();
  a->run_until(a->at(10s));
  ASSERT_FALSE(a->elector.leading());
  EXPECT_EQ(a->last_report().holder, "");
  EXPECT_EQ(a->last_report().holder_address, "");
  a->heal();
  a->run_until(a->next);  // reads the Lease: still its own term, taken again
  EXPECT_EQ(a->last_report().holder, "pod-a_1");
}

// ================================================================ state reports

TEST_F(ElectorTest, FollowerReportsOnlyChanges) {
  server.put_lease(held_by("pod-b_2", 3600));
  auto a = make();
  a->run_until(a->at(60s));
  ASSERT_EQ(a->reports.size(), 1u);
  EXPECT_FALSE(a->reports[0].leading);
  EXPECT_EQ(a->reports[0].holder, "pod-b_2");
  EXPECT_EQ(a->reports[0].uid, "") << "the epoch is only a leader's";
}

}  // namespace
}  // namespace pgdc::kube
