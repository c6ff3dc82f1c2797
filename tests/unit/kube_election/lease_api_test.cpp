// KubeLeaseApi: request shapes, error classification, RBAC hints; and the
// fake API server's own Lease semantics (the other tests rely on them).
#include <gtest/gtest.h>

#include "fakes.h"

namespace pgdc::kube {
namespace {

using namespace std::chrono_literals;
using namespace testing;  // NOLINT
using ::testing::_;
using ::testing::DoAll;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Return;
using ::testing::SaveArg;

class LeaseApiTest : public ::testing::Test {
 protected:
  LeaseApiTest() { transport.delegate_to(link); }

  ApiError classify(int status, std::string body = "", std::string_view verb = "update") {
    ApiResponse r;
    r.status = status;
    r.body = std::move(body);
    return api.classify(r, verb);
  }

  Timeline timeline;
  FakeClock clock{timeline};
  FakeApiServer server{timeline};
  Link link{server, clock};
  ::testing::NiceMock<MockTransport> transport;
  KubeLeaseApi api{transport, kNamespace, kLeaseName};
};

LeaseSpec held_by(std::string holder, std::int32_t transitions = 0) {
  LeaseSpec s;
  s.holder = std::move(holder);
  s.duration_secs = 15;
  // Whole microseconds: what survives the wire.
  s.acquire_time = s.renew_time = *parse_micro_time("2026-07-24T14:05:30.123456Z");
  s.transitions = transitions;
  return s;
}

// ---------------------------------------------------------------- paths and requests

TEST_F(LeaseApiTest, Paths) {
  EXPECT_EQ(api.collection_path(), kCollectionPath);
  EXPECT_EQ(api.object_path(), kLeasePath);
  EXPECT_EQ(api.lease_namespace(), "pgdog");
  EXPECT_EQ(api.lease_name(), "pgdog-control-leader");
}

TEST_F(LeaseApiTest, GetIsAGetOfTheObjectWithTheTimeout) {
  ApiRequest seen;
  EXPECT_CALL(transport, send(_))
      .WillOnce(DoAll(SaveArg<0>(&seen), Return(ApiResponse{404, "", "", false, {}})));
  const LeaseResult r = api.get(1234ms);
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.path, kLeasePath);
  EXPECT_EQ(seen.body, "");
  EXPECT_EQ(seen.timeout, 1234ms);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error.kind, ApiErrorKind::kNotFound);
}

TEST_F(LeaseApiTest, CreateIsAPostToTheCollection) {
  ApiRequest seen;
  EXPECT_CALL(transport, send(_))
      .WillOnce(DoAll(SaveArg<0>(&seen), ::testing::Invoke(&link, &Link::handle)));
  const LeaseResult r = api.create(held_by("a"), 2500ms);
  ASSERT_TRUE(r.ok()) << r.error.message;
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.path, kCollectionPath);
  EXPECT_EQ(seen.content_type, "application/json");
  EXPECT_EQ(seen.timeout, 2500ms);
  const json body = json::parse(seen.body);
  EXPECT_EQ(body["metadata"]["name"], kLeaseName);
  EXPECT_EQ(body["metadata"]["namespace"], kNamespace);
  EXPECT_FALSE(body["metadata"].contains("resourceVersion"));
  EXPECT_EQ(r.lease->uid(), server.uid());
  EXPECT_EQ(r.lease->resource_version(), server.resource_version());
  EXPECT_EQ(r.lease->spec(), held_by("a"));
}

TEST_F(LeaseApiTest, UpdateIsAConditionalPutOfTheObject) {
  const LeaseResult created = api.create(held_by("a"), 1s);
  ASSERT_TRUE(created.ok());
  ApiRequest seen;
  EXPECT_CALL(transport, send(_))
      .WillOnce(DoAll(SaveArg<0>(&seen), ::testing::Invoke(&link, &Link::handle)));
  const LeaseResult r = api.update(*created.lease, held_by("b", 1), 3s);
  ASSERT_TRUE(r.ok()) << r.error.message;
  EXPECT_EQ(seen.method, "PUT");
  EXPECT_EQ(seen.path, kLeasePath);
  EXPECT_EQ(seen.timeout, 3000ms);
  EXPECT_EQ(json::parse(seen.body)["metadata"]["resourceVersion"],
            created.lease->resource_version());
  EXPECT_NE(r.lease->resource_version(), created.lease->resource_version());
  EXPECT_EQ(r.lease->uid(), created.lease->uid());
  EXPECT_EQ(r.lease->spec().holder, "b");
}

