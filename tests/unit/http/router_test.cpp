#include "http/router.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>

namespace pgdc {
namespace {

HttpRequest req(std::string method, std::string path) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.target = r.path;
  return r;
}

Handler tag(std::string name) {
  return [name](HttpRequest&&, Respond respond) {
    HttpResponse r;
    r.body = name;
    respond(std::move(r));
  };
}

HttpResponse run(const Router& router, HttpRequest r) {
  std::optional<HttpResponse> out;
  router.dispatch(std::move(r), [&](HttpResponse resp) { out = std::move(resp); });
  EXPECT_TRUE(out.has_value());
  return out.value_or(HttpResponse{});
}

std::string header(const HttpResponse& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

TEST(Router, ExactBeatsPrefixAndLongestPrefixWins) {
  Router router;
  router.add("GET", "/api/v2/nodes", "nodes", tag("exact"));
  router.add_prefix("GET", "/api/", "api", tag("api"));
  router.add_prefix("GET", "/api/v2/", "v2", tag("v2"));

  EXPECT_EQ(run(router, req("GET", "/api/v2/nodes")).body, "exact");
  EXPECT_EQ(run(router, req("GET", "/api/v2/nodes/1")).body, "v2");
  EXPECT_EQ(run(router, req("GET", "/api/web/x")).body, "api");
  EXPECT_EQ(router.route_name(req("GET", "/api/v2/nodes")), "nodes");
  EXPECT_EQ(router.route_name(req("GET", "/api/v2/x")), "v2");
  EXPECT_EQ(router.route_name(req("GET", "/other")), "unmatched");
}

TEST(Router, UnknownPathIs404Json) {
  Router router;
  router.add("GET", "/a", "a", tag("a"));
  const auto r = run(router, req("GET", "/b"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  const auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["error"], "not_found");
  EXPECT_TRUE(body["message"].is_string());
}

TEST(Router, WrongMethodIs405WithAllow) {
  Router router;
  router.add("GET", "/a", "a", tag("get"));
  router.add("POST", "/a", "a-post", tag("post"));
  const auto r = run(router, req("DELETE", "/a"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(header(r, "Allow"), "GET, POST, HEAD");
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"], "method_not_allowed");
  EXPECT_EQ(router.route_name(req("DELETE", "/a")), "unmatched");
  EXPECT_EQ(run(router, req("POST", "/a")).body, "post");
  EXPECT_EQ(router.route_name(req("POST", "/a")), "a-post");
}

TEST(Router, PrefixWrongMethodIs405) {
  Router router;
  router.add_prefix("POST", "/api/", "api", tag("api"));
  const auto r = run(router, req("GET", "/api/x"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(header(r, "Allow"), "POST");
}

TEST(Router, HeadFallsBackToGet) {
  Router router;
  router.add("GET", "/a", "a", tag("get"));
  EXPECT_EQ(run(router, req("HEAD", "/a")).body, "get");
  EXPECT_EQ(router.route_name(req("HEAD", "/a")), "a");
}

TEST(Router, HandlerSeesTheRequest) {
  Router router;
  std::string seen;
  router.add("PUT", "/x", "x", [&](HttpRequest&& r, Respond respond) {
    seen = r.method + " " + r.path + " " + r.body;
    respond(HttpResponse{});
  });
  auto r = req("PUT", "/x");
  r.body = "payload";
  EXPECT_EQ(run(router, std::move(r)).status, 200);
  EXPECT_EQ(seen, "PUT /x payload");
}

TEST(Router, ReAddingReplaces) {
  Router router;
  router.add("GET", "/a", "a", tag("one"));
  router.add("GET", "/a", "a", tag("two"));
  EXPECT_EQ(run(router, req("GET", "/a")).body, "two");
}

// Admission: what the server asks before reading a body.
TEST(RouterAdmission, UnmatchedRequestsAreRefusedWithTheirAnswer) {
  Router router;
  router.add("POST", "/x", "/x", tag("x"));
  Admitted a = router.admit(req("POST", "/nope"));
  EXPECT_EQ(a.route_name, "unmatched");
  ASSERT_TRUE(a.refusal);
  EXPECT_EQ(a.refusal->status, 404);
  a = router.admit(req("PUT", "/x"));
  ASSERT_TRUE(a.refusal);
  EXPECT_EQ(a.refusal->status, 405);
}

TEST(RouterAdmission, ChecksSeeTheHeadAndLimitsComeWithTheRoute) {
  Router router;
  Admission needs_key;
  needs_key.max_body_bytes = 100;
  needs_key.check = [](const HttpRequest& head) -> std::optional<HttpResponse> {
    if (head.headers.count("x-key") != 0) return std::nullopt;
    HttpResponse r;
    r.status = 401;
    return r;
  };
  router.add("POST", "/upload", "/upload", tag("upload"), needs_key);
  router.add("POST", "/open", "/open", tag("open"));
  router.add("GET", "/read", "/read", tag("read"));

  HttpRequest head = req("POST", "/upload");
  Admitted a = router.admit(head);
  EXPECT_EQ(a.route_name, "/upload");
  ASSERT_TRUE(a.refusal);
  EXPECT_EQ(a.refusal->status, 401);
  head.headers["x-key"] = "k";
  a = router.admit(head);
  EXPECT_FALSE(a.refusal);
  EXPECT_EQ(a.max_body_bytes, std::optional<std::size_t>(100));

  a = router.admit(req("POST", "/open"));
  EXPECT_FALSE(a.refusal);
  EXPECT_FALSE(a.max_body_bytes);  // the server's limit alone
  // GET (and HEAD through it) take no body unless the route says so.
  EXPECT_EQ(router.admit(req("GET", "/read")).max_body_bytes, std::optional<std::size_t>(0));
  EXPECT_EQ(router.admit(req("HEAD", "/read")).max_body_bytes, std::optional<std::size_t>(0));
  // dispatch() runs the handler only: admission is the server's step.
  EXPECT_EQ(run(router, req("POST", "/upload")).body, "upload");
}

}  // namespace
}  // namespace pgdc
