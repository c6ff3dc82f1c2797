// LeaderForwarder against a real HttpServer standing in for the leader.
#include "api/leader_forwarder.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "api/leader_proof.h"
#include "http/http_server.h"
#include "http/json_errors.h"
#include "http/router.h"

namespace pgdc {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr const char* kSecret = "the-replicas-shared-secret-0123456789";

// A leader that echoes what it received, and can hold a request unanswered.
// It proves itself as "leader-1" at its own address with `secret` (or, as a
// planted listener, with a wrong one) and counts the other requests it got.
class FakeLeader {
 public:
  explicit FakeLeader(std::string secret = kSecret) : secret_{std::move(secret)} {
    router_.add("GET", std::string(api::kLeaderProofPath), "proof",
                [this](HttpRequest&& r, Respond respond) {
                  const std::string nonce = r.query.substr(r.query.find('=') + 1);
                  respond(json_body(
                      200, json{{"identity", "leader-1"},
                                {"address", address()},
                                {"proof", api::leader_proof(secret_, nonce, "leader-1", address())}}
                               .dump()));
                });
    router_.add_prefix("GET", "/api/", "/api/", [this](HttpRequest&& r, Respond respond) {
      ++requests_;
      if (r.path == "/api/hang") {
        std::lock_guard lock(mutex_);
        held_ = std::move(respond);  // answered never (or at teardown)
        return;
      }
      json headers = json::object();
      for (const auto& [k, v] : r.headers) headers[k] = v;
      HttpResponse out = json_body(207, json{{"target", r.target}, {"headers", headers}}.dump());
      out.headers.emplace_back("X-PgDog-Control-Epoch", "uid/7");
      out.headers.emplace_back("Retry-After", "3");
      respond(std::move(out));
    });
    router_.add_prefix("POST", "/api/", "/api/", [this](HttpRequest&& r, Respond respond) {
      ++requests_;
      respond(json_body(201, json{{"method", r.method}, {"body", r.body}}.dump()));
    });
    server_.listen("127.0.0.1", 0);
    server_.start(1);
  }
  ~FakeLeader() {
    std::lock_guard lock(mutex_);
    held_.reset();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(server_.port()); }
  int requests() const { return requests_.load(); }

 private:
  api::ForwardSecret secret_;
  std::atomic<int> requests_{0};
  Router router_;
  HttpConfig config_;
  HttpServer server_{config_, router_};
  std::mutex mutex_;
  std::optional<Respond> held_;
};

HttpRequest request(std::string method, std::string target) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = target;
  r.path = target.substr(0, target.find('?'));
  r.remote = "10.9.8.7:5555";
  return r;
}

HttpResponse forward_and_wait(LeaderForwarder& f, HttpRequest r, const std::string& address,
                              const std::string& holder = "leader-1") {
  std::promise<HttpResponse> done;
  auto future = done.get_future();
  f.forward(std::move(r), holder, address,
            [&done](HttpResponse out) { done.set_value(std::move(out)); });
  EXPECT_EQ(future.wait_for(20s), std::future_status::ready) << "no answer";
  return future.get();
}

std::string header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "<absent>";
}

