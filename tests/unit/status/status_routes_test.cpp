// The status endpoints through a real server, in each leadership state.
#include "status/status_routes.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>

#include "http/http_server.h"
#include "http/test_client.h"

namespace pgdc {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::http_request;

class StatusRoutesTest : public ::testing::Test {
 protected:
  explicit StatusRoutesTest(LeadershipOptions options = {}) : state_(std::move(options)) {}

  void start() {
    StatusInfo info;
    info.identity = "pod-a_x1";
    info.backend_name = "kubernetes";
    info.backend_version = "1.2.3";
    info.leader.enabled = true;
    info.leader.lease_name = "pgdog-control";
    info.leader.lease_namespace = "db";
    info.advertise_address = "10.0.0.1:8080";
    add_status_routes(router_, state_, metrics_, leadership_metrics_, info);
    server_ = std::make_unique<HttpServer>(HttpConfig{}, router_);
    server_->listen("127.0.0.1", 0);
    server_->start(1);
  }

  test::RawResponse get(const std::string& path, const std::string& method = "GET") {
    auto r = http_request(server_->port(), method, path);
    EXPECT_TRUE(r) << path;
    return r.value_or(test::RawResponse{});
  }

  json get_json(const std::string& path, int expected_status) {
    auto r = get(path);
    EXPECT_EQ(r.status, expected_status) << path << ": " << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json");
    EXPECT_EQ(r.header("cache-control"), "no-store");
    return json::parse(r.body);
  }

  void lead(LeaseTime valid_until, std::uint64_t term = 7) {
    Observation o;
    o.role = Role::kLeader;
    o.holder = "pod-a_x1";
    o.epoch = Epoch{"uid-1", term};
    o.valid_until = valid_until;
    state_.apply(o);
  }

