// The machine and web APIs end to end through the Router, with a real
// LeadershipState driven by hand and a real fleet store.
#include "api/api_service.h"

#include <gtest/gtest.h>

#include <thread>

#include "api/fleet_metrics.h"
#include "api/leader_gate.h"
#include "api_test_util.h"

namespace pgdc::api {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
using test::body_json;
using test::header;
using test::send;

constexpr const char* kProd = "prod-token-0123456789";
constexpr const char* kStaging = "staging-token-0123456789";
constexpr const char* kAdmin = "admin-token-0123456789";
constexpr const char* kRead = "read-token-0123456789";

Observation leading(std::uint64_t term) {
  return Observation{Role::kLeader, "me", Epoch{"s", term}, LeaseTime::max(), "me:8080"};
}
Observation following(std::uint64_t term) {
  return Observation{Role::kFollower, "other", Epoch{"s", term}, LeaseTime::min(), "other:8080"};
}

class ApiServiceTest : public ::testing::Test {
 protected:
  ApiServiceTest() {
    config_.deployments.push_back({"prod", {kProd}, ""});
    config_.deployments.push_back({"staging", {kStaging}, ""});
    config_.web_admin_tokens = {kAdmin};
    config_.web_read_tokens = {kRead};
    // Most cases read without a token; the default (token reads) has its
    // own case below and api_auth_test covers the checks.
    config_.web_read_access = WebReadAccess::kOpen;
    config_.max_nodes_per_deployment = 3;
    config_.max_entries_per_upload = 5;
  }
  ~ApiServiceTest() override {
    if (api_) api_->stop();
  }

  void start(bool leader = true) {
    auto tokens = fleet::load_tokens(config_);
    ASSERT_TRUE(tokens.auth);
    StatusInfo info{"me", "test", "1.0", LeaderConfig{}, "me:8080"};
    info.leader.lease_interval = 2500ms;
    api_ = std::make_unique<ApiService>(config_, std::move(*tokens.auth), state_, fleet_metrics_,
                                        info);
    api_->add_routes(router_);
    api_->start();
    if (leader) state_.apply(leading(1));
  }

  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = "", const std::string& token = "") {
    auto r = send(router_, method, target, body, token).get()->wait();
    EXPECT_TRUE(r.has_value()) << method << " " << target << " not answered";
    return r.value_or(HttpResponse{});
  }
  void register_node(const std::string& id) {
    auto r = call("POST", "/api/v2/register",
                  Json{{"node_id", id}, {"version", "1.2.3"}, {"host", "10.0.0.1"}}.dump(), kProd);
    ASSERT_TRUE(r.status == 201 || r.status == 200) << r.body;
  }
  HttpResponse issue(const std::string& name, const std::string& target = "*") {
    return call("POST", "/api/web/deployments/prod/commands",
                Json{{"name", name}, {"target", target}}.dump(), kAdmin);
  }
  std::string poll_target(const std::string& node, int wait_ms, std::uint64_t after = 0) {
    return "/api/v2/commands?node_id=" + node + "&after_seq=" + std::to_string(after) +
           "&wait_ms=" + std::to_string(wait_ms);
  }
  bool wait_parked(std::size_t n) {
    for (int i = 0; i < 1000 && api_->parked_polls() != n; ++i) std::this_thread::sleep_for(5ms);
    return api_->parked_polls() == n;
  }

  ApiConfig config_;
  LeadershipState state_;
  Metrics metrics_;
  FleetMetrics fleet_metrics_{metrics_, {"prod", "staging"}};
  Router router_;
  std::unique_ptr<ApiService> api_;
};

TEST_F(ApiServiceTest, FollowerAnswers503WithRetryAfterOnEveryApiPath) {
  start(false);
  state_.apply(following(1));
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/api/v2/register"},
           {"GET", "/api/v2/commands?node_id=a"},
           {"POST", "/api/v2/commands/1-x/ack"},
           {"GET", "/api/v2/whatever"},
           {"GET", "/api/web/control"},
           {"GET", "/api/web/deployments/prod/nodes"},
           {"POST", "/api/web/deployments/prod/commands"},
           {"DELETE", "/api/web/x"}}) {
    auto r = call(method, path, "{}", kProd);
    EXPECT_EQ(r.status, 503) << method << " " << path;
    EXPECT_EQ(header(r, "Retry-After"), "3") << path;  // 2.5 s interval rounded up
    EXPECT_EQ(header(r, kEpochHeader), "");
    Json j = body_json(r);
    EXPECT_EQ(j["error"], "not_leader");
    EXPECT_EQ(j["holder"], "other");
    EXPECT_EQ(j["leader_address"], "other:8080");
    EXPECT_NE(j["message"].get<std::string>().find("not the leader"), std::string::npos);
  }
}

