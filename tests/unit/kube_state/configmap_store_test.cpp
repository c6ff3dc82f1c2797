// ConfigMapStore: the requests it makes, the compare-and-swap fence on the
// fake server's ConfigMap semantics, and the mapping of every other answer
// to a conflict, an UnavailableError or a ConfigError.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_configmaps.h"
#include "state/configmap_object.h"
#include "state/configmap_store.h"

namespace pgdc::kube {
namespace {

using namespace std::chrono_literals;
using namespace testing;  // NOLINT
using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::int64_t kMs = 1'000'000;
constexpr const char* kKey = "fleet-0123456789ab-nodes";
constexpr const char* kName = "pgdog-control-state-fleet-0123456789ab-nodes";
constexpr const char* kPath =
    "/api/v1/namespaces/pgdog/configmaps/pgdog-control-state-fleet-0123456789ab-nodes";

class ConfigMapStoreTest : public ::testing::Test {
 protected:
  std::int64_t deadline(std::int64_t ms = 2000) const { return now + ms * kMs; }
  // The message of the UnavailableError `f` throws ("" when it throws none).
  template <typename F>
  static std::string unavailable(F&& f) {
    try {
      f();
    } catch (const pgdc::sdk::UnavailableError& e) {
      return e.what();
    }
    return "";
  }
  ApiResponse status(int code, std::string reason, std::string message = "m") {
    ApiResponse r;
    r.status = code;
    r.body = status_body(code, reason, message);
    return r;
  }

  std::int64_t now = 5'000 * kMs;
  FakeConfigMaps server;
  ConfigMapStore store{server, kNamespace, kLease, [this] { return now; }};
};

// ---------------------------------------------------------------- objects and requests

TEST_F(ConfigMapStoreTest, CreateIsAPostOfALabelledConfigMapWithTheValue) {
  ASSERT_TRUE(store.write(kKey, R"({"a":1})", "", deadline(1500)));
  ASSERT_EQ(server.requests().size(), 1u);
  const ApiRequest& r = server.requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, kCollection);
  EXPECT_EQ(r.timeout, 1500ms);  // what is left until the deadline
  const json o = json::parse(r.body);
  EXPECT_EQ(o["apiVersion"], "v1");
  EXPECT_EQ(o["kind"], "ConfigMap");
  EXPECT_EQ(o["metadata"]["name"], kName);
  EXPECT_EQ(o["metadata"]["namespace"], kNamespace);
  EXPECT_EQ(o["metadata"]["labels"]["app.kubernetes.io/managed-by"], "pgdog-control");
  EXPECT_EQ(o["metadata"]["labels"]["pgdog.dev/lease"], kLease);
  EXPECT_EQ(o["metadata"]["annotations"]["pgdog.dev/state-key"], kKey);
  EXPECT_FALSE(o["metadata"].contains("resourceVersion")) << "a create has no precondition";
  EXPECT_EQ(o["data"]["value"], R"({"a":1})");
}

TEST_F(ConfigMapStoreTest, CasIsAPutOfTheObjectWithTheExpectedVersion) {
  const auto v1 = store.write(kKey, "one", "", deadline());
  ASSERT_TRUE(v1);
  const auto v2 = store.write(kKey, "two", *v1, deadline(700));
  ASSERT_TRUE(v2);
  const ApiRequest& r = server.requests().back();
  EXPECT_EQ(r.method, "PUT");
  EXPECT_EQ(r.path, kPath);
  EXPECT_EQ(r.timeout, 700ms);
  const json o = json::parse(r.body);
  EXPECT_EQ(o["metadata"]["resourceVersion"], *v1);
  EXPECT_EQ(o["metadata"]["labels"]["pgdog.dev/lease"], kLease);
  EXPECT_EQ(o["data"]["value"], "two");
}

TEST_F(ConfigMapStoreTest, ReadIsAGetOfTheObject) {
  EXPECT_FALSE(store.read(kKey, deadline(900)));
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].method, "GET");
  EXPECT_EQ(server.requests()[0].path, kPath);
  EXPECT_EQ(server.requests()[0].timeout, 900ms);
}