// ---------------------------------------------------------------- classify

TEST_F(LeaseApiTest, ClassifySuccess) {
  for (int s : {200, 201, 204}) EXPECT_EQ(classify(s).kind, ApiErrorKind::kNone) << s;
  EXPECT_EQ(classify(200).message, "");
}

TEST_F(LeaseApiTest, ClassifyNoResponse) {
  ApiResponse refused;
  refused.transport_error = "connect: Connection refused";
  ApiError e = api.classify(refused, "get");
  EXPECT_EQ(e.kind, ApiErrorKind::kUnavailable);
  EXPECT_EQ(e.status, 0);
  EXPECT_EQ(e.message, "get lease pgdog/pgdog-control-leader: connect: Connection refused");

  ApiResponse timeout;
  timeout.timed_out = true;
  timeout.transport_error = "after 5000ms";
  e = api.classify(timeout, "update");
  EXPECT_EQ(e.kind, ApiErrorKind::kTimeout);
  EXPECT_EQ(e.message,
            "update lease pgdog/pgdog-control-leader: no answer within the request timeout "
            "(after 5000ms)");
  timeout.transport_error.clear();
  EXPECT_EQ(api.classify(timeout, "get").message,
            "get lease pgdog/pgdog-control-leader: no answer within the request timeout");
}

TEST_F(LeaseApiTest, Classify404IsNotFound) {
  const ApiError e = classify(404, status_body(404, "NotFound", "leases ... not found"), "get");
  EXPECT_EQ(e.kind, ApiErrorKind::kNotFound);
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.message, "get lease pgdog/pgdog-control-leader: not found");
}

TEST_F(LeaseApiTest, Classify409ByReasonAndVerb) {
  const std::string conflict = status_body(409, "Conflict", "the object has been modified");
  const std::string exists = status_body(409, "AlreadyExists", "already exists");
  EXPECT_EQ(classify(409, conflict, "update").kind, ApiErrorKind::kConflict);
  EXPECT_EQ(classify(409, exists, "update").kind, ApiErrorKind::kAlreadyExists);
  EXPECT_EQ(classify(409, exists, "create").kind, ApiErrorKind::kAlreadyExists);
  // A create's 409 is always "someone created it first", whatever the body.
  EXPECT_EQ(classify(409, "", "create").kind, ApiErrorKind::kAlreadyExists);
  EXPECT_EQ(classify(409, "<html>", "update").kind, ApiErrorKind::kConflict);
  EXPECT_THAT(classify(409, conflict, "update").message,
              HasSubstr("conflict: the object has been modified"));
}

TEST_F(LeaseApiTest, Classify401) {
  const ApiError e = classify(401, status_body(401, "Unauthorized", "Unauthorized"), "get");
  EXPECT_EQ(e.kind, ApiErrorKind::kUnauthorized);
  EXPECT_THAT(e.message, HasSubstr("401 Unauthorized"));
  EXPECT_THAT(e.message, HasSubstr("token"));
}

TEST_F(LeaseApiTest, Classify403NamesVerbResourceNamespaceAndRule) {
  const ApiError e =
      classify(403, status_body(403, "Forbidden", "User \"sa\" cannot update resource"), "update");
  EXPECT_EQ(e.kind, ApiErrorKind::kForbidden);
  EXPECT_EQ(e.message,
            "update lease pgdog/pgdog-control-leader: 403 Forbidden: not allowed to update "
            "leases.coordination.k8s.io in namespace \"pgdog\"; grant it with a Role in "
            "namespace \"pgdog\" with rule {apiGroups: [\"coordination.k8s.io\"], resources: "
            "[\"leases\"], verbs: [\"update\"], resourceNames: [\"pgdog-control-leader\"]} bound "
            "to this replica's service account (server: User \"sa\" cannot update resource)");
}

TEST_F(LeaseApiTest, Classify403OnCreateHasNoResourceNames) {
  const ApiError e = classify(403, "forbidden", "create");
  EXPECT_THAT(e.message, HasSubstr("verbs: [\"create\"]}"));
  EXPECT_THAT(e.message, Not(HasSubstr("resourceNames")));
}