TEST_F(ApiServiceTest, LeaderStampsTheEpoch) {
  start();
  auto r = call("GET", "/api/web/deployments");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header(r, kEpochHeader), "s/1");
  auto control = body_json(call("GET", "/api/web/control"));
  EXPECT_EQ(control["role"], "leader");
  EXPECT_EQ(control["ready"], true);
  EXPECT_EQ(control["epoch"], "s/1");
  EXPECT_EQ(control["backend"]["name"], "test");
  EXPECT_TRUE(control["leader_since_ms"].is_number());
  EXPECT_TRUE(control["last_renew_age_ms"].is_null()) << "a term that never expires is not renewed";

  // A renewing backend: the age of its last confirmation.
  state_.apply(Observation{Role::kLeader, "me", Epoch{"s", 2}, LeaseClock::now() + 1h, "me:8080"});
  control = body_json(call("GET", "/api/web/control"));
  ASSERT_TRUE(control["last_renew_age_ms"].is_number()) << control.dump();
  EXPECT_GE(control["last_renew_age_ms"].get<std::int64_t>(), 0);
}

TEST_F(ApiServiceTest, MachineAuth) {
  start();
  const std::string body = Json{{"node_id", "a"}, {"version", "1"}, {"host", "h"}}.dump();
  auto none = call("POST", "/api/v2/register", body);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(header(none, "WWW-Authenticate"), "Bearer");
  EXPECT_EQ(call("POST", "/api/v2/register", body, "wrong-token-0123456789").status, 401);
  EXPECT_EQ(call("POST", "/api/v2/register", body, kAdmin).status, 401);
  auto ok = call("POST", "/api/v2/register", body, kProd);
  EXPECT_EQ(ok.status, 201);
  EXPECT_EQ(body_json(ok)["deployment"], "prod");
  EXPECT_EQ(call("POST", "/api/v2/register", body, kProd).status, 200);  // idempotent
  // The token decides the deployment.
  EXPECT_EQ(body_json(call("POST", "/api/v2/register", body, kStaging))["deployment"], "staging");
  auto nodes = body_json(call("GET", "/api/web/deployments/prod/nodes"));
  EXPECT_EQ(nodes["nodes"].size(), 1u);
}

TEST_F(ApiServiceTest, WebAuthOpenReadsAdminWrites) {
  start();
  register_node("a");
  EXPECT_EQ(call("GET", "/api/web/deployments").status, 200);
  const std::string body = R"({"name":"reload_schema"})";
  auto none = call("POST", "/api/web/deployments/prod/commands", body);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(header(none, "WWW-Authenticate"), "Bearer");
  EXPECT_EQ(call("POST", "/api/web/deployments/prod/commands", body, "x-unknown-token-123").status,
            401);
  EXPECT_EQ(call("POST", "/api/web/deployments/prod/commands", body, kRead).status, 403);
  EXPECT_EQ(call("POST", "/api/web/deployments/prod/commands", body, kProd).status, 403);
  EXPECT_EQ(call("POST", "/api/web/deployments/prod/commands", body, kAdmin).status, 201);
}

TEST_F(ApiServiceTest, WebReadsNeedATokenByDefault) {
  config_.web_read_access = ApiConfig{}.web_read_access;
  start();
  EXPECT_EQ(call("GET", "/api/web/deployments").status, 401);
  EXPECT_EQ(call("GET", "/api/web/deployments", "", kRead).status, 200);
  EXPECT_EQ(call("GET", "/api/web/deployments", "", kAdmin).status, 200);
  EXPECT_EQ(call("GET", "/api/web/deployments", "", kProd).status, 403);
}

