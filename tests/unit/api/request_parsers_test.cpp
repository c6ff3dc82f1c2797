#include "api/request_parsers.h"

#include <gtest/gtest.h>

#include <string>

namespace pgdc::api {
namespace {

using Json = nlohmann::json;

template <typename T>
ParseError error_of(const Parsed<T>& p) {
  EXPECT_TRUE(std::holds_alternative<ParseError>(p));
  return std::holds_alternative<ParseError>(p) ? std::get<ParseError>(p) : ParseError{};
}

template <typename T>
T value_of(const Parsed<T>& p) {
  if (auto* e = std::get_if<ParseError>(&p)) {
    ADD_FAILURE() << e->message;
    return T{};
  }
  return std::get<T>(p);
}

void expect_400(const ParseError& e, const std::string& fragment) {
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.code, "bad_request");
  EXPECT_NE(e.message.find(fragment), std::string::npos) << e.message;
}

const Limits kLimits{};

TEST(ParseRegister, Valid) {
  auto r = value_of(
      parse_register(R"({"node_id":"pgdog-0","version":"0.1","host":"10.1.2.3"})", kLimits));
  EXPECT_EQ(r.node_id, "pgdog-0");
  EXPECT_EQ(r.version, "0.1");
  EXPECT_EQ(r.host, "10.1.2.3");
}

TEST(ParseRegister, Errors) {
  expect_400(error_of(parse_register("", kLimits)), "empty body");
  expect_400(error_of(parse_register("{", kLimits)), "malformed JSON");
  expect_400(error_of(parse_register("[]", kLimits)), "expected a JSON object, got an array");
  expect_400(error_of(parse_register(R"({"version":"1","host":"h"})", kLimits)),
             "node_id: missing");
  expect_400(error_of(parse_register(R"({"node_id":5,"version":"1","host":"h"})", kLimits)),
             "node_id: expected a string, got an integer");
  expect_400(error_of(parse_register(R"({"node_id":"a b","version":"1","host":"h"})", kLimits)),
             "node_id: may contain only");
  expect_400(error_of(parse_register(R"({"node_id":"","version":"1","host":"h"})", kLimits)),
             "node_id: must not be empty");
  expect_400(error_of(parse_register(R"({"node_id":"a","version":"1","host":"h","x":1})", kLimits)),
             "unknown field \"x\"");
  expect_400(error_of(parse_register(
                 Json{{"node_id", "a"}, {"version", std::string(200, 'v')}, {"host", "h"}}.dump(),
                 kLimits)),
             "version: 200 bytes is over the limit of 128");
  expect_400(error_of(parse_register(std::string(40, '[') + std::string(40, ']'), kLimits)),
             "nested deeper");
}

TEST(ParseRegister, OversizeBodyIs413) {
  Limits small;
  small.max_upload_bytes = 10;
  auto e = error_of(parse_register(R"({"node_id":"abcdef"})", small));
  EXPECT_EQ(e.status, 413);
  EXPECT_EQ(e.code, "payload_too_large");
}

TEST(ParseMetrics, ValidAndRanges) {
  const Json ok = {{"node_id", "a"}, {"clients", 1}, {"servers", 2}, {"pools", 3},
                   {"qps", 1.5},     {"tps", 0},     {"cpu", 250.0}, {"memory_bytes", 1 << 20}};
  auto m = value_of(parse_metrics(ok.dump(), kLimits));
  EXPECT_EQ(m.sample.clients, 1u);
  EXPECT_EQ(m.sample.pools, 3u);
  EXPECT_DOUBLE_EQ(m.sample.qps, 1.5);
  EXPECT_EQ(m.sample.memory_bytes, 1u << 20);
  auto with = [&](const char* key, Json v) {
    Json j = ok;
    j[key] = std::move(v);
    return parse_metrics(j.dump(), kLimits);
  };
  expect_400(error_of(with("clients", -1)), "clients: expected an integer from 0 to 4294967295");
  expect_400(error_of(with("clients", 4294967296LL)), "clients");
  expect_400(error_of(with("clients", 1.5)), "clients");
  expect_400(error_of(with("servers", "2")), "servers");
  expect_400(error_of(with("qps", -0.5)), "qps: expected a number from 0");
  expect_400(error_of(with("cpu", 1e9)), "cpu");
  expect_400(error_of(with("extra", 1)), "unknown field");
  EXPECT_EQ(value_of(with("clients", 2.0)).sample.clients, 2u);  // integral float is fine
  Json missing = ok;
  missing.erase("tps");
  expect_400(error_of(parse_metrics(missing.dump(), kLimits)), "tps: missing");
}

TEST(ParseUpload, EntriesAreFlatBoundedObjects) {
  auto u = value_of(
      parse_upload(R"({"node_id":"a","query_stats":[{"query":"select 1","calls":3,"x":null}]})",
                   fleet::UploadKind::kQueryStats, kLimits));
  EXPECT_EQ(u.count, 1u);
  EXPECT_EQ(Json::parse(u.entries_json)[0]["calls"], 3);
  expect_400(error_of(parse_upload(R"({"node_id":"a","errors":[{"query":"x"}]})",
                                   fleet::UploadKind::kErrors, kLimits)),
             "errors[0].message: missing");
  expect_400(error_of(parse_upload(R"({"node_id":"a","errors":[{"message":{"deep":1}}]})",
                                   fleet::UploadKind::kErrors, kLimits)),
             "errors[0].message: expected a string, number, boolean or null");
  expect_400(
      error_of(parse_upload(R"({"node_id":"a","errors":{}})", fleet::UploadKind::kErrors, kLimits)),
      "errors: expected an array");
  expect_400(error_of(parse_upload(R"({"node_id":"a","query_stats":[]})",
                                   fleet::UploadKind::kErrors, kLimits)),
             "unknown field \"query_stats\"");
  Limits l;
  l.max_entries = 2;
  l.max_string_bytes = 64;
  auto too_many = error_of(parse_upload(
      R"({"node_id":"a","active_queries":[{"query":"1"},{"query":"2"},{"query":"3"}]})",
      fleet::UploadKind::kActiveQueries, l));
  EXPECT_EQ(too_many.status, 413);
  EXPECT_NE(too_many.message.find("3 entries is over the limit of 2"), std::string::npos);
  expect_400(
      error_of(parse_upload(
          Json{{"node_id", "a"}, {"active_queries", {{{"query", std::string(65, 'q')}}}}}.dump(),
          fleet::UploadKind::kActiveQueries, l)),
      "65 bytes is over the limit of 64");
}

TEST(ParseAck, Valid) {
  auto a = value_of(parse_ack(R"({"node_id":"a","status":"error","message":"boom"})", kLimits));
  EXPECT_FALSE(a.ok);
  EXPECT_EQ(a.message, "boom");
  EXPECT_TRUE(value_of(parse_ack(R"({"node_id":"a","status":"ok"})", kLimits)).ok);
  expect_400(error_of(parse_ack(R"({"node_id":"a","status":"OK"})", kLimits)),
             "status: expected \"ok\" or \"error\"");
  expect_400(error_of(parse_ack(R"({"node_id":"a"})", kLimits)), "status: missing");
}

TEST(ParseIssue, DefaultsAndErrors) {
  auto i = value_of(parse_issue(R"({"name":"reload_schema"})", kLimits));
  EXPECT_EQ(i.target, "*");
  EXPECT_EQ(i.args, Json::object());
  auto j = value_of(
      parse_issue(R"({"name":"maintenance_on","target":"pod-1","args":{"reason":"x"}})", kLimits));
  EXPECT_EQ(j.target, "pod-1");
  EXPECT_EQ(j.args["reason"], "x");
  expect_400(error_of(parse_issue(R"({"name":""})", kLimits)), "name: must not be empty");
  expect_400(error_of(parse_issue(R"({"name":"x","args":[]})", kLimits)),
             "args: expected an object");
  expect_400(error_of(parse_issue(R"({"name":"x","target":"a/b"})", kLimits)), "target");
  expect_400(error_of(parse_issue(R"({"name":"x","when":"now"})", kLimits)), "unknown field");
}

TEST(ParsePollQuery, DefaultsClampAndErrors) {
  Limits l;
  l.max_wait_ms = 30000;
  l.default_wait_ms = 25000;
  auto q = value_of(parse_poll_query("node_id=pod-1", l));
  EXPECT_EQ(q.node_id, "pod-1");
  EXPECT_EQ(q.after_seq, 0u);
  EXPECT_EQ(q.wait_ms, 25000);
  auto r = value_of(parse_poll_query("node_id=pod%2D1&after_seq=7&wait_ms=999999&epoch=s%2F3", l));
  EXPECT_EQ(r.node_id, "pod-1");
  EXPECT_EQ(r.after_seq, 7u);
  EXPECT_EQ(r.wait_ms, 30000);
  EXPECT_EQ(r.epoch, "s/3");
  expect_400(error_of(parse_poll_query("after_seq=1", l)), "node_id: missing");
  expect_400(error_of(parse_poll_query("node_id=a&after_seq=-1", l)), "after_seq");
  expect_400(error_of(parse_poll_query("node_id=a&wait_ms=1e3", l)), "wait_ms");
  expect_400(error_of(parse_poll_query("node_id=a&node_id=b", l)), "more than once");
  expect_400(error_of(parse_poll_query("node_id=a%zz", l)), "%-escape");
  expect_400(error_of(parse_poll_query("node_id=a%2", l)), "%-escape");
}

TEST(ParseQueries, SinceAndLimit) {
  EXPECT_EQ(value_of(parse_since_query("")), 0);
  EXPECT_EQ(value_of(parse_since_query("since_ms=1700000000000")), 1700000000000);
  expect_400(error_of(parse_since_query("since_ms=abc")), "since_ms");
  EXPECT_EQ(value_of(parse_limit_query("", 100)), 100u);
  EXPECT_EQ(value_of(parse_limit_query("limit=5", 100)), 5u);
  expect_400(error_of(parse_limit_query("limit=0", 100)), "limit");
  expect_400(error_of(parse_limit_query("limit=5000", 100)), "limit");
}

}  // namespace
}  // namespace pgdc::api