TEST_F(LeaseApiTest, Classify429KeepsRetryAfter) {
  ApiResponse r;
  r.status = 429;
  r.body = status_body(429, "TooManyRequests", "Too many requests");
  r.retry_after = 7s;
  const ApiError e = api.classify(r, "update");
  EXPECT_EQ(e.kind, ApiErrorKind::kThrottled);
  EXPECT_EQ(e.retry_after, 7s);
  EXPECT_EQ(e.message,
            "update lease pgdog/pgdog-control-leader: 429 Too Many Requests, retry after 7s");
  r.retry_after.reset();
  EXPECT_EQ(api.classify(r, "get").message,
            "get lease pgdog/pgdog-control-leader: 429 Too Many Requests");
}

TEST_F(LeaseApiTest, ClassifyInvalid) {
  for (int s : {400, 422}) {
    const ApiError e = classify(s, status_body(s, "Invalid", "spec.leaseDurationSeconds: bad"));
    EXPECT_EQ(e.kind, ApiErrorKind::kInvalid) << s;
    EXPECT_EQ(e.message, "update lease pgdog/pgdog-control-leader: " + std::to_string(s) +
                             " rejected: spec.leaseDurationSeconds: bad");
  }
}

TEST_F(LeaseApiTest, Classify5xxIsUnavailableAndKeepsRetryAfter) {
  for (int s : {500, 502, 503, 504}) {
    ApiResponse r;
    r.status = s;
    r.body = "upstream\nbroke";
    r.retry_after = 3s;
    const ApiError e = api.classify(r, "get");
    EXPECT_EQ(e.kind, ApiErrorKind::kUnavailable) << s;
    EXPECT_EQ(e.retry_after, 3s);
    EXPECT_EQ(e.message, "get lease pgdog/pgdog-control-leader: HTTP " + std::to_string(s) +
                             ": upstream broke");
  }
}

TEST_F(LeaseApiTest, ClassifyAnythingElseIsUnexpected) {
  for (int s : {100, 301, 302, 405, 410, 415, 418}) {
    EXPECT_EQ(classify(s, "x").kind, ApiErrorKind::kUnexpected) << s;
  }
}

TEST_F(LeaseApiTest, ClassifyMessagesAreOneLineAndBounded) {
  const std::string body(5000, 'x');
  const ApiError e = classify(500, "line1\r\nline2" + body);
  EXPECT_EQ(e.message.find('\n'), std::string::npos);
  EXPECT_EQ(e.message.find('\r'), std::string::npos);
  EXPECT_LT(e.message.size(), 300u);
}

TEST_F(LeaseApiTest, ErrorKindNames) {
  EXPECT_EQ(error_kind_name(ApiErrorKind::kNone), "ok");
  EXPECT_EQ(error_kind_name(ApiErrorKind::kNotFound), "not_found");
  EXPECT_EQ(error_kind_name(ApiErrorKind::kConflict), "conflict");
  EXPECT_EQ(error_kind_name(ApiErrorKind::kAlreadyExists), "already_exists");
  EXPECT_EQ(error_kind_name(ApiErrorKind::kUnauthorized), "unauthorized");
  EXPECT_EQ(error_kind_name(ApiErrorKind::kForbidden), "forbidden");
  EXPECT_EQ(error_kind_name(ApiErrorKind::kThrottled), "throttled");
  EXPECT_EQ(error_kind_name(ApiErrorKind::kInvalid), "invalid");
  EXPECT_EQ(error_kind_name(ApiErrorKind::kTimeout), "timeout");
  EXPECT_EQ(error_kind_name(ApiErrorKind::kUnavailable), "unavailable");
  EXPECT_EQ(error_kind_name(ApiErrorKind::kMalformed), "malformed");
  EXPECT_EQ(error_kind_name(ApiErrorKind::kUnexpected), "unexpected");
}

// ---------------------------------------------------------------- rbac_hint

TEST(RbacHint, LeaseVerbsAreNarrowedByName) {
  EXPECT_EQ(rbac_hint("get", "leases", "pgdog", "pgdog-control-leader"),
            "a Role in namespace \"pgdog\" with rule {apiGroups: [\"coordination.k8s.io\"], "
            "resources: [\"leases\"], verbs: [\"get\"], resourceNames: "
            "[\"pgdog-control-leader\"]} bound to this replica's service account");
  EXPECT_THAT(rbac_hint("update", "leases", "ns", "l"),
              HasSubstr("verbs: [\"update\"], resourceNames: [\"l\"]}"));
}

