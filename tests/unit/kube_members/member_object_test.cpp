// member_object.h: names (hash form for identities that are not valid
// names), the Lease written, and the parse of a LeaseList with malformed and
// hostile items.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "members/member_object.h"

namespace pgdc::kube {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const WallTime kNow = WallTime(std::chrono::seconds(1'800'000'000));

json member_item(const std::string& identity, WallTime renewed, int ttl = 15,
                 json annotation = json{{"address", "10.0.0.1:8080"},
                                        {"version", "0.1.0"},
                                        {"backend", "kubernetes 1.4.0"},
                                        {"eligible", true}}) {
  return json{{"metadata",
               {{"name", member_lease_name("pgdog-control", identity)},
                {"resourceVersion", "7"},
                {"labels", {{"pgdog.dev/member-of", "pgdog-control"}}},
                {"annotations", {{"pgdog.dev/member", annotation.dump()}}}}},
              {"spec",
               {{"holderIdentity", identity},
                {"leaseDurationSeconds", ttl},
                {"renewTime", format_micro_time(renewed)}}}};
}

std::vector<MemberRecord> parse(const json& items, std::vector<std::string>* skipped = nullptr) {
  std::string why;
  auto r = parse_member_list(json{{"items", items}}.dump(), "pgdog-control", kNow, &why, skipped);
  EXPECT_TRUE(r) << why;
  return r ? *r : std::vector<MemberRecord>{};
}

TEST(MemberNames, APodNameIdentityIsKeptReadable) {
  EXPECT_EQ(member_lease_name("pgdog-control", "pgdog-control-7d9f-abcde"),
            "pgdog-control-member-pgdog-control-7d9f-abcde");
}

TEST(MemberNames, AnIdentityThatIsNoValidNameIsHashedStably) {
  const std::string a = member_lease_name("pgdog-control", "Host_A");
  EXPECT_EQ(a, "pgdog-control-member-host-a-h" + fnv1a64_hex("Host_A"));
  // The daemon's default identity, <POD_NAME>_<random>.
  EXPECT_EQ(member_lease_name("pgdog-control", "pgdog-control-7d9f-abcde_k3x9"),
            "pgdog-control-member-pgdog-control-7d9f-abcde-k3x9-h" +
                fnv1a64_hex("pgdog-control-7d9f-abcde_k3x9"));
  EXPECT_NE(member_lease_name("pgdog-control", "pod_a"),
            member_lease_name("pgdog-control", "pod.a"));
  EXPECT_EQ(member_lease_name("pgdog-control", "__"), "pgdog-control-member-h" + fnv1a64_hex("__"));
  EXPECT_EQ(a, member_lease_name("pgdog-control", "Host_A"));
  EXPECT_NE(a, member_lease_name("pgdog-control", "Host_B"));
  EXPECT_TRUE(valid_dns_subdomain(a));
  const std::string long_id(300, 'a');
  const std::string l = member_lease_name("pgdog-control", long_id);
  EXPECT_LE(l.size(), 253u);
  EXPECT_TRUE(valid_dns_subdomain(l));
  EXPECT_NE(l, member_lease_name("pgdog-control", std::string(301, 'a')));
  // Even a lease name at the limit gives a valid name.
  const std::string lease(253, 'x');
  EXPECT_TRUE(valid_dns_subdomain(member_lease_name(lease, "a")));
  EXPECT_EQ(fnv1a64_hex(""), "cbf29ce484222325");  // the FNV-1a 64 offset basis
}

TEST(MemberNames, DnsSubdomainRules) {
  EXPECT_TRUE(valid_dns_subdomain("a.b-c.d"));
  EXPECT_FALSE(valid_dns_subdomain("a..b"));
  EXPECT_FALSE(valid_dns_subdomain("-a"));
  EXPECT_FALSE(valid_dns_subdomain("a-"));
  EXPECT_FALSE(valid_dns_subdomain("A"));
  EXPECT_FALSE(valid_dns_subdomain(""));
  EXPECT_EQ(member_label_value("pgdog-control"), "pgdog-control");
  EXPECT_EQ(member_label_value(std::string(64, 'a')), "h" + fnv1a64_hex(std::string(64, 'a')));
}

TEST(MemberBody, CarriesIdentityTtlHeartbeatAnnotationAndOwner) {
  MemberWrite w{"pgdog", "pgdog-control", {}, 15, kNow, PodRef{"pod-a", "uid-1"}, ""};
  w.self =
      pgdc::sdk::Member{"pod-a", "10.0.0.1:8080", "0.1.0", "kubernetes 1.4.0", false, 0, false};
  const json o = json::parse(member_lease_body(w));
  EXPECT_EQ(o["apiVersion"], "coordination.k8s.io/v1");
  EXPECT_EQ(o["kind"], "Lease");
  EXPECT_EQ(o["metadata"]["name"], "pgdog-control-member-pod-a");
  EXPECT_EQ(o["metadata"]["labels"]["pgdog.dev/member-of"], "pgdog-control");
  EXPECT_FALSE(o["metadata"].contains("resourceVersion"));
  EXPECT_EQ(o["spec"]["holderIdentity"], "pod-a");
  EXPECT_EQ(o["spec"]["leaseDurationSeconds"], 15);
  EXPECT_EQ(o["spec"]["renewTime"], format_micro_time(kNow));
  const json a = json::parse(o["metadata"]["annotations"]["pgdog.dev/member"].get<std::string>());
  EXPECT_EQ(a["address"], "10.0.0.1:8080");
  EXPECT_EQ(a["version"], "0.1.0");
  EXPECT_EQ(a["backend"], "kubernetes 1.4.0");
  EXPECT_EQ(a["eligible"], false);
  const json owner = o["metadata"]["ownerReferences"][0];
  EXPECT_EQ(owner,
            (json{{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", "pod-a"}, {"uid", "uid-1"}}));
  w.pod = PodRef{"pod-a", ""};  // without the uid: no owner
  w.resource_version = "42";
  const json o2 = json::parse(member_lease_body(w));
  EXPECT_FALSE(o2["metadata"].contains("ownerReferences"));
  EXPECT_EQ(o2["metadata"]["resourceVersion"], "42");
}

TEST(MemberList, AgesAndStaleness) {
  const auto r = parse(json::array(
      {member_item("b", kNow - 2s), member_item("a", kNow - 16s), member_item("c", kNow + 3s)}));
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].member.identity, "a");  // sorted by identity
  EXPECT_EQ(r[0].member.heartbeat_age_ms, 16000);
  EXPECT_TRUE(r[0].member.stale);  // older than its 15 s
  EXPECT_EQ(r[1].member.heartbeat_age_ms, 2000);
  EXPECT_FALSE(r[1].member.stale);
  EXPECT_EQ(r[1].member.address, "10.0.0.1:8080");
  EXPECT_EQ(r[1].member.version, "0.1.0");
  EXPECT_EQ(r[1].member.backend, "kubernetes 1.4.0");
  EXPECT_TRUE(r[1].member.eligible);
  EXPECT_EQ(r[1].resource_version, "7");
  EXPECT_EQ(r[2].member.heartbeat_age_ms, 0) << "a heartbeat from the future (clock skew) is 0";
  EXPECT_FALSE(r[2].member.stale);
  // The TTL is each object's own leaseDurationSeconds.
  EXPECT_FALSE(parse(json::array({member_item("d", kNow - 16s, 20)}))[0].member.stale);
}

TEST(MemberList, MalformedAndHostileItemsAreSkippedNeverFatal) {
  json items = json::array({member_item("good", kNow - 1s)});
  items.push_back(42);
  items.push_back(json::object());
  items.push_back(json{{"metadata", {{"name", 5}}}});
  json no_label = member_item("x1", kNow);
  no_label["metadata"]["labels"] = json{{"pgdog.dev/member-of", "other"}};
  items.push_back(no_label);
  json no_holder = member_item("x2", kNow);
  no_holder["spec"].erase("holderIdentity");
  items.push_back(no_holder);
  json bad_ttl = member_item("x3", kNow);
  bad_ttl["spec"]["leaseDurationSeconds"] = "15";
  items.push_back(bad_ttl);
  json neg_ttl = member_item("x4", kNow);
  neg_ttl["spec"]["leaseDurationSeconds"] = -1;
  items.push_back(neg_ttl);
  json bad_time = member_item("x5", kNow);
  bad_time["spec"]["renewTime"] = "yesterday";
  items.push_back(bad_time);
  json bad_annotation = member_item("x6", kNow);
  bad_annotation["metadata"]["annotations"]["pgdog.dev/member"] = "{not json";
  items.push_back(bad_annotation);
  items.push_back(member_item("x7", kNow, 15, json{{"address", 1}, {"eligible", true}}));
  items.push_back(member_item("x8", kNow, 15, json{{"address", "a"}}));  // no eligible
  items.push_back(
      member_item("x9", kNow, 15, json{{"address", std::string(5000, 'a')}, {"eligible", true}}));
  json array_annotations = member_item("x10", kNow);
  array_annotations["metadata"]["annotations"] = json::array({1, 2});
  items.push_back(array_annotations);
  json null_spec = member_item("x11", kNow);
  null_spec["spec"] = nullptr;
  items.push_back(null_spec);
  std::vector<std::string> skipped;
  const auto r = parse(items, &skipped);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].member.identity, "good");
  EXPECT_EQ(skipped.size(), items.size() - 1);
  std::string why;
  EXPECT_FALSE(parse_member_list("[]", "pgdog-control", kNow, &why, nullptr));
  EXPECT_FALSE(parse_member_list("{\"items\":3}", "pgdog-control", kNow, &why, nullptr));
  EXPECT_FALSE(parse_member_list("", "pgdog-control", kNow, &why, nullptr));
  EXPECT_EQ(why, "not a LeaseList");
}

TEST(MemberList, TwoObjectsClaimingOneIdentityKeepTheFreshest) {
  json older = member_item("a", kNow - 10s);
  older["metadata"]["name"] = "pgdog-control-member-old";
  const auto r = parse(json::array({older, member_item("a", kNow - 1s)}));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].member.heartbeat_age_ms, 1000);
}

}  // namespace
}  // namespace pgdc::kube
