// ApiAuth: which token each kind of route needs, and the Host check that
// keeps a DNS-rebinding page from reading open web reads.
#include "api/api_auth.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace pgdc::api {
namespace {

constexpr const char* kAdmin = "admin-token-0123456789";
constexpr const char* kRead = "read-token-0123456789";
constexpr const char* kProd = "prod-token-0123456789";

fleet::TokenAuth tokens() {
  fleet::TokenAuth t;
  t.add(fleet::TokenRole::kWebAdmin, "", kAdmin);
  t.add(fleet::TokenRole::kWebRead, "", kRead);
  t.add(fleet::TokenRole::kDeployment, "prod", kProd);
  return t;
}

HttpRequest get(std::optional<std::string> host, const std::string& token = "") {
  HttpRequest r;
  r.method = "GET";
  r.target = r.path = "/api/web/deployments";
  if (host) r.headers["host"] = *host;
  if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
  return r;
}

int status(const ApiAuth& auth, ApiAuth::Need need, const HttpRequest& r) {
  const ApiAuth::Verdict v = auth.check(need, r);
  return v.refusal ? v.refusal->status : 200;
}

TEST(ApiAuth, TokenReadsNeedAReadOrAdminToken) {
  const ApiAuth auth(tokens(), WebReadAccess::kToken);
  const auto read = ApiAuth::Need::kWebRead;
  EXPECT_EQ(status(auth, read, get("localhost")), 401);
  EXPECT_EQ(status(auth, read, get("localhost", kRead)), 200);
  EXPECT_EQ(status(auth, read, get("evil.example", kAdmin)), 200) << "a token needs no Host check";
  EXPECT_EQ(status(auth, read, get("localhost", kProd)), 403);
  EXPECT_EQ(status(auth, read, get("localhost", "unknown-token-0123456789")), 401);
}

TEST(ApiAuth, OpenReadsOnlyUnderAnAllowedHost) {
  const ApiAuth auth(tokens(), WebReadAccess::kOpen, {"control.example.com"});
  const auto read = ApiAuth::Need::kWebRead;
  for (const char* host : {"localhost", "LOCALHOST:8080", "127.0.0.1:8080", "10.1.2.3", "[::1]:80",
                           "control.example.com", "Control.Example.com:443"}) {
    EXPECT_EQ(status(auth, read, get(host)), 200) << host;
  }
  for (const char* host : {"evil.example", "evil.example:8080", "control.example.com.evil.example",
                           "localhost.evil.example", "127.0.0.1.nip.io", ""}) {
    const ApiAuth::Verdict v = auth.check(read, get(host));
    ASSERT_TRUE(v.refusal) << host;
    EXPECT_EQ(v.refusal->status, 403) << host;
    EXPECT_NE(v.refusal->body.find("host_not_allowed"), std::string::npos) << v.refusal->body;
    EXPECT_NE(v.refusal->body.find("api.web.allowed_hosts"), std::string::npos) << v.refusal->body;
  }
  EXPECT_EQ(status(auth, read, get(std::nullopt)), 200) << "HTTP/1.0 without Host: no browser";
  // A token is checked as usual, under any Host.
  EXPECT_EQ(status(auth, read, get("evil.example", kRead)), 200);
  EXPECT_EQ(status(auth, read, get("localhost", "unknown-token-0123456789")), 401);
  // Open reads never open writes.
  EXPECT_EQ(status(auth, ApiAuth::Need::kWebAdmin, get("localhost")), 401);
  EXPECT_EQ(status(auth, ApiAuth::Need::kWebAdmin, get("localhost", kRead)), 403);
}

TEST(ApiAuth, AdmissionRefusesFromTheHead) {
  const ApiAuth auth(tokens(), WebReadAccess::kOpen);
  const Admission a = auth.admission(ApiAuth::Need::kWebRead, 0);
  EXPECT_EQ(a.max_body_bytes, std::optional<std::size_t>(0));
  const std::optional<HttpResponse> refused = a.check(get("evil.example"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  EXPECT_FALSE(a.check(get("localhost:8080")));
}

}  // namespace
}  // namespace pgdc::api