TEST(RbacHint, CreateCannotBeNarrowedByName) {
  EXPECT_EQ(rbac_hint("create", "leases", "pgdog", "pgdog-control-leader"),
            "a Role in namespace \"pgdog\" with rule {apiGroups: [\"coordination.k8s.io\"], "
            "resources: [\"leases\"], verbs: [\"create\"]} bound to this replica's service "
            "account");
}

TEST(RbacHint, CoreResourcesUseTheEmptyGroup) {
  EXPECT_EQ(rbac_hint("create", "events", "pgdog", ""),
            "a Role in namespace \"pgdog\" with rule {apiGroups: [\"\"], resources: "
            "[\"events\"], verbs: [\"create\"]} bound to this replica's service account");
}

// ---------------------------------------------------------------- malformed responses

TEST_F(LeaseApiTest, MalformedSuccessBodiesAreClassifiedMalformed) {
  json good = json::parse(R"({"kind":"Lease","apiVersion":"coordination.k8s.io/v1",
      "metadata":{"name":"pgdog-control-leader","uid":"u","resourceVersion":"1"},
      "spec":{"holderIdentity":"a","leaseDurationSeconds":15}})");
  auto with = [&](const std::function<void(json&)>& f) {
    json o = good;
    f(o);
    return o.dump();
  };
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"", "not valid JSON"},
      {"<html>502</html>", "not valid JSON"},
      {"{\"kind\":\"Lease\"", "not valid JSON"},
      {status_body(200, "", "ok"), "expected kind Lease"},
      {with([](json& o) { o["kind"] = "LeaseList"; }), "expected kind Lease"},
      {with([](json& o) { o.erase("metadata"); }), "no metadata"},
      {with([](json& o) { o["spec"]["leaseTransitions"] = -3; }), "spec.leaseTransitions"},
      {with([](json& o) { o["spec"]["renewTime"] = "soon"; }), "spec.renewTime"},
  };
  for (const auto& [body, why] : bodies) {
    for (const char* verb : {"get", "create", "update"}) {
      link.faults().next(1, Fault::respond(200, body));
      LeaseResult r;
      if (std::string(verb) == "get") {
        r = api.get(1s);
      } else if (std::string(verb) == "create") {
        r = api.create(held_by("a"), 1s);
      } else {
        std::string e;
        r = api.update(*Lease::parse(good.dump(), &e), held_by("a"), 1s);
      }
      EXPECT_FALSE(r.ok()) << body;
      EXPECT_EQ(r.error.kind, ApiErrorKind::kMalformed) << body;
      EXPECT_EQ(r.error.status, 200);
      EXPECT_THAT(r.error.message,
                  HasSubstr(std::string(verb) + " lease pgdog/pgdog-control-leader: malformed "
                                                "response: "));
      EXPECT_THAT(r.error.message, HasSubstr(why)) << body;
    }
  }
}

// ---------------------------------------------------------------- the fake server

TEST_F(LeaseApiTest, FakeServerGetOfAMissingLeaseIsA404Status) {
  const ApiResponse r = link.handle(ApiRequest{"GET", kLeasePath, "", "application/json", 1s});
  EXPECT_EQ(r.status, 404);
  const json s = json::parse(r.body);
  EXPECT_EQ(s["kind"], "Status");
  EXPECT_EQ(s["apiVersion"], "v1");
  EXPECT_EQ(s["status"], "Failure");
  EXPECT_EQ(s["reason"], "NotFound");
  EXPECT_EQ(s["code"], 404);
  EXPECT_EQ(s["message"], "leases.coordination.k8s.io \"pgdog-control-leader\" not found");
  EXPECT_EQ(s["details"]["kind"], "leases");
}

TEST_F(LeaseApiTest, FakeServerCreateAssignsUidVersionAndTimestamp) {
  const LeaseResult a = api.create(held_by("a"), 1s);
  ASSERT_TRUE(a.ok());
  const json o = *server.lease();
  EXPECT_EQ(o["metadata"]["namespace"], "pgdog");
  EXPECT_EQ(o["metadata"]["creationTimestamp"], "2026-07-24T14:05:30Z");
  EXPECT_FALSE(o["metadata"]["uid"].get<std::string>().empty());
  EXPECT_TRUE(o["metadata"]["resourceVersion"].is_string());
  // A second create: AlreadyExists, nothing changed.
  const LeaseResult b = api.create(held_by("b"), 1s);
  EXPECT_EQ(b.error.kind, ApiErrorKind::kAlreadyExists);
  EXPECT_EQ(*server.lease(), o);
  // Deleted and created again: a new uid.
  const std::string uid = server.uid();
  ASSERT_TRUE(server.delete_lease());
  ASSERT_TRUE(api.create(held_by("c"), 1s).ok());
  EXPECT_NE(server.uid(), uid);
  EXPECT_GT(std::stoll(server.resource_version()),
            std::stoll(o["metadata"]["resourceVersion"].get<std::string>()));
}