  LeadershipState state_;
  Metrics metrics_;
  LeadershipMetrics leadership_metrics_{metrics_};
  Router router_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(StatusRoutesTest, Follower) {
  start();
  Observation o;
  o.role = Role::kFollower;
  o.holder = "pod-b_y2";
  state_.apply(o);

  auto health = get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  EXPECT_EQ(health.header("cache-control"), "no-store");

  auto ready = get_json("/readyz", 503);
  EXPECT_EQ(ready, (json{{"ready", false},
                         {"role", "follower"},
                         {"holder", "pod-b_y2"},
                         {"shutting_down", false}}));

  auto status = get_json("/api/status", 200);
  EXPECT_EQ(status["identity"], "pod-a_x1");
  EXPECT_EQ(status["role"], "follower");
  EXPECT_EQ(status["holder"], "pod-b_y2");
  EXPECT_EQ(status["ready"], false);
  EXPECT_EQ(status["validity"], "none");
  EXPECT_TRUE(status["validity_remaining_secs"].is_null());
  EXPECT_EQ(status["backend"], (json{{"name", "kubernetes"}, {"version", "1.2.3"}}));
  EXPECT_EQ(status["lease"]["name"], "pgdog-control");
  EXPECT_EQ(status["lease"]["namespace"], "db");
  EXPECT_EQ(status["lease"]["duration_secs"], 15.0);
  EXPECT_EQ(status["lease"]["interval_secs"], 5.0);
  EXPECT_EQ(status["lease"]["renew_deadline_secs"], 10.0);
  EXPECT_EQ(status["lease"]["release_timeout_secs"], 5.0);
  EXPECT_EQ(status["lease"]["enabled"], true);
  EXPECT_EQ(status["advertise_address"], "10.0.0.1:8080");
  EXPECT_TRUE(status["role_since_secs_ago"].is_number());
  EXPECT_TRUE(status["transitions"].is_number_unsigned());

  auto metrics = get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find("\npgdog_control_leader 0\n"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("\npgdog_control_leader_validity_seconds 0\n"), std::string::npos);
}

TEST_F(StatusRoutesTest, Leader) {
  start();
  lead(LeaseClock::now() + 30s, 7);

  auto ready = get_json("/readyz", 200);
  EXPECT_EQ(
      ready,
      (json{
          {"ready", true}, {"role", "leader"}, {"holder", "pod-a_x1"}, {"shutting_down", false}}));

  auto status = get_json("/api/status", 200);
  EXPECT_EQ(status["role"], "leader");
  EXPECT_EQ(status["ready"], true);
  EXPECT_EQ(status["epoch"], (json{{"scope", "uid-1"}, {"term", 7}}));
  EXPECT_EQ(status["validity"], "valid");
  ASSERT_TRUE(status["validity_remaining_secs"].is_number());
  EXPECT_GT(status["validity_remaining_secs"].get<double>(), 20.0);
  EXPECT_LE(status["validity_remaining_secs"].get<double>(), 30.0);
  EXPECT_GE(status["transitions"].get<std::uint64_t>(), 1u);
  EXPECT_LT(status["role_since_secs_ago"].get<double>(), 10.0);

  auto metrics = get("/metrics");
  EXPECT_NE(metrics.body.find("\npgdog_control_leader 1\n"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("\npgdog_control_leader_epoch 7\n"), std::string::npos);
  EXPECT_EQ(metrics.body.find("\npgdog_control_leader_validity_seconds 0\n"), std::string::npos);

  auto head = http_request(server_->port(), "HEAD", "/readyz");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  EXPECT_NE(head->header("content-length"), "0");
}

TEST_F(StatusRoutesTest, LeaderThatNeverExpires) {
  start();
  lead(LeaseTime::max(), 1);
  auto status = get_json("/api/status", 200);
  EXPECT_EQ(status["validity"], "never");
  EXPECT_TRUE(status["validity_remaining_secs"].is_null());
  auto metrics = get("/metrics");
  EXPECT_NE(metrics.body.find("\npgdog_control_leader_validity_seconds +Inf\n"), std::string::npos)
      << metrics.body;
}

TEST_F(StatusRoutesTest, ShuttingDown) {
  start();
  lead(LeaseClock::now() + 30s);
  state_.begin_shutdown();

  EXPECT_EQ(get("/healthz").status, 200);  // still alive
  auto ready = get_json("/readyz", 503);
  EXPECT_EQ(ready["ready"], false);
  EXPECT_EQ(ready["shutting_down"], true);
  auto status = get_json("/api/status", 200);
  EXPECT_EQ(status["ready"], false);
  EXPECT_EQ(status["shutting_down"], true);
  EXPECT_EQ(status["validity"], "none");
  EXPECT_TRUE(status["validity_remaining_secs"].is_null());
  auto metrics = get("/metrics");
  EXPECT_NE(metrics.body.find("\npgdog_control_leader 0\n"), std::string::npos);
}

TEST_F(StatusRoutesTest, UnknownPathAndWrongMethod) {
  start();
  auto missing = get("/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(json::parse(missing.body)["error"], "not_found");
  auto wrong = get("/readyz", "POST");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.header("allow"), "GET, HEAD");
}

// A clock the test moves by hand, for the wedged elector.
class WedgedTest : public StatusRoutesTest {
 protected:
  static LeadershipOptions options() {
    LeadershipOptions o;
    o.progress_timeout = 1000ms;
    o.now = [] { return LeaseTime{} + std::chrono::milliseconds(now_ms.load()); };
    return o;
  }
  WedgedTest() : StatusRoutesTest(options()) {}
  static inline std::atomic<std::int64_t> now_ms{1'000'000};
};

TEST_F(WedgedTest, HealthzFailsWhenTheElectorIsWedged) {
  start();
  state_.report_progress();
  EXPECT_EQ(get("/healthz").status, 200);
  now_ms += 5000;
  auto health = get("/healthz");
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(health.body.rfind("wedged: ", 0), 0u) << health.body;
  EXPECT_EQ(health.body.back(), '\n');
  state_.report_progress();
  EXPECT_EQ(get("/healthz").status, 200);
}

}  // namespace
}  // namespace pgdc
