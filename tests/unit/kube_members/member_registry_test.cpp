// MemberRegistry on the fake Lease server: publish, heartbeat, the takeover
// of an existing object, an eligibility change written at once by the
// thread, the list (ages, staleness, cache), garbage collection and the
// withdrawal at stop.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "fake_leases.h"
#include "members/member_registry.h"

namespace pgdc::kube {
namespace {

using namespace std::chrono_literals;
using namespace testing;  // NOLINT
using json = nlohmann::json;
using ::testing::HasSubstr;

constexpr std::int64_t kMs = 1'000'000;
constexpr const char* kName = "pgdog-control-member-pod-a";
const std::string kPath = std::string(kCollection) + "/" + kName;

pgdc::sdk::Member me(bool eligible = true) {
  return pgdc::sdk::Member{"pod-a", "10.0.0.1:8080", "0.1.0", "kubernetes 1.4.0", eligible, 0,
                           false};
}

json member_annotation(const json& o) {
  return json::parse(o["metadata"]["annotations"]["pgdog.dev/member"].get<std::string>());
}

// Polls `f` until it holds or 10 s pass (no sleeps as synchronisation).
template <typename F>
bool eventually(F&& f) {
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return f();
}

class MemberRegistryTest : public ::testing::Test {
 protected:
  std::unique_ptr<MemberRegistry> make(MemberTimings t = {}, PodRef pod = {"pod-a", "uid-a"}) {
    return std::make_unique<MemberRegistry>(
        server, kNamespace, "pgdog-control", pod, t, [this] { return wall.load(); },
        [this] { return now.load(); },
        [this](int level, const std::string& m) {
          std::lock_guard lock(log_mutex);
          logs.push_back(std::to_string(level) + " " + m);
        });
  }
  std::int64_t deadline(std::int64_t ms = 2000) const { return now + ms * kMs; }
  std::string all_logs() {
    std::lock_guard lock(log_mutex);
    std::string s;
    for (const auto& l : logs) s += l + "\n";
    return s;
  }