TEST(LeaderForwarder, PassesTheRequestAndTheLeadersAnswerThrough) {
  FakeLeader leader;
  LeaderForwarder f({"follower-1", kSecret});
  HttpRequest r = request("GET", "/api/web/control?x=1");
  r.headers = {{"authorization", "Bearer secret-token"},
               {"accept", "application/json"},
               {"connection", "keep-alive"},
               {"x-forwarded-for", "1.2.3.4"}};
  const HttpResponse out = forward_and_wait(f, r, leader.address());
  ASSERT_EQ(out.status, 207) << out.body;
  EXPECT_EQ(out.content_type, "application/json");
  const json body = json::parse(out.body);
  EXPECT_EQ(body["target"], "/api/web/control?x=1");
  EXPECT_EQ(body["headers"]["authorization"], "Bearer secret-token") << "the leader authenticates";
  EXPECT_EQ(body["headers"]["accept"], "application/json");
  EXPECT_EQ(body["headers"]["x-forwarded-for"], "1.2.3.4, 10.9.8.7");
  EXPECT_EQ(body["headers"][LeaderForwarder::kForwardedByHeader], "follower-1");
  EXPECT_EQ(body["headers"]["connection"], "close") << "hop-by-hop headers are not copied";
  EXPECT_EQ(header(out, "X-PgDog-Control-Epoch"), "uid/7");
  EXPECT_EQ(header(out, "Retry-After"), "3");
  EXPECT_EQ(header(out, "X-PgDog-Control-Forwarded-By"), "follower-1");
  EXPECT_EQ(header(out, "X-PgDog-Control-Leader-Address"), leader.address());
  EXPECT_EQ(header(out, "Content-Length"), "<absent>");
  // The exchange is released just after it answers, on the forwarder's thread.
  for (int i = 0; i < 500 && f.in_flight() != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(f.in_flight(), 0u);
}

TEST(LeaderForwarder, APlantedAddressNeverReceivesTheRequestOrItsToken) {
  // Anyone allowed to edit the leadership record can name their own
  // listener as the leader's address; it cannot prove it holds the secret.
  FakeLeader planted("a-guess-at-the-secret-0123456789abcdef");
  LeaderForwarder f({"follower-1", kSecret});
  HttpRequest r = request("GET", "/api/web/control");
  r.headers = {{"authorization", "Bearer admin-token-0123456789"}};
  HttpResponse out = forward_and_wait(f, r, planted.address());
  EXPECT_EQ(out.status, 502);
  EXPECT_EQ(json::parse(out.body)["error"], "leader_unverified") << out.body;
  EXPECT_NE(out.body.find("did not prove it is the leader"), std::string::npos) << out.body;
  EXPECT_EQ(planted.requests(), 0) << "the request (and its token) never left the follower";

  // The real leader, but the record names another holder at its address.
  FakeLeader leader;
  out = forward_and_wait(f, r, leader.address(), "someone-else");
  EXPECT_EQ(out.status, 502) << out.body;
  EXPECT_EQ(leader.requests(), 0);
  // A follower with another secret cannot verify the real leader either.
  LeaderForwarder wrong({"follower-2", "not-the-replicas-secret-0123456789"});
  EXPECT_EQ(forward_and_wait(wrong, r, leader.address()).status, 502);
  EXPECT_EQ(leader.requests(), 0);
  // With the secret and the right holder: forwarded.
  EXPECT_EQ(forward_and_wait(f, r, leader.address()).status, 207);
  EXPECT_EQ(leader.requests(), 1);
}

TEST(LeaderForwarder, ForwardsBodies) {
  FakeLeader leader;
  LeaderForwarder f({"follower-1", kSecret});
  HttpRequest r = request("POST", "/api/v2/metrics");
  r.headers = {{"content-type", "application/json"}};
  r.body = R"({"node_id":"n1","qps":12.5})";
  const HttpResponse out = forward_and_wait(f, r, leader.address());
  ASSERT_EQ(out.status, 201);
  EXPECT_EQ(json::parse(out.body)["body"], r.body);
}

TEST(LeaderForwarder, NeverForwardsTwiceAndRefusesBadAddresses) {
  HttpRequest r = request("GET", "/api/web/control");
  EXPECT_TRUE(LeaderForwarder::can_forward(r, "10.0.0.1:8080"));
  EXPECT_TRUE(LeaderForwarder::can_forward(r, "[fd00::1]:8080"));
  EXPECT_TRUE(LeaderForwarder::can_forward(r, "pgdog-control-0.pgdog:8080"));
  for (const std::string bad : {"", "10.0.0.1", "10.0.0.1:", ":8080", "10.0.0.1:0",
                                "10.0.0.1:70000", "10.0.0.1:80x", "fd00::1:8080", "[fd00::1]"}) {
    EXPECT_FALSE(LeaderForwarder::can_forward(r, bad)) << bad;
  }
  r.headers[LeaderForwarder::kForwardedByHeader] = "follower-2";
  EXPECT_FALSE(LeaderForwarder::can_forward(r, "10.0.0.1:8080")) << "already forwarded once";
}

TEST(LeaderForwarder, UnreachableLeaderIs502WithTheAddress) {
  std::string dead;
  {
    FakeLeader gone;
    dead = gone.address();
  }  // its port is closed now
  LeaderForwarder f({"follower-1", kSecret});
  const HttpResponse out = forward_and_wait(f, request("GET", "/api/web/control"), dead);
  EXPECT_EQ(out.status, 502);
  const json body = json::parse(out.body);
  EXPECT_EQ(body["error"], "leader_unreachable");
  EXPECT_NE(body["message"].get<std::string>().find(dead), std::string::npos) << out.body;
}

TEST(LeaderForwarder, SilentLeaderIs504AtTheTimeout) {
  FakeLeader leader;
  LeaderForwarder::Options o{"follower-1", kSecret};
  o.timeout = 300ms;
  LeaderForwarder f(o);
  const HttpResponse out = forward_and_wait(f, request("GET", "/api/hang"), leader.address());
  EXPECT_EQ(out.status, 504);
  EXPECT_EQ(json::parse(out.body)["error"], "leader_timeout");
}

TEST(LeaderForwarder, TooManyInFlightIs503) {
  FakeLeader leader;
  std::promise<HttpResponse> first;  // outlives the forwarder, which answers it at destruction
  LeaderForwarder::Options o{"follower-1", kSecret};
  o.max_in_flight = 1;
  o.timeout = 5s;
  LeaderForwarder f(o);
  f.forward(request("GET", "/api/hang"), "leader-1", leader.address(),
            [&first](HttpResponse r) { first.set_value(std::move(r)); });
  const HttpResponse second = forward_and_wait(f, request("GET", "/api/x"), leader.address());
  EXPECT_EQ(second.status, 503);
}

TEST(LeaderForwarder, ShutdownAnswersWhatIsInFlightAndRefusesNewForwards) {
  FakeLeader leader;
  std::promise<HttpResponse> held;
  auto held_future = held.get_future();
  LeaderForwarder f({"follower-1", kSecret});
  f.forward(request("GET", "/api/hang"), "leader-1", leader.address(),
            [&held](HttpResponse r) { held.set_value(std::move(r)); });
  f.shutdown();
  ASSERT_EQ(held_future.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(held_future.get().status, 503);
  EXPECT_EQ(forward_and_wait(f, request("GET", "/api/x"), leader.address()).status, 503);
  f.shutdown();  // idempotent
}

TEST(LeaderForwarder, DestroyingTheForwarderAnswersWhatIsInFlight) {
  FakeLeader leader;
  std::promise<HttpResponse> done;
  auto future = done.get_future();
  {
    LeaderForwarder f({"follower-1", kSecret});
    f.forward(request("GET", "/api/hang"), "leader-1", leader.address(),
              [&done](HttpResponse r) { done.set_value(std::move(r)); });
    std::this_thread::sleep_for(100ms);  // let it reach the leader (not required for safety)
  }
  ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(future.get().status, 503);
}

}  // namespace
}  // namespace pgdc
