#include "client/ctl_render.h"

#include <gtest/gtest.h>

namespace pgdc::client {
namespace {

using Json = nlohmann::json;

// The shape core/status/status_routes.cpp answers, as a leader with durable state.
Json leader_status() {
  return Json::parse(R"({
    "identity": "pod-a", "role": "leader", "holder": "pod-a",
    "holder_address": "10.0.0.1:8080", "ready": true, "shutting_down": false,
    "epoch": {"scope": "uid-1", "term": 7},
    "backend": {"name": "kubernetes", "version": "1.4.0"},
    "lease": {"name": "pgdog-control", "namespace": "db", "duration_secs": 15.0,
              "interval_secs": 2.0, "renew_deadline_secs": 10.0,
              "release_timeout_secs": 5.0, "stop_work_timeout_secs": 10.0, "enabled": true},
    "validity": "valid", "validity_remaining_secs": 12.5, "transitions": 1,
    "role_since_secs_ago": 30.0, "advertise_address": "10.0.0.1:8080",
    "state": {"durable": true, "backend": "kubernetes ConfigMaps", "loaded_term": "uid-1/7",
              "fenced": false, "last_error": "", "loads": 1, "writes": 3,
              "write_failures": 0, "conflicts": 0, "object_bytes": {}}
  })");
}

TEST(RenderStatus, LeaderWithDurableState) {
  const Rendered r = render_status(leader_status());
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.text,
            "identity:  pod-a\n"
            "role:      leader\n"
            "ready:     yes\n"
            "leader:    pod-a at 10.0.0.1:8080\n"
            "epoch:     uid-1/7\n"
            "plugin:    kubernetes 1.4.0\n"
            "lease:     db/pgdog-control, duration 15s, release timeout 5s\n"
            "state:     durable (kubernetes ConfigMaps), loaded term uid-1/7\n");
}

TEST(RenderStatus, FollowerSingleReplicaMemoryOnlyWithVersion) {
  Json s = Json::parse(R"({
    "identity": "host-1", "role": "follower", "holder": "", "holder_address": "",
    "ready": false, "shutting_down": true, "epoch": {"scope": "", "term": 0},
    "backend": {"name": "noop", "version": "1.0.0"}, "version": "0.2.0",
    "lease": {"enabled": false},
    "state": {"durable": false, "backend": "no state backend", "fenced": false,
              "last_error": "disk full"}
  })");
  const Rendered r = render_status(s);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.text,
            "identity:  host-1\n"
            "role:      follower (shutting down)\n"
            "ready:     no\n"
            "leader:    none known\n"
            "epoch:     0\n"
            "version:   0.2.0\n"
            "plugin:    noop 1.0.0\n"
            "lease:     leader election off (single replica)\n"
            "state:     memory only: lost at a restart or when leadership moves (no state "
            "backend); last error: disk full\n");
}

TEST(RenderStatus, FencedAndNullState) {
  Json s = leader_status();
  s["state"]["fenced"] = true;
  EXPECT_NE(render_status(s).text.find("FENCED (another term wrote)"), std::string::npos);
  s["state"] = nullptr;
  EXPECT_NE(render_status(s).text.find("state:     not reported\n"), std::string::npos);
}

TEST(RenderStatus, ServerTextIsMadeOneLine) {
  Json s = leader_status();
  s["identity"] = "evil\nrole: leader";
  EXPECT_NE(render_status(s).text.find("identity:  evil\\nrole: leader\n"), std::string::npos);
}

TEST(RenderStatus, NotAStatusIsAnError) {
  for (const char* body : {R"({"members": []})", "[]", "null", R"({"role": 3})"}) {
    const Rendered r = render_status(Json::parse(body));
    EXPECT_EQ(r.text, "") << body;
    EXPECT_EQ(r.error, "the reply is not a status: it has no \"role\"") << body;
  }
}

// The shape issue 15's spec fixes for GET /api/web/members.
Json three_members() {
  return Json::parse(R"({
    "self": "pod-b", "leader": "pod-a", "members_supported": true,
    "switchover_supported": true,
    "members": [
      {"identity": "pod-a", "role": "leader", "address": "10.0.0.1:8080", "version": "0.1.0",
       "backend": "kubernetes 1.4.0", "eligible": true, "stale": false,
       "heartbeat_age_ms": 1200, "self": false},
      {"identity": "pod-b", "role": "follower", "address": "10.0.0.2:8080", "version": "0.2.0",
       "backend": "kubernetes 1.4.0", "eligible": true, "stale": false,
       "heartbeat_age_ms": 850, "self": true},
      {"identity": "pod-c", "role": "follower", "address": "10.0.0.3:8080", "version": "0.1.0",
       "backend": "kubernetes 1.4.0", "eligible": false, "stale": true,
       "heartbeat_age_ms": 95000, "self": false}
    ]
  })");
}