TEST_F(ApiServiceTest, BadInputGetsSpecificErrors) {
  start();
  auto malformed = call("POST", "/api/v2/register", "{not json", kProd);
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(body_json(malformed)["error"], "bad_request");
  auto unknown = call("POST", "/api/v2/register",
                      R"({"node_id":"a","version":"1","host":"h","extra":1})", kProd);
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(body_json(unknown)["message"].get<std::string>().find("extra"), std::string::npos);
  // Telemetry for an unregistered node: 404 telling it to register.
  auto ghost = call("POST", "/api/v2/metrics",
                    R"({"node_id":"ghost","clients":1,"servers":1,"pools":1,"qps":1,"tps":1,)"
                    R"("cpu":1,"memory_bytes":1})",
                    kProd);
  EXPECT_EQ(ghost.status, 404);
  EXPECT_NE(body_json(ghost)["message"].get<std::string>().find("register"), std::string::npos);
  register_node("a");
  Json many = {{"node_id", "a"}, {"errors", Json::array()}};
  for (int i = 0; i < 6; ++i) many["errors"].push_back({{"message", "x"}});
  EXPECT_EQ(call("POST", "/api/v2/errors", many.dump(), kProd).status, 413);
  many["errors"].erase(0);
  EXPECT_EQ(call("POST", "/api/v2/errors", many.dump(), kProd).status, 204);
  // Node cap: 409.
  register_node("b");
  register_node("c");
  auto full =
      call("POST", "/api/v2/register", R"({"node_id":"d","version":"1","host":"h"})", kProd);
  EXPECT_EQ(full.status, 409);
  EXPECT_EQ(body_json(full)["error"], "conflict");
  // Web: unknown deployment / node / kind / route.
  EXPECT_EQ(call("GET", "/api/web/deployments/nope/nodes").status, 404);
  EXPECT_EQ(call("GET", "/api/web/deployments/prod/nodes/ghost").status, 404);
  EXPECT_EQ(call("GET", "/api/web/deployments/prod/nodes/a/series?since_ms=x").status, 400);
  EXPECT_EQ(call("GET", "/api/web/deployments/prod/bogus").status, 404);
  EXPECT_EQ(
      call("POST", "/api/web/deployments/nope/commands", R"({"name":"reload_schema"})", kAdmin)
          .status,
      404);
  auto kind = issue("rm_rf");
  EXPECT_EQ(kind.status, 400);
  EXPECT_NE(body_json(kind)["message"].get<std::string>().find("reload_schema"), std::string::npos);
  EXPECT_EQ(issue("reload_schema", "ghost").status, 404);
  EXPECT_EQ(call("POST", "/api/web/deployments/prod/commands",
                 R"({"name":"reload_schema","args":{"x":1}})", kAdmin)
                .status,
            400);
  EXPECT_EQ(call("GET", "/api/v2/commands?after_seq=1", "", kProd).status, 400);  // no node_id
  EXPECT_EQ(call("GET", "/api/v2/commands?node_id=ghost&wait_ms=0", "", kProd).status, 404);
}

