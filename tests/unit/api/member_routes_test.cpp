// GET /api/web/members and POST /api/web/leadership/switchover through the
// Router, with a real LeadershipState and MemberService over a fake backend.
#include <gtest/gtest.h>

#include "api/api_service.h"
#include "api/fleet_metrics.h"
#include "api_test_util.h"
#include "members/fake_member_backend.h"

namespace pgdc::api {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
using members::Member;
using members::test::FakeMemberBackend;
using test::body_json;
using test::send;

constexpr const char* kProd = "prod-token-0123456789";
constexpr const char* kAdmin = "admin-token-0123456789";
constexpr const char* kRead = "read-token-0123456789";

Member m(std::string id, std::string version, bool eligible = true, bool stale = false) {
  std::string address = id + ":8080";
  return Member{std::move(id), std::move(address), std::move(version), "fake 1.0", eligible, 10,
                stale};
}

LeadershipOptions patient() {
  LeadershipOptions o;
  // A term's end waits this long for leader work: a switchover run inside
  // the guard would hang the test instead of passing late.
  o.stop_work_timeout = 60s;
  return o;
}

class MemberRoutesTest : public ::testing::Test {
 protected:
  MemberRoutesTest() {
    config_.deployments.push_back({"prod", {kProd}, ""});
    config_.web_admin_tokens = {kAdmin};
    config_.web_read_tokens = {kRead};
    backend_.listed = {m("me", "1.0.0"), m("b", "1.0.0"), m("c", "1.1.0"), m("off", "2.0.0", false),
                       m("gone", "2.0.0", true, true)};
  }
  ~MemberRoutesTest() override {
    if (members_) members_->stop();
    if (api_) api_->stop();
  }

  void start(bool leader) {
    auto tokens = fleet::load_tokens(config_);
    ASSERT_TRUE(tokens.auth);
    StatusInfo info{"me", "fake", "1.0", LeaderConfig{}, "me:8080"};
    api_ = std::make_unique<ApiService>(config_, std::move(*tokens.auth), state_, fleet_metrics_,
                                        info);
    members::MemberServiceOptions o;
    o.self = Member{"me", "me:8080", "1.0.0", "fake 1.0"};
    o.cache_ttl = 0ms;
    o.first_refresh = 1h;
    members_ = std::make_unique<members::MemberService>(backend_, state_, nullptr, o);
    api_->set_members(members_.get());
    api_->add_routes(router_);
    api_->start();
    members_->start();
    if (leader) {
      state_.apply(Observation{Role::kLeader, "me", Epoch{"s", 1}, LeaseTime::max(), "me:8080"});
    } else {
      state_.apply(Observation{Role::kFollower, "b", Epoch{"s", 0}, LeaseTime::min(), "b:8080"});
    }
  }

  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = "", const std::string& token = "") {
    auto r = send(router_, method, target, body, token).get()->wait();
    EXPECT_TRUE(r.has_value()) << method << " " << target << " not answered";
    return r.value_or(HttpResponse{});
  }
  HttpResponse switchover(const std::string& body, const std::string& token = kAdmin) {
    return call("POST", "/api/web/leadership/switchover", body, token);
  }

  ApiConfig config_;
  LeadershipState state_{patient()};
  Metrics metrics_;
  FleetMetrics fleet_metrics_{metrics_, {"prod"}};
  FakeMemberBackend backend_;
  Router router_;
  std::unique_ptr<ApiService> api_;
  std::unique_ptr<members::MemberService> members_;
};

TEST_F(MemberRoutesTest, AFollowerListsTheMembersWithTheLeadersRole) {
  start(false);
  const auto r = call("GET", "/api/web/members", "", kRead);
  ASSERT_EQ(r.status, 200) << r.body;
  const Json j = body_json(r);
  EXPECT_EQ(j["self"], "me");
  EXPECT_EQ(j["leader"], "b");
  ASSERT_EQ(j["members"].size(), 5u);
  for (const auto& x : j["members"]) {
    EXPECT_EQ(x["role"], x["identity"] == "b" ? "leader" : "follower") << x.dump();
    EXPECT_EQ(x["self"], x["identity"] == "me") << x.dump();
  }
  EXPECT_EQ(j["members"][0]["identity"], "b");  // sorted
}