// ---------------------------------------------------------------- the fence

TEST_F(ConfigMapStoreTest, AbsentReadsAsNulloptThenTheWrittenValueWithItsVersion) {
  EXPECT_FALSE(store.read(kKey, deadline()));
  const auto v = store.write(kKey, R"({"nodes":[]})", "", deadline());
  ASSERT_TRUE(v);
  const auto o = store.read(kKey, deadline());
  ASSERT_TRUE(o);
  EXPECT_EQ(o->value, R"({"nodes":[]})");
  EXPECT_EQ(o->version, *v);
}

TEST_F(ConfigMapStoreTest, ASecondCreateConflictsAndWritesNothing) {
  ASSERT_TRUE(store.write(kKey, "first", "", deadline()));
  EXPECT_FALSE(store.write(kKey, "second", "", deadline()));
  EXPECT_EQ(store.read(kKey, deadline())->value, "first");
}

TEST_F(ConfigMapStoreTest, CasWithTheCurrentVersionWinsAndAnOldOneIsRefused) {
  const auto v1 = store.write(kKey, "term 1", "", deadline());
  ASSERT_TRUE(v1);
  // The new leader claims the object with the version it read...
  const auto v2 = store.write(kKey, "term 2", *v1, deadline());
  ASSERT_TRUE(v2);
  EXPECT_NE(*v2, *v1);
  // ... so the deposed leader's write against the version it saw is refused.
  EXPECT_FALSE(store.write(kKey, "term 1 again", *v1, deadline()));
  const auto now_there = store.read(kKey, deadline());
  EXPECT_EQ(now_there->value, "term 2");
  EXPECT_EQ(now_there->version, *v2);
}

TEST_F(ConfigMapStoreTest, AnAdminLabelEditMovesTheVersionSoTheNextCasConflicts) {
  const auto v1 = store.write(kKey, "v", "", deadline());
  server.admin_label(kName, "team", "db");
  EXPECT_FALSE(store.write(kKey, "w", *v1, deadline()));
  const auto o = store.read(kKey, deadline());
  EXPECT_EQ(o->value, "v");
  EXPECT_NE(o->version, *v1);
  EXPECT_TRUE(store.write(kKey, "w", o->version, deadline())) << "after a re-read it writes";
}

TEST_F(ConfigMapStoreTest, ACasOnADeletedObjectConflicts) {
  const auto v1 = store.write(kKey, "v", "", deadline());
  server.admin_delete(kName);
  EXPECT_FALSE(store.write(kKey, "w", *v1, deadline()));
  EXPECT_TRUE(server.object(kName).is_null()) << "a PUT never re-creates it";
}

TEST_F(ConfigMapStoreTest, AConflictOnUpdateIsAConflictWhateverTheReason) {
  server.next(status(409, "Conflict"));
  EXPECT_FALSE(store.write(kKey, "v", "rv-1-x", deadline()));
  server.next(status(409, "AlreadyExists"));
  EXPECT_FALSE(store.write(kKey, "v", "", deadline()));
}

TEST_F(ConfigMapStoreTest, ValuesRoundTripVerbatimUpToTheLimit) {
  const std::string big(PGDC_STATE_MAX_VALUE, 'x');
  const auto v = store.write(kKey, big, "", deadline());
  ASSERT_TRUE(v);
  EXPECT_EQ(store.read(kKey, deadline())->value, big);
  const std::string odd = "{\"s\":\"caf\xc3\xa9 \\\"q\\\" \\n\"}";
  ASSERT_TRUE(store.write(kKey, odd, *v, deadline()));
  EXPECT_EQ(store.read(kKey, deadline())->value, odd);
}