TEST(RenderMembers, TableMarksSelfAndStale) {
  const Rendered r = render_members(three_members());
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.text,
            "IDENTITY  ROLE      ADDRESS        VERSION  ELIGIBLE  HEARTBEAT\n"
            "pod-a     leader    10.0.0.1:8080  0.1.0    yes       1.2s\n"
            "pod-b *   follower  10.0.0.2:8080  0.2.0    yes       850ms\n"
            "pod-c     follower  10.0.0.3:8080  0.1.0    no        1m35s STALE\n"
            "\n"
            "leader: pod-a; * marks the replica that answered (pod-b)\n"
            "1 member is STALE: no heartbeat within the backend's TTL (stopped, partitioned or "
            "hung); a stale member is never chosen for a switchover\n");
}

TEST(RenderMembers, PluginWithoutMemberListAndUnknownHeartbeat) {
  const Json j = Json::parse(R"({
    "self": "solo", "leader": "", "members_supported": false, "switchover_supported": false,
    "members": [{"identity": "solo", "role": "follower", "address": "127.0.0.1:8080",
                 "version": "0.1.0", "backend": "noop 1.0.0", "eligible": true,
                 "stale": false, "heartbeat_age_ms": -1, "self": true}]
  })");
  const Rendered r = render_members(j);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.text,
            "IDENTITY  ROLE      ADDRESS         VERSION  ELIGIBLE  HEARTBEAT\n"
            "solo *    follower  127.0.0.1:8080  0.1.0    yes       unknown\n"
            "\n"
            "leader: none known; * marks the replica that answered (solo)\n"
            "the coordination plugin does not list members: only the replica that answered is "
            "shown\n"
            "the coordination plugin cannot hand leadership over: no switchover\n");
}

TEST(RenderStatus, MemoryOnlyDoesNotRepeatWhyThereIsNoBackend) {
  Json s = leader_status();
  s["state"] = Json{{"durable", false}, {"backend", "none (memory only)"}};
  EXPECT_NE(render_status(s).text.find(
                "state:     memory only: lost at a restart or when leadership moves\n"),
            std::string::npos)
      << render_status(s).text;
}

TEST(RenderMembers, MissingFieldsShowPlaceholders) {
  const Json j = Json::parse(R"({"members": [{"identity": "x"}]})");
  const Rendered r = render_members(j);
  ASSERT_EQ(r.error, "");
  EXPECT_NE(r.text.find("x         ?     -        ?        ?         unknown\n"), std::string::npos)
      << r.text;
}

TEST(RenderMembers, NotAMemberListIsAnError) {
  EXPECT_EQ(render_members(Json::parse(R"({"role": "leader"})")).error,
            "the reply is not a member list: it has no \"members\" array");
  EXPECT_EQ(render_members(Json::parse(R"({"members": [{"role": "leader"}]})")).error,
            "a member in the reply has no \"identity\"");
}

TEST(RenderSwitchover, FromTo) {
  const Rendered r =
      render_switchover(Json::parse(R"({"from": "pod-a", "to": "pod-b", "epoch": "uid-1/7"})"));
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.text, "switched over from pod-a to pod-b (the old leader's epoch was uid-1/7)\n");
  EXPECT_EQ(render_switchover(Json::parse(R"({"from": "a", "to": "b"})")).text,
            "switched over from a to b\n");
  EXPECT_EQ(render_switchover(Json::parse(R"({"from": "a"})")).error,
            "the reply is not a switchover result: it lacks \"from\" or \"to\"");
}

TEST(DescribeError, ApiErrorTextAndEmpty) {
  EXPECT_EQ(describe_error(409, R"({"error":"switchover_refused","message":"pod-c is stale"})"),
            "HTTP 409 switchover_refused: pod-c is stale");
  EXPECT_EQ(describe_error(502, "<html>\nBad gateway</html>"), "HTTP 502: <html>");
  EXPECT_EQ(describe_error(500, ""), "HTTP 500");
  EXPECT_EQ(describe_error(503, R"({"error":"not_leader"})"), "HTTP 503 not_leader");
}

TEST(HeartbeatAge, Units) {
  EXPECT_EQ(heartbeat_age(-1), "unknown");
  EXPECT_EQ(heartbeat_age(0), "0ms");
  EXPECT_EQ(heartbeat_age(999), "999ms");
  EXPECT_EQ(heartbeat_age(1000), "1.0s");
  EXPECT_EQ(heartbeat_age(59999), "59.9s");
  EXPECT_EQ(heartbeat_age(60000), "1m0s");
  EXPECT_EQ(heartbeat_age(3'600'000 + 5 * 60'000), "1h5m");
}

}  // namespace
}  // namespace pgdc::client