TEST_F(ApiServiceTest, IssuePollAckRoundTrip) {
  start();
  register_node("a");
  register_node("b");
  auto issued = issue("maintenance_on");
  ASSERT_EQ(issued.status, 201);
  Json cmd = body_json(issued);
  EXPECT_EQ(cmd["seq"], 1);
  EXPECT_EQ(cmd["epoch"], "s/1");
  EXPECT_EQ(cmd["target"], "*");
  EXPECT_EQ(cmd["nodes"].size(), 2u);
  auto polled = call("GET", poll_target("a", 0), "", kProd);
  ASSERT_EQ(polled.status, 200);
  Json p = body_json(polled);
  EXPECT_EQ(p["epoch"], "s/1");
  ASSERT_EQ(p["commands"].size(), 1u);
  EXPECT_EQ(p["commands"][0]["id"], cmd["id"]);
  EXPECT_EQ(p["commands"][0]["args"], Json::object());
  const std::string ack_path = "/api/v2/commands/" + cmd["id"].get<std::string>() + "/ack";
  auto ack = call("POST", ack_path, R"({"node_id":"a","status":"ok","message":"done"})", kProd);
  ASSERT_EQ(ack.status, 200) << ack.body;
  EXPECT_EQ(body_json(ack)["state"], "acknowledged");
  EXPECT_EQ(body_json(ack)["first"], true);
  auto again = call("POST", ack_path, R"({"node_id":"a","status":"error"})", kProd);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(body_json(again)["state"], "acknowledged");
  EXPECT_EQ(body_json(again)["first"], false);
  EXPECT_EQ(
      call("POST", "/api/v2/commands/77-abc/ack", R"({"node_id":"a","status":"ok"})", kProd).status,
      404);
  EXPECT_EQ(call("POST", ack_path, R"({"node_id":"a","status":"maybe"})", kProd).status, 400);
  // Another deployment's token cannot ack it.
  EXPECT_EQ(call("POST", ack_path, R"({"node_id":"a","status":"ok"})", kStaging).status, 404);
  Json list = body_json(call("GET", "/api/web/deployments/prod/commands"));
  ASSERT_EQ(list["commands"].size(), 1u);
  EXPECT_EQ(list["commands"][0]["state"], "pending");  // b has not polled yet
  EXPECT_EQ(list["commands"][0]["nodes"][0]["state"], "acknowledged");
  EXPECT_EQ(list["commands"][0]["nodes"][1]["state"], "pending");
  auto kinds = body_json(call("GET", "/api/web/commands/kinds"));
  EXPECT_EQ(kinds["kinds"].size(), 4u);
}

TEST_F(ApiServiceTest, LongPollIsWokenByANewCommand) {
  start();
  register_node("a");
  register_node("b");
  auto pending = send(router_, "GET", poll_target("a", 20000), "", kProd);
  ASSERT_TRUE(wait_parked(1));
  // What tests and operators wait on: the gauge, read at scrape.
  EXPECT_NE(metrics_.serialize().find("\npgdog_control_fleet_command_polls_parked 1\n"),
            std::string::npos);
  EXPECT_FALSE(pending->answered());
  ASSERT_EQ(issue("reload_schema", "b").status, 201);  // not for a
  EXPECT_FALSE(pending->answered());
  auto issued = issue("reload_configuration", "a");
  ASSERT_EQ(issued.status, 201);
  // The parked poll got it before the answer was built.
  EXPECT_EQ(body_json(issued)["nodes"][0]["state"], "delivered");
  EXPECT_EQ(body_json(issued)["state"], "delivered");
  auto r = pending->wait();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  Json p = body_json(*r);
  ASSERT_EQ(p["commands"].size(), 1u);
  EXPECT_EQ(p["commands"][0]["name"], "reload_configuration");
  EXPECT_EQ(header(*r, kEpochHeader), "s/1");
  EXPECT_NE(metrics_.serialize().find("\npgdog_control_fleet_command_polls_parked 0\n"),
            std::string::npos);
}

TEST_F(ApiServiceTest, LongPollTimesOutEmpty) {
  start();
  register_node("a");
  auto pending = send(router_, "GET", poll_target("a", 50), "", kProd);
  auto r = pending->wait();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(body_json(*r)["commands"], Json::array());
  EXPECT_EQ(api_->parked_polls(), 0u);
}