  testing::FakeLeases server;
  std::atomic<WallTime> wall{WallTime(std::chrono::seconds(1'800'000'000))};
  std::atomic<std::int64_t> now{5'000 * kMs};
  std::mutex log_mutex;
  std::vector<std::string> logs;
};

TEST(MemberTimingsTest, HeartbeatIsTheOptionAtLeastFiveSecondsTtlThree) {
  auto t = MemberTimings::for_heartbeat(2000ms);
  EXPECT_EQ(t.heartbeat, 5000ms);
  EXPECT_EQ(t.ttl_secs, 15);
  t = MemberTimings::for_heartbeat(10000ms);
  EXPECT_EQ(t.heartbeat, 10000ms);
  EXPECT_EQ(t.ttl_secs, 30);
  EXPECT_EQ(MemberTimings::for_heartbeat(5500ms).ttl_secs, 17);  // rounded up
}

TEST_F(MemberRegistryTest, FirstHeartbeatCreatesThenUpdatesWithTheVersion) {
  auto r = make();
  EXPECT_FALSE(r->heartbeat(1s)) << "nothing published yet";
  EXPECT_TRUE(server.requests().empty());
  r->publish(me());
  ASSERT_TRUE(r->heartbeat(1500ms));
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].path, kCollection);
  EXPECT_EQ(reqs[0].timeout, 1500ms);
  const json o = server.object(kName);
  EXPECT_EQ(o["spec"]["holderIdentity"], "pod-a");
  EXPECT_EQ(o["metadata"]["ownerReferences"][0]["uid"], "uid-a");
  const std::string v1 = o["metadata"]["resourceVersion"];

  wall = wall.load() + 5s;
  ASSERT_TRUE(r->heartbeat(1s));
  reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[1].method, "PUT");
  EXPECT_EQ(reqs[1].path, kPath);
  EXPECT_EQ(json::parse(reqs[1].body)["metadata"]["resourceVersion"], v1);
  EXPECT_EQ(server.object(kName)["spec"]["renewTime"], format_micro_time(wall.load()));
}

TEST_F(MemberRegistryTest, AnExistingObjectOfThisIdentityIsTakenOver) {
  // A previous process of the same identity (a StatefulSet pod restarted).
  server.admin_put(json{{"metadata", {{"name", kName}}}, {"spec", {{"holderIdentity", "pod-a"}}}});
  auto r = make();
  r->publish(me());
  ASSERT_TRUE(r->heartbeat(1s));
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].method, "POST");  // 409 AlreadyExists
  EXPECT_EQ(reqs[1].method, "GET");
  EXPECT_EQ(reqs[2].method, "PUT");
  EXPECT_EQ(member_annotation(server.object(kName))["address"], "10.0.0.1:8080");
  // Deleted behind its back (by hand): created again.
  server.admin_delete(kName);
  ASSERT_TRUE(r->heartbeat(1s));
  EXPECT_FALSE(server.object(kName).is_null());
}

TEST_F(MemberRegistryTest, AForbiddenWriteLogsOnceWithTheRbacRuleAndNeverThrows) {
  auto r = make();
  r->publish(me());
  ApiResponse forbidden;
  forbidden.status = 403;
  forbidden.body = R"({"kind":"Status","message":"leases is forbidden","code":403})";
  server.next(forbidden);
  server.next(forbidden);
  EXPECT_FALSE(r->heartbeat(1s));
  EXPECT_FALSE(r->heartbeat(1s));
  const std::string l = all_logs();
  EXPECT_THAT(l, HasSubstr("2 members: cannot create member lease pgdog/" + std::string(kName)));
  EXPECT_THAT(l, HasSubstr("verbs: [\"create\"]"));
  EXPECT_THAT(l, HasSubstr("the election is not affected"));
  EXPECT_THAT(l, HasSubstr("0 members: cannot create")) << "repeats are debug";
  EXPECT_TRUE(r->heartbeat(1s));
  EXPECT_THAT(all_logs(), HasSubstr("1 members: publishing member lease"));
}

TEST_F(MemberRegistryTest, TheThreadPublishesAnEligibilityChangeAtOnce) {
  MemberTimings t;
  t.heartbeat = 1h;  // no periodic heartbeat within the test: only changes write
  auto r = make(t);
  r->start();
  r->publish(me(true));
  ASSERT_TRUE(eventually([&] { return !server.object(kName).is_null(); }));
  EXPECT_EQ(member_annotation(server.object(kName))["eligible"], true);
  r->publish(me(false));
  ASSERT_TRUE(eventually([&] {
    const json o = server.object(kName);
    return !o.is_null() && member_annotation(o)["eligible"] == false;
  }));
  EXPECT_EQ(server.count("PUT"), 1u);
  EXPECT_TRUE(r->stop(1s));
  EXPECT_TRUE(server.object(kName).is_null()) << "a clean stop withdraws the member";
}

TEST_F(MemberRegistryTest, TheThreadHeartbeatsPeriodically) {
  MemberTimings t;
  t.heartbeat = 20ms;
  auto r = make(t);
  r->start();
  r->publish(me());
  ASSERT_TRUE(eventually([&] { return server.count("PUT") >= 3; }));
  r->stop(1s);
}

TEST_F(MemberRegistryTest, StopDeletesWithAVersionPreconditionAndSparesANewerWriter) {
  auto r = make();
  r->publish(me());
  ASSERT_TRUE(r->heartbeat(1s));
  const std::string v = server.object(kName)["metadata"]["resourceVersion"];
  ASSERT_TRUE(r->stop(800ms));
  const auto reqs = server.requests();
  EXPECT_EQ(reqs.back().method, "DELETE");
  EXPECT_EQ(reqs.back().path, kPath);
  EXPECT_EQ(reqs.back().timeout, 800ms);
  EXPECT_EQ(json::parse(reqs.back().body)["preconditions"]["resourceVersion"], v);
  EXPECT_TRUE(server.object(kName).is_null());

  // Another process of this identity wrote since: its object stays.
  auto r2 = make();
  r2->publish(me());
  ASSERT_TRUE(r2->heartbeat(1s));
  server.admin_put(server.object(kName));  // moves the version
  EXPECT_FALSE(r2->stop(1s));
  EXPECT_FALSE(server.object(kName).is_null());

  // Never published: nothing to delete, no request.
  const auto before = server.requests().size();
  EXPECT_TRUE(make()->stop(1s));
  EXPECT_EQ(server.requests().size(), before);
}

TEST_F(MemberRegistryTest, ListReadsEveryMemberByLabelWithAgesAndStaleness) {
  auto a = make();
  a->publish(me());
  ASSERT_TRUE(a->heartbeat(1s));
  // Another replica (its own registry), 20 s behind: stale after a 15 s TTL.
  auto b = make({}, PodRef{});
  wall = wall.load() - 20s;
  b->publish(
      pgdc::sdk::Member{"pod-b", "10.0.0.2:8080", "0.2.0", "kubernetes 1.4.0", false, 0, false});
  ASSERT_TRUE(b->heartbeat(1s));
  wall = wall.load() + 20s + 1200ms;
  const auto list = a->list(deadline(700));
  const auto reqs = server.requests();
  EXPECT_EQ(reqs.back().method, "GET");
  EXPECT_EQ(reqs.back().path,
            std::string(kCollection) + "?labelSelector=pgdog.dev%2Fmember-of%3Dpgdog-control");
  EXPECT_EQ(reqs.back().timeout, 700ms);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].identity, "pod-a");
  EXPECT_EQ(list[0].heartbeat_age_ms, 1200);
  EXPECT_FALSE(list[0].stale);
  EXPECT_TRUE(list[0].eligible);
  EXPECT_EQ(list[1].identity, "pod-b");
  EXPECT_EQ(list[1].address, "10.0.0.2:8080");
  EXPECT_EQ(list[1].version, "0.2.0");
  EXPECT_FALSE(list[1].eligible);
  EXPECT_EQ(list[1].heartbeat_age_ms, 21200);
  EXPECT_TRUE(list[1].stale);
}