TEST_F(ConfigMapStoreTest, AConfigMapWithoutTheValueReadsAsEmpty) {
  server.next(
      ApiResponse{200, R"({"metadata":{"name":"x","resourceVersion":"9"}})", "", false, {}});
  auto o = store.read(kKey, deadline());
  ASSERT_TRUE(o);
  EXPECT_EQ(o->value, "");
  EXPECT_EQ(o->version, "9");
  server.next(ApiResponse{
      200, R"({"metadata":{"resourceVersion":"9"},"data":{"other":"1"}})", "", false, {}});
  EXPECT_EQ(store.read(kKey, deadline())->value, "");
}

// ---------------------------------------------------------------- refused before sending

TEST_F(ConfigMapStoreTest, AValueOverTheLimitIsAConfigErrorAndSendsNothing) {
  const std::string big(PGDC_STATE_MAX_VALUE + 1, 'x');
  EXPECT_THROW(store.write(kKey, big, "", deadline()), pgdc::sdk::ConfigError);
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(ConfigMapStoreTest, InvalidUtf8IsAConfigError) {
  EXPECT_THROW(store.write(kKey, "bad \xff byte", "", deadline()), pgdc::sdk::ConfigError);
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(ConfigMapStoreTest, APassedDeadlineSendsNothing) {
  EXPECT_THAT(unavailable([&] { store.read(kKey, now); }), HasSubstr("deadline passed"));
  EXPECT_THAT(unavailable([&] { store.write(kKey, "v", "", now - kMs); }),
              HasSubstr("deadline passed"));
  EXPECT_THAT(unavailable([&] { store.read(kKey, now + kMs / 2); }), HasSubstr("deadline"))
      << "less than a millisecond left";
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(ConfigMapStoreTest, ALeaseNameTooLongToLabelIsAConfigError) {
  const std::string lease(64, 'a');
  ConfigMapStore s{server, kNamespace, lease, [this] { return now; }};
  try {
    s.read(kKey, deadline());
    FAIL() << "no ConfigError";
  } catch (const pgdc::sdk::ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("at most 63 characters"));
  }
  EXPECT_TRUE(server.requests().empty());
  EXPECT_EQ(state_configmap_name(std::string(63, 'a'), std::string(63, 'k')).size(), 133u);
}

// ---------------------------------------------------------------- unavailable

TEST_F(ConfigMapStoreTest, ForbiddenNamesThePermissionTheObjectAndTheNamespace) {
  server.next(status(403, "Forbidden",
                     "configmaps \"" + std::string(kName) +
                         "\" is forbidden: User \"u\" cannot get resource \"configmaps\""));
  const std::string m = unavailable([&] { store.read(kKey, deadline()); });
  EXPECT_THAT(m, HasSubstr(std::string("configmaps \"") + kName +
                           "\" get forbidden in namespace \"pgdog\""));
  EXPECT_THAT(m, HasSubstr("grant get, update on configmaps"));
  EXPECT_THAT(m, HasSubstr("create on configmaps"));
  EXPECT_THAT(m, HasSubstr("cannot get resource"));  // the server's own words
  EXPECT_EQ(m.find('\n'), std::string::npos);
  server.next(status(403, "Forbidden"));
  EXPECT_THAT(unavailable([&] { store.write(kKey, "v", "", deadline()); }),
              HasSubstr("create forbidden"));
  server.next(status(403, "Forbidden"));
  EXPECT_THAT(unavailable([&] { store.write(kKey, "v", "rv", deadline()); }),
              HasSubstr("update forbidden"));
}

TEST_F(ConfigMapStoreTest, ATimeoutIsUnavailableWithTheTimeout) {
  server.next(ApiResponse{0, "", "request timed out", true, {}});
  const std::string m = unavailable([&] { store.write(kKey, "v", "rv", deadline(1200)); });
  EXPECT_THAT(m, HasSubstr("update configmap pgdog/" + std::string(kName)));
  EXPECT_THAT(m, HasSubstr("no answer within 1200 ms"));
}

TEST_F(ConfigMapStoreTest, NoResponseIsUnavailableWithTheTransportError) {
  server.next(ApiResponse{0, "", "connection refused", false, {}});
  EXPECT_THAT(unavailable([&] { store.read(kKey, deadline()); }), HasSubstr("connection refused"));
}

TEST_F(ConfigMapStoreTest, MalformedSuccessesAreUnavailable) {
  server.next(ApiResponse{200, "{not json", "", false, {}});
  EXPECT_THAT(unavailable([&] { store.read(kKey, deadline()); }),
              HasSubstr("malformed response: not a JSON object"));
  server.next(ApiResponse{200, R"({"metadata":{}})", "", false, {}});
  EXPECT_THAT(unavailable([&] { store.read(kKey, deadline()); }),
              HasSubstr("no metadata.resourceVersion"));
  server.next(ApiResponse{
      200, R"({"metadata":{"resourceVersion":"1"},"data":{"value":3}})", "", false, {}});
  EXPECT_THAT(unavailable([&] { store.read(kKey, deadline()); }),
              HasSubstr("data.value is not a string"));
  server.next(ApiResponse{201, R"({"kind":"ConfigMap"})", "", false, {}});
  EXPECT_THAT(unavailable([&] { store.write(kKey, "v", "", deadline()); }),
              HasSubstr("create configmap pgdog/" + std::string(kName) + ": malformed"));
}

TEST_F(ConfigMapStoreTest, TooLargeAtTheServerIsUnavailableAndSaysSo) {
  server.next(status(413, "RequestEntityTooLarge", "etcdserver: request is too large"));
  EXPECT_THAT(unavailable([&] { store.write(kKey, "v", "", deadline()); }),
              HasSubstr("413 the API server refused the object as too large"));
  server.next(status(422, "RequestEntityTooLarge", "limit"));
  EXPECT_THAT(unavailable([&] { store.write(kKey, "v", "rv", deadline()); }),
              HasSubstr("422 the API server refused the object as too large"));
  server.next(status(422, "Invalid",
                     "ConfigMap \"x\" is invalid: []: Too long: must have at most "
                     "1048576 bytes"));
  EXPECT_THAT(unavailable([&] { store.write(kKey, "v", "rv", deadline()); }),
              HasSubstr("too large"));
}

TEST_F(ConfigMapStoreTest, OtherStatusesAreUnavailableWithTheServersMessage) {
  server.next(status(422, "Invalid", "metadata.name: Invalid value"));
  EXPECT_THAT(unavailable([&] { store.write(kKey, "v", "", deadline()); }),
              HasSubstr("422 rejected: metadata.name: Invalid value"));
  server.next(status(500, "InternalError", "etcd is sad"));
  EXPECT_THAT(unavailable([&] { store.read(kKey, deadline()); }),
              HasSubstr("HTTP 500: etcd is sad"));
  ApiResponse throttled = status(429, "TooManyRequests");
  throttled.retry_after = std::chrono::seconds(3);
  server.next(throttled);
  EXPECT_THAT(unavailable([&] { store.read(kKey, deadline()); }), HasSubstr("429"));
  server.next(status(401, "Unauthorized"));
  EXPECT_THAT(unavailable([&] { store.read(kKey, deadline()); }), HasSubstr("401 Unauthorized"));
  // A 404 on a create is not a conflict: the namespace is missing.
  server.next(status(404, "NotFound", "namespaces \"pgdog\" not found"));
  EXPECT_THAT(unavailable([&] { store.write(kKey, "v", "", deadline()); }),
              HasSubstr("namespaces \"pgdog\" not found"));
}

TEST_F(ConfigMapStoreTest, MessagesNeverCarryTheRequestBody) {
  const std::string secret = "secret-value-7f3a";
  server.next(status(500, "InternalError", "x"));
  EXPECT_THAT(unavailable([&] { store.write(kKey, secret, "", deadline()); }),
              Not(HasSubstr(secret)));
}

}  // namespace
}  // namespace pgdc::kube
