// Switchover (Elector::handover, ABI 1.4 transfer) on the fake API server
// and time line: the leader reports FOLLOWER before it writes, the release it
// writes names a preferred holder who takes it at once in the next term,
// everybody else waits it out a full lease duration, and a failed or unknown
// handover never resumes the old term. Every test also runs the
// IntervalChecker: never two leaders at one instant, epochs strictly grow.
#include <gtest/gtest.h>

#include "fakes.h"

namespace pgdc::kube {
namespace {

using namespace std::chrono_literals;
using namespace testing;  // NOLINT: pgdc::kube::testing, the fakes
using ::testing::HasSubstr;
using ::testing::IsEmpty;

#define EXPECT_SAFE(sim) EXPECT_THAT((sim).checker.violations(), IsEmpty()) << (sim).checker.dump()

constexpr const char* kA = "pod-a_1";
constexpr const char* kB = "pod-b_2";
constexpr const char* kC = "pod-c_3";

// a leads from 0 s in term 1 (a released Lease of term 0); b and c watch.
struct Three {
  Sim sim;
  Replica& a;
  Replica& b;
  Replica& c;
  Three() : a(init(sim, kA)), b(sim.add(kB)), c(sim.add(kC)) {
    for (Replica* r : {&a, &b, &c}) r->set_watching(true);
    sim.run_until(10s);
  }
  static Replica& init(Sim& s, const char* id) {
    s.server.put_released();
    return s.add(id);
  }
};

json annotations(const FakeApiServer& server) {
  return server.lease()->at("metadata").value("annotations", json::object());
}

bool is_handover_write(const Link::Record& r) {
  return r.request.method == "PUT" &&
         r.request.body.find(kPreferredHolderAnnotation) != std::string::npos;
}

TEST(Handover, TargetTakesOverAtOnceInTheNextTermAfterTheOldLeaderReportedFollower) {
  Three t;
  ASSERT_TRUE(t.a.elector.leading());
  const std::size_t reports_before = t.a.reports.size();
  const std::size_t records_before = t.a.link.records().size();
  ASSERT_EQ(t.a.elector.handover(kB, t.a.clock.steady() + 5s), HandoverOutcome::kHandedOver);
  EXPECT_FALSE(t.a.elector.leading());
  EXPECT_FALSE(t.a.elector.holding());

  // Order: the FOLLOWER report came before any request, and the one request
  // after it is the handover write.
  ASSERT_GT(t.a.reports.size(), reports_before);
  EXPECT_FALSE(t.a.reports[reports_before].leading);
  EXPECT_EQ(t.a.requests_at_report[reports_before], records_before)
      << "the step-down was reported before the write was sent\n"
      << t.a.history();
  ASSERT_EQ(t.a.link.records().size(), records_before + 1) << t.a.history();
  EXPECT_TRUE(is_handover_write(t.a.link.records().back()));

  // What the Lease says: a release of term 1 that prefers b.
  const json ann = annotations(t.sim.server);
  EXPECT_EQ(ann.value(kPreferredHolderAnnotation, ""), kB);
  EXPECT_THAT(ann.value(kReleasedTermAnnotation, ""), HasSubstr("\"epoch\":1"));
  EXPECT_EQ(t.sim.server.spec().value("holderIdentity", "?"), "");
  EXPECT_FALSE(t.sim.server.spec().contains("preferredHolder")) << "no spec.strategy: not written";

  t.sim.run_until(10s + 1ms);
  ASSERT_TRUE(t.b.elector.leading()) << t.b.history();
  const auto b_terms = t.sim.checker.terms_of(1);
  ASSERT_EQ(b_terms.size(), 1u);
  EXPECT_EQ(b_terms[0].start(), 10s) << "within the same instant, no wait";
  EXPECT_EQ(b_terms[0].epoch, 2u);
  EXPECT_EQ(t.sim.checker.terms_of(0).back().end(), 10s);
  // b's acquire ended the preference.
  EXPECT_FALSE(annotations(t.sim.server).contains(kPreferredHolderAnnotation));
  EXPECT_FALSE(annotations(t.sim.server).contains(kReleasedTermAnnotation));

  // Nobody else takes it while b renews; a and c stay followers.
  t.sim.run_until(60s);
  EXPECT_TRUE(t.b.elector.leading());
  EXPECT_TRUE(t.sim.checker.terms_of(2).empty());
  EXPECT_EQ(t.sim.checker.terms_of(0).size(), 1u);
  EXPECT_SAFE(t.sim);
}

TEST(Handover, AThirdReplicaWaitsAFullLeaseDurationWhenTheTargetNeverComes) {
  Three t;
  t.b.stopped = true;  // the target is gone (the host's check raced with its exit)
  ASSERT_EQ(t.a.elector.handover(kB, t.a.clock.steady() + 5s), HandoverOutcome::kHandedOver);
  t.sim.run_until(10s + 15s - 1ms);
  EXPECT_EQ(t.sim.leaders_now(), 0) << "a release preferring b is held for everyone else";
  EXPECT_TRUE(t.sim.checker.terms_of(2).size() + t.sim.checker.terms_of(0).size() == 1u);
  t.sim.run_until(10s + 16s);
  ASSERT_EQ(t.sim.leaders_now(), 1);
  Replica* next = t.sim.leader();
  ASSERT_TRUE(next == &t.a || next == &t.c);
  const auto terms = t.sim.checker.terms_of(next->index);
  EXPECT_EQ(terms.back().start(), 10s + 15s) << "exactly one lease duration after the release";
  EXPECT_EQ(terms.back().epoch, 2u);
  EXPECT_TRUE(next->logged("who did not take it within the lease duration", 1));
  EXPECT_FALSE(annotations(t.sim.server).contains(kPreferredHolderAnnotation));
  EXPECT_SAFE(t.sim);
}

TEST(Handover, RefusedWhenNotActingOrForItselfWithNothingReportedOrWritten) {
  Three t;
  for (Replica* r : {&t.b, &t.c}) {
    const auto records = r->link.records().size();
    const auto reports = r->reports.size();
    EXPECT_EQ(r->elector.handover(kA, r->clock.steady() + 5s), HandoverOutcome::kNotLeading);
    EXPECT_EQ(r->link.records().size(), records);
    EXPECT_EQ(r->reports.size(), reports);
  }
  const auto records = t.a.link.records().size();
  const auto reports = t.a.reports.size();
  EXPECT_EQ(t.a.elector.handover(kA, t.a.clock.steady() + 5s), HandoverOutcome::kRefused);
  EXPECT_EQ(t.a.elector.handover("", t.a.clock.steady() + 5s), HandoverOutcome::kRefused);
  EXPECT_EQ(t.a.link.records().size(), records);
  EXPECT_EQ(t.a.reports.size(), reports);
  EXPECT_TRUE(t.a.elector.leading());
  EXPECT_SAFE(t.sim);
}

TEST(Handover, RefusedWhileHoldingButNotYetActing) {
  // A create acts only a full duration later: holding, not acting.
  Sim sim;
  Replica& a = sim.add(kA);
  sim.run_until(1s);
  ASSERT_TRUE(a.elector.holding());
  ASSERT_FALSE(a.elector.leading());
  const auto records = a.link.records().size();
  EXPECT_EQ(a.elector.handover(kB, a.clock.steady() + 5s), HandoverOutcome::kNotLeading);
  EXPECT_EQ(a.link.records().size(), records);
  EXPECT_TRUE(a.elector.holding());
  EXPECT_SAFE(sim);
}

TEST(Handover, ATermThatIsNoLongerOursIsNotWrittenAndReportsNotHolder) {
  Three t;
  // An edit by hand gives the Lease to someone else in a new term; a's watch
  // has not told it yet.
  t.sim.server.modify([](json& o) {
    o["spec"]["holderIdentity"] = "intruder";
    o["spec"]["leaseTransitions"] = 7;
  });
  const std::string rv = t.sim.server.resource_version();
  t.a.link.clear();
  EXPECT_EQ(t.a.elector.handover(kB, t.a.clock.steady() + 5s), HandoverOutcome::kNotHolder);
  EXPECT_EQ(t.sim.server.resource_version(), rv) << "nothing written";
  EXPECT_EQ(t.sim.server.spec().value("holderIdentity", ""), "intruder");
  EXPECT_EQ(t.a.link.methods(), (std::vector<std::string>{"PUT", "GET"}))
      << "the fast path got 409, the fresh read showed another term";
  EXPECT_FALSE(t.a.elector.leading());
  EXPECT_SAFE(t.sim);
}

TEST(Handover, AConflictFromAnEditOfOurOwnTermIsRetriedOnAFreshRead) {
  Three t;
  t.sim.server.modify([](json& o) { o["metadata"]["labels"]["team"] = "db"; });
  t.a.link.clear();
  ASSERT_EQ(t.a.elector.handover(kB, t.a.clock.steady() + 5s), HandoverOutcome::kHandedOver);
  EXPECT_EQ(t.a.link.methods(), (std::vector<std::string>{"PUT", "GET", "PUT"}));
  EXPECT_EQ(t.sim.server.lease()->at("metadata").at("labels").value("team", ""), "db");
  t.sim.run_until(10s + 1ms);
  EXPECT_TRUE(t.b.elector.leading());
  EXPECT_SAFE(t.sim);
}

TEST(Handover, AWriteThatDefinitelyFailedIsFollowedByANewTermNeverTheOldOne) {
  Three t;
  t.a.link.faults().next(1, Fault::http(403).only("PUT"));
  EXPECT_EQ(t.a.elector.handover(kB, t.a.clock.steady() + 5s), HandoverOutcome::kFailed);
  EXPECT_FALSE(t.a.elector.leading());
  EXPECT_EQ(t.sim.server.spec().value("holderIdentity", ""), kA) << "still a's term on the server";
  t.a.next = t.a.clock.steady();  // the runner steps right after a handover
  t.sim.run_until(11s);
  // The Lease still shows a's own term: a takes it back at once, in term 2.
  ASSERT_TRUE(t.a.elector.leading()) << t.a.history();
  const auto terms = t.sim.checker.terms_of(0);
  ASSERT_EQ(terms.size(), 2u);
  EXPECT_EQ(terms[0].epoch, 1u);
  EXPECT_EQ(terms[1].epoch, 2u);
  EXPECT_TRUE(t.sim.checker.terms_of(1).empty());
  EXPECT_SAFE(t.sim);
}

TEST(Handover, AnUnknownOutcomeNeverResumesTheOldEpoch) {
  Three t;
  // No answer to anything until the deadline: the write's outcome is unknown.
  t.a.link.faults().always(Fault::refused());
  EXPECT_EQ(t.a.elector.handover(kB, t.a.clock.steady() + 2s), HandoverOutcome::kFailed);
  EXPECT_FALSE(t.a.elector.leading());
  t.a.link.faults().clear();
  t.a.next = t.a.clock.steady();
  t.sim.run_until(40s);
  for (std::size_t i = 0; i < t.a.reports.size(); ++i) {
    if (t.a.report_times[i] > 10s && t.a.reports[i].leading) {
      EXPECT_GT(t.a.reports[i].epoch, 1u) << "term 1 is never led again";
    }
  }
  EXPECT_EQ(t.sim.leaders_now(), 1);
  // The write never landed (refused): the Lease still showed a's term, so a
  // took it back at once, in a new term.
  const auto terms = t.sim.checker.terms_of(0);
  ASSERT_EQ(terms.size(), 2u) << t.a.history();
  EXPECT_EQ(terms[1].epoch, 2u);
  EXPECT_LT(terms[1].start(), 13s);
  EXPECT_SAFE(t.sim);
}

TEST(Handover, ALostResponseOfAnAppliedWriteIsFoundOnAFreshRead) {
  Three t;
  t.a.link.faults().next(1, Fault::lose_response().only("PUT"));
  ASSERT_EQ(t.a.elector.handover(kB, t.a.clock.steady() + 5s), HandoverOutcome::kHandedOver)
      << t.a.history();
  t.sim.run_until(12s);
  EXPECT_TRUE(t.b.elector.leading());
  EXPECT_EQ(t.sim.checker.terms_of(0).size(), 1u);
  EXPECT_SAFE(t.sim);
}

TEST(Handover, AnAcquireByAnyoneClearsAStalePreference) {
  // A release of term 4 preferring a replica that does not exist (left by
  // an old handover): waited out, then taken; the acquire removes the
  // preference, so the next plain release is taken at once.
  Sim sim;
  sim.server.put_released(4);
  sim.server.modify([](json& o) {
    o["metadata"]["annotations"][kPreferredHolderAnnotation] = "ghost";
    o["spec"]["strategy"] = "OldestEmulationVersion";
    o["spec"]["preferredHolder"] = "ghost";
  });
  Replica& a = sim.add(kA);
  Replica& b = sim.add(kB);
  a.set_watching(true);
  b.set_watching(true);
  sim.run_until(14s);
  EXPECT_EQ(sim.leaders_now(), 0) << "the release prefers ghost";
  sim.run_until(16s);
  ASSERT_EQ(sim.leaders_now(), 1);
  EXPECT_FALSE(annotations(sim.server).contains(kPreferredHolderAnnotation));
  EXPECT_FALSE(sim.server.spec().contains("preferredHolder"));
  EXPECT_EQ(sim.server.spec().value("strategy", ""), "OldestEmulationVersion") << "not ours";
  Replica& leader = *sim.leader();
  Replica& other = &leader == &a ? b : a;
  ASSERT_EQ(leader.elector.release(leader.clock.steady() + 1s), ReleaseOutcome::kReleased);
  leader.stopped = true;
  const Nanos released_at = sim.timeline.now();
  sim.run_until(released_at + 1ms);
  EXPECT_TRUE(other.elector.leading()) << "no preference lingered into the release";
  EXPECT_SAFE(sim);
}

TEST(Handover, TheSpecFieldIsWrittenWhenTheLeaseHasAStrategy) {
  Three t;
  t.sim.server.modify([](json& o) { o["spec"]["strategy"] = "OldestEmulationVersion"; });
  ASSERT_EQ(t.a.elector.handover(kB, t.a.clock.steady() + 5s), HandoverOutcome::kHandedOver);
  EXPECT_EQ(t.sim.server.spec().value("preferredHolder", ""), kB);
  t.sim.run_until(10s + 1ms);
  EXPECT_TRUE(t.b.elector.leading());
  EXPECT_FALSE(t.sim.server.spec().contains("preferredHolder"));
  EXPECT_SAFE(t.sim);
}

TEST(Handover, ABlankHolderWithAPreferenceButNoReleaseMarkerIsWaitedOutEvenByThePreferred) {
  Three t;
  t.sim.server.modify([](json& o) {
    o["spec"]["holderIdentity"] = "";
    o["metadata"]["annotations"][kPreferredHolderAnnotation] = kB;
    o["metadata"]["annotations"].erase(kReleasedTermAnnotation);
  });
  const Nanos edited = t.sim.timeline.now();
  t.sim.run_until(edited + 15s - 1ms);
  for (int i = 0; i < 3; ++i) {
    for (const auto& term : t.sim.checker.terms_of(i)) {
      if (term.epoch > 1) ADD_FAILURE() << "took a blank holder without a marker early";
    }
  }
  t.sim.run_until(edited + 17s);
  EXPECT_EQ(t.sim.leaders_now(), 1);
  EXPECT_SAFE(t.sim);
}

TEST(Handover, PreferredHolderIsReadFromTheSpecFieldFirstThenTheAnnotation) {
  std::string error;
  const json base{{"kind", "Lease"},
                  {"metadata",
                   {{"name", "l"},
                    {"uid", "u"},
                    {"resourceVersion", "1"},
                    {"annotations", {{kPreferredHolderAnnotation, "from-annotation"}}}}},
                  {"spec", {{"holderIdentity", ""}}}};
  auto lease = Lease::from_json(base, &error);
  ASSERT_TRUE(lease) << error;
  EXPECT_EQ(lease->spec().preferred_holder, "from-annotation");
  json with_spec = base;
  with_spec["spec"]["preferredHolder"] = "from-spec";
  lease = Lease::from_json(with_spec, &error);
  ASSERT_TRUE(lease) << error;
  EXPECT_EQ(lease->spec().preferred_holder, "from-spec");
  json malformed = base;
  malformed["metadata"]["annotations"][kPreferredHolderAnnotation] = 5;
  lease = Lease::from_json(malformed, &error);
  ASSERT_TRUE(lease) << error;
  EXPECT_EQ(lease->spec().preferred_holder, "");

  // Written only without a holder; the spec field only next to a strategy.
  LeaseSpec spec = lease->spec();
  spec.preferred_holder = "x";
  spec.holder = "h";
  json out = json::parse(lease->with_spec(spec));
  EXPECT_FALSE(out["metadata"]["annotations"].contains(kPreferredHolderAnnotation));
  spec.holder.clear();
  out = json::parse(lease->with_spec(spec));
  EXPECT_EQ(out["metadata"]["annotations"].value(kPreferredHolderAnnotation, ""), "x");
  EXPECT_FALSE(out["spec"].contains("preferredHolder"));
}

}  // namespace
}  // namespace pgdc::kube