TEST_F(MemberRegistryTest, ListIsCachedForASecondAndRefreshedAfterOwnWrites) {
  auto r = make();
  r->publish(me());
  ASSERT_TRUE(r->heartbeat(1s));
  for (int i = 0; i < 50; ++i) ASSERT_EQ(r->list(deadline()).size(), 1u);
  EXPECT_EQ(server.count("GET"), 1u) << "a dashboard polling often costs one request a second";
  now = now.load() + 400 * kMs;
  const auto cached = r->list(deadline());
  EXPECT_EQ(server.count("GET"), 1u);
  EXPECT_EQ(cached[0].heartbeat_age_ms, 400) << "a cached answer ages";
  now = now.load() + 600 * kMs;
  r->list(deadline());
  EXPECT_EQ(server.count("GET"), 2u) << "refreshed after a second";
  r->publish(me(false));
  ASSERT_TRUE(r->heartbeat(1s));
  EXPECT_FALSE(r->list(deadline())[0].eligible) << "an own write invalidates the cache";
  EXPECT_EQ(server.count("GET"), 3u);
}

TEST_F(MemberRegistryTest, ConcurrentListsShareOneRequest) {
  auto r = make();
  r->publish(me());
  ASSERT_TRUE(r->heartbeat(1s));
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 20; ++j) r->list(deadline());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(server.count("GET"), 1u);
}

TEST_F(MemberRegistryTest, ListFailuresAreUnavailableWithAClearMessage) {
  auto r = make();
  ApiResponse forbidden;
  forbidden.status = 403;
  forbidden.body = R"({"kind":"Status","message":"cannot list leases","code":403})";
  server.next(forbidden);
  try {
    r->list(deadline());
    FAIL() << "no error";
  } catch (const pgdc::sdk::UnavailableError& e) {
    EXPECT_THAT(e.what(), HasSubstr("403 Forbidden"));
    EXPECT_THAT(e.what(), HasSubstr("verbs: [\"list\"]"));
  }
  ApiResponse timeout;
  timeout.timed_out = true;
  timeout.transport_error = "timed out";
  server.next(timeout);
  EXPECT_THROW(r->list(deadline()), pgdc::sdk::UnavailableError);
  ApiResponse garbage;
  garbage.status = 200;
  garbage.body = "<html>";
  server.next(garbage);
  EXPECT_THROW(r->list(deadline()), pgdc::sdk::UnavailableError);
  const auto before = server.requests().size();
  EXPECT_THROW(r->list(now), pgdc::sdk::UnavailableError) << "deadline already passed";
  EXPECT_EQ(server.requests().size(), before) << "nothing sent past the deadline";
}

TEST_F(MemberRegistryTest, MalformedMembersAreSkippedWithADebugLine) {
  auto r = make();
  r->publish(me());
  ASSERT_TRUE(r->heartbeat(1s));
  server.add_raw_item(json{{"metadata", {{"name", "junk"}}}});
  server.add_raw_item(json("not an object"));
  const auto list = r->list(deadline());
  ASSERT_EQ(list.size(), 1u);
  EXPECT_THAT(all_logs(), HasSubstr("0 members: skipped"));
}

TEST_F(MemberRegistryTest, LongDeadMembersAreDeletedWithAPrecondition) {
  auto dead = make({}, PodRef{});
  dead->publish(pgdc::sdk::Member{"pod-dead", "", "", "", true, 0, false});
  ASSERT_TRUE(dead->heartbeat(1s));
  auto r = make();
  wall = wall.load() + 151s;  // > 10 TTLs of 15 s
  r->publish(me());
  ASSERT_TRUE(r->heartbeat(1s));
  ASSERT_EQ(r->list(deadline()).size(), 2u);  // still listed (stale) until collected
  r->collect_garbage(1s);
  const auto reqs = server.requests();
  EXPECT_EQ(reqs.back().method, "DELETE");
  EXPECT_EQ(reqs.back().path, std::string(kCollection) + "/pgdog-control-member-pod-dead");
  EXPECT_TRUE(json::parse(reqs.back().body)["preconditions"].contains("resourceVersion"));
  EXPECT_TRUE(server.object("pgdog-control-member-pod-dead").is_null());
  EXPECT_FALSE(server.object(kName).is_null()) << "a fresh member is never collected";
  EXPECT_THAT(all_logs(), HasSubstr("deleted member lease pgdog/pgdog-control-member-pod-dead"));
}

TEST_F(MemberRegistryTest, AMemberThatCameBackIsNotCollected) {
  auto dead = make({}, PodRef{});
  dead->publish(pgdc::sdk::Member{"pod-dead", "", "", "", true, 0, false});
  ASSERT_TRUE(dead->heartbeat(1s));
  auto r = make();
  wall = wall.load() + 151s;
  r->list(deadline());
  ASSERT_TRUE(dead->heartbeat(1s));  // it came back: a new version
  r->collect_garbage(1s);
  EXPECT_FALSE(server.object("pgdog-control-member-pod-dead").is_null());
}

}  // namespace
}  // namespace pgdc::kube