TEST_F(LeaseApiTest, FakeServerRejectsZeroDurationWith422) {
  LeaseSpec s = held_by("a");
  s.duration_secs = 0;
  const LeaseResult r = api.create(s, 1s);
  EXPECT_EQ(r.error.kind, ApiErrorKind::kInvalid);
  EXPECT_EQ(r.error.status, 422);
  EXPECT_THAT(r.error.message, HasSubstr("spec.leaseDurationSeconds: Invalid value: 0"));
  EXPECT_FALSE(server.lease().has_value());
}

TEST_F(LeaseApiTest, FakeServerUpdateIsConditionalOnResourceVersion) {
  const LeaseResult a = api.create(held_by("a"), 1s);
  const LeaseResult b = api.update(*a.lease, held_by("b", 1), 1s);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.lease->uid(), a.lease->uid());
  // A write based on the old version: 409 Conflict, nothing changed.
  const LeaseResult c = api.update(*a.lease, held_by("c", 1), 1s);
  EXPECT_EQ(c.error.kind, ApiErrorKind::kConflict);
  EXPECT_THAT(c.error.message, HasSubstr("the object has been modified"));
  EXPECT_EQ(server.spec()["holderIdentity"], "b");
  // A missing Lease: 404.
  server.delete_lease();
  EXPECT_EQ(api.update(*b.lease, held_by("b"), 1s).error.kind, ApiErrorKind::kNotFound);
}

TEST_F(LeaseApiTest, FakeServerUpdateOfARecreatedLeaseIsAConflict) {
  const LeaseResult a = api.create(held_by("a"), 1s);
  server.delete_lease();
  ASSERT_TRUE(api.create(held_by("b"), 1s).ok());
  const LeaseResult r = api.update(*a.lease, held_by("a"), 1s);
  EXPECT_EQ(r.error.kind, ApiErrorKind::kConflict);
  EXPECT_EQ(server.spec()["holderIdentity"], "b");
}

TEST_F(LeaseApiTest, FakeServerNoOpUpdateKeepsTheResourceVersion) {
  const LeaseResult a = api.create(held_by("a"), 1s);
  const LeaseResult b = api.update(*a.lease, a.lease->spec(), 1s);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.lease->resource_version(), a.lease->resource_version());
}

TEST_F(LeaseApiTest, FakeServerDeniedVerbIs403) {
  server.deny("get");
  const LeaseResult r = api.get(1s);
  EXPECT_EQ(r.error.kind, ApiErrorKind::kForbidden);
  EXPECT_THAT(r.error.message, HasSubstr("(server: leases.coordination.k8s.io "
                                         "\"pgdog-control-leader\" is forbidden: User "
                                         "\"system:serviceaccount:pgdog:pgdog-control\" cannot "
                                         "get resource \"leases\""));
}

TEST_F(LeaseApiTest, FakeServerWatchStreamsEventsAfterAVersion) {
  const LeaseResult a = api.create(held_by("a"), 1s);
  api.update(*a.lease, held_by("b", 1), 1s);
  server.delete_lease();
  std::vector<json> lines;
  std::stop_source never;
  const WatchResult w = transport.watch(
      std::string(kCollectionPath) +
          "?watch=1&fieldSelector=metadata.name%3Dpgdog-control-leader&"
          "resourceVersion=" +
          a.lease->resource_version(),
      1s,
      [&](std::string_view l) {
        lines.push_back(json::parse(l));
        return true;
      },
      never.get_token());
  EXPECT_EQ(w.status, 200);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["type"], "MODIFIED");
  EXPECT_EQ(lines[0]["object"]["spec"]["holderIdentity"], "b");
  EXPECT_EQ(lines[1]["type"], "DELETED");
}

}  // namespace
}  // namespace pgdc::kube