TEST_F(ApiServiceTest, WaitIsCappedAndPollsPerNodeBounded) {
  config_.max_wait = 1s;
  config_.default_wait = 1s;
  start();
  register_node("a");
  std::vector<std::shared_ptr<test::Pending>> polls;
  for (int i = 0; i < 6; ++i)
    polls.push_back(send(router_, "GET", poll_target("a", 999999), "", kProd));
  // At most 4 parked per node: the two oldest were answered (empty) at once.
  EXPECT_TRUE(polls[0]->answered());
  EXPECT_TRUE(polls[1]->answered());
  EXPECT_LE(api_->parked_polls(), 4u);
  // The cap (1 s) answers the rest long before their asked-for 999 s.
  for (auto& p : polls) {
    auto r = p->wait(20s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
}

TEST_F(ApiServiceTest, LosingLeadershipAnswersParkedPolls503AndStopsIssuing) {
  start();
  register_node("a");
  auto pending = send(router_, "GET", poll_target("a", 20000), "", kProd);
  ASSERT_TRUE(wait_parked(1));
  state_.apply(following(2));
  auto r = pending->wait();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(body_json(*r)["error"], "not_leader");
  EXPECT_FALSE(header(*r, "Retry-After").empty());
  // A deposed leader cannot issue.
  EXPECT_EQ(issue("reload_schema").status, 503);
  std::vector<fleet::CommandSnapshot> list;
  ASSERT_EQ(api_->store().commands("prod", "", 10, list), fleet::FleetStatus::kOk);
  EXPECT_TRUE(list.empty());
}

TEST_F(ApiServiceTest, DeposedTermsCommandsAreNotRedelivered) {
  start();
  register_node("a");
  ASSERT_EQ(issue("reload_schema").status, 201);
  state_.apply(following(2));
  state_.apply(leading(3));  // this replica leads again, in a new term
  auto p = body_json(call("GET", poll_target("a", 0), "", kProd));
  EXPECT_EQ(p["epoch"], "s/3");
  EXPECT_TRUE(p["commands"].empty());
  Json list = body_json(call("GET", "/api/web/deployments/prod/commands"));
  EXPECT_EQ(list["commands"][0]["state"], "expired");
  // The new term's commands flow; a node that last saw s/1 starts over at 0.
  ASSERT_EQ(issue("reload_configuration").status, 201);
  auto fresh = body_json(
      call("GET", "/api/v2/commands?node_id=a&after_seq=5&wait_ms=0&epoch=s%2F1", "", kProd));
  ASSERT_EQ(fresh["commands"].size(), 1u);
  EXPECT_EQ(fresh["commands"][0]["seq"], 2);
  EXPECT_EQ(fresh["commands"][0]["epoch"], "s/3");
}

TEST_F(ApiServiceTest, NewTermAnswersParkedPollsEmpty) {
  start();
  register_node("a");
  auto pending = send(router_, "GET", poll_target("a", 20000), "", kProd);
  ASSERT_TRUE(wait_parked(1));
  state_.apply(leading(2));
  auto r = pending->wait();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(body_json(*r)["commands"].empty());
}

TEST_F(ApiServiceTest, StopAnswersParkedPolls) {
  start();
  register_node("a");
  auto pending = send(router_, "GET", poll_target("a", 20000), "", kProd);
  ASSERT_TRUE(wait_parked(1));
  api_->stop();
  auto r = pending->wait();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
}

TEST_F(ApiServiceTest, TelemetryShowsUpInTheWebViews) {
  start();
  register_node("a");
  ASSERT_EQ(call("POST", "/api/v2/metrics",
                 R"({"node_id":"a","clients":7,"servers":2,"pools":1,"qps":1.5,"tps":0.5,)"
                 R"("cpu":12.5,"memory_bytes":1048576})",
                 kProd)
                .status,
            204);
  ASSERT_EQ(
      call("POST", "/api/v2/active_queries",
           R"x({"node_id":"a","active_queries":[{"query":"select pg_sleep(1)","ms":20}]})x", kProd)
          .status,
      204);
  Json node = body_json(call("GET", "/api/web/deployments/prod/nodes/a"));
  EXPECT_EQ(node["latest"]["clients"], 7);
  EXPECT_EQ(node["status"], "live");
  EXPECT_EQ(node["active_queries"][0]["ms"], 20);
  Json series = body_json(call("GET", "/api/web/deployments/prod/nodes/a/series?since_ms=0"));
  ASSERT_EQ(series["points"].size(), 1u);
  EXPECT_EQ(series["node"], "a");
  EXPECT_EQ(series["points"][0]["memory_bytes"], 1048576);
}

TEST_F(ApiServiceTest, ForwardHookIsConsultedOnAFollower) {
  config_.forward_to_leader = true;
  int forwarded = 0;
  start(false);
  api_->set_forward([&](HttpRequest& r, Respond& respond) {
    ++forwarded;
    if (r.path == "/api/web/control") return false;  // e.g. leader unknown: 503
    HttpResponse res;
    res.status = 299;
    respond(std::move(res));
    return true;
  });
  state_.apply(following(1));
  EXPECT_EQ(call("GET", "/api/web/deployments").status, 299);
  EXPECT_EQ(call("GET", "/api/web/control").status, 503);
  EXPECT_EQ(forwarded, 2);
}

}  // namespace
}  // namespace pgdc::api