TEST_F(MemberRoutesTest, MembersNeedAWebToken) {
  start(true);
  EXPECT_EQ(call("GET", "/api/web/members").status, 401);
  EXPECT_EQ(call("GET", "/api/web/members", "", kProd).status, 403);
  EXPECT_EQ(call("GET", "/api/web/members", "", kAdmin).status, 200);
}

TEST_F(MemberRoutesTest, ABackendThatDoesNotAnswerIs503) {
  backend_.list_result = {members::CallResult::Status::kUnavailable,
                          "members_list failed: timeout"};
  start(true);
  const auto r = call("GET", "/api/web/members", "", kRead);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(body_json(r)["error"], "members_unavailable");
}

TEST_F(MemberRoutesTest, SwitchoverAnswersAndEndsTheTermWithoutWaitingForItself) {
  // As the plugin does: FOLLOWER first, then the handover write.
  backend_.on_transfer = [this] {
    state_.apply(Observation{Role::kFollower, "", Epoch{"s", 0}, LeaseTime::min(), ""});
  };
  start(true);
  const auto r = switchover(R"({"to":"b"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_json(r), (Json{{"from", "me"}, {"to", "b"}, {"epoch", "s/1"}}));
  EXPECT_FALSE(state_.ready());
  EXPECT_EQ(call("POST", "/api/web/leadership/switchover", "{}", kAdmin).status, 503);
}

TEST_F(MemberRoutesTest, SwitchoverWithoutToTakesTheNewestEligibleFreshMember) {
  start(true);
  const auto r = switchover("{}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_json(r)["to"], "c");
}

TEST_F(MemberRoutesTest, SwitchoverRefusals) {
  start(true);
  const auto code = [&](const std::string& body) {
    const auto r = switchover(body);
    return std::make_pair(r.status, body_json(r).value("error", std::string()));
  };
  EXPECT_EQ(code(R"({"to":"nobody"})"), std::make_pair(404, std::string("unknown_member")));
  EXPECT_EQ(code(R"({"to":"me"})"), std::make_pair(409, std::string("switchover_refused")));
  EXPECT_EQ(code(R"({"to":"off"})"), std::make_pair(409, std::string("switchover_refused")));
  EXPECT_EQ(code(R"({"to":"gone"})"), std::make_pair(409, std::string("switchover_refused")));
  EXPECT_EQ(code(R"({"to":"b","x":1})"), std::make_pair(400, std::string("bad_request")));
  EXPECT_EQ(code(R"({"to":7})"), std::make_pair(400, std::string("bad_request")));
  EXPECT_EQ(code("{"), std::make_pair(400, std::string("bad_request")));
  EXPECT_EQ(switchover("{}", kRead).status, 403);
  EXPECT_EQ(switchover("{}", "").status, 401);
  EXPECT_EQ(backend_.transfers.load(), 0);
  backend_.transfer_result = {members::CallResult::Status::kUnavailable,
                              "transfer failed: unavailable: timeout"};
  EXPECT_EQ(code(R"({"to":"b"})"), std::make_pair(503, std::string("switchover_failed")));
}

TEST_F(MemberRoutesTest, NoEligibleMemberIs409) {
  backend_.listed = {m("me", "1.0.0"), m("off", "1.0.0", false)};
  start(true);
  const auto r = switchover("");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(body_json(r)["message"].get<std::string>().find("no eligible"), std::string::npos);
}

TEST_F(MemberRoutesTest, APluginWithoutTransferIs501) {
  backend_.transfer_offered = false;
  start(true);
  const auto r = switchover(R"({"to":"b"})");
  EXPECT_EQ(r.status, 501);
  EXPECT_EQ(body_json(r)["error"], "switchover_unsupported");
  EXPECT_EQ(call("GET", "/api/web/members", "", kRead).status, 200);
}

TEST_F(MemberRoutesTest, AFollowerAnswersSwitchoverAsTheGateDoes) {
  start(false);
  const auto r = switchover("{}");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(body_json(r)["error"], "not_leader");
  EXPECT_EQ(backend_.transfers.load(), 0);
}

}  // namespace
}  // namespace pgdc::api
