// The Lease model: MicroTime on the wire, parsing and validating API objects,
// and writing back only the election's fields.
#include <gtest/gtest.h>

#include "fakes.h"

namespace pgdc::kube {
namespace {

using namespace std::chrono_literals;
using testing::default_wall_origin;
using testing::json;

WallTime at_seconds(std::int64_t s, std::int64_t ns = 0) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::seconds(s) +
                                                                 std::chrono::nanoseconds(ns)));
}

constexpr std::int64_t k20260724T140530 = 1784901930;

// ---------------------------------------------------------------- MicroTime

TEST(MicroTime, FormatsUtcWithSixFractionalDigitsAndZ) {
  EXPECT_EQ(format_micro_time(at_seconds(k20260724T140530, 123456000)),
            "2026-07-24T14:05:30.123456Z");
  EXPECT_EQ(format_micro_time(at_seconds(0)), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_micro_time(at_seconds(k20260724T140530, 1000)), "2026-07-24T14:05:30.000001Z");
}

TEST(MicroTime, FormatTruncatesBelowAMicrosecond) {
  // 123456789 ns: the wire has microseconds; never rounds up into the next second.
  EXPECT_EQ(format_micro_time(default_wall_origin()), "2026-07-24T14:05:30.123456Z");
  EXPECT_EQ(format_micro_time(at_seconds(k20260724T140530, 999999999)),
            "2026-07-24T14:05:30.999999Z");
}

TEST(MicroTime, FormatsTimesBeforeTheEpoch) {
  EXPECT_EQ(format_micro_time(at_seconds(-1, 500000000)), "1969-12-31T23:59:59.500000Z");
  EXPECT_EQ(format_micro_time(at_seconds(-86400)), "1969-12-31T00:00:00.000000Z");
}

TEST(MicroTime, FormatDoesNotDependOnTheProcessTimeZone) {
  const char* old = std::getenv("TZ");
  const std::string saved = old ? old : "";
  setenv("TZ", "America/Los_Angeles", 1);
  tzset();
  const std::string s = format_micro_time(at_seconds(k20260724T140530));
  if (old) {
    setenv("TZ", saved.c_str(), 1);
  } else {
    unsetenv("TZ");
  }
  tzset();
  EXPECT_EQ(s, "2026-07-24T14:05:30.000000Z");
}

TEST(MicroTime, ParsesZulu) {
  EXPECT_EQ(parse_micro_time("2026-07-24T14:05:30.123456Z"),
            at_seconds(k20260724T140530, 123456000));
  EXPECT_EQ(parse_micro_time("2026-07-24t14:05:30z"), at_seconds(k20260724T140530));
  EXPECT_EQ(parse_micro_time("1970-01-01T00:00:00Z"), at_seconds(0));
}

TEST(MicroTime, ParsesNumericOffsets) {
  EXPECT_EQ(parse_micro_time("2026-07-24T16:05:30+02:00"), at_seconds(k20260724T140530));
  EXPECT_EQ(parse_micro_time("2026-07-24T09:35:30.5-04:30"),
            at_seconds(k20260724T140530, 500000000));
  EXPECT_EQ(parse_micro_time("2026-07-24T14:05:30+00:00"), at_seconds(k20260724T140530));
  // Across a day boundary.
  EXPECT_EQ(parse_micro_time("2026-07-25T00:05:30+10:00"), at_seconds(k20260724T140530));
}

TEST(MicroTime, ParsesZeroToNineFractionalDigits) {
  const std::string base = "2026-07-24T14:05:30";
  EXPECT_EQ(parse_micro_time(base + "Z"), at_seconds(k20260724T140530));
  EXPECT_EQ(parse_micro_time(base + ".1Z"), at_seconds(k20260724T140530, 100000000));
  EXPECT_EQ(parse_micro_time(base + ".12Z"), at_seconds(k20260724T140530, 120000000));
  EXPECT_EQ(parse_micro_time(base + ".123Z"), at_seconds(k20260724T140530, 123000000));
  EXPECT_EQ(parse_micro_time(base + ".123456Z"), at_seconds(k20260724T140530, 123456000));
  EXPECT_EQ(parse_micro_time(base + ".1234567Z"), at_seconds(k20260724T140530, 123456700));
  EXPECT_EQ(parse_micro_time(base + ".123456789Z"), at_seconds(k20260724T140530, 123456789));
}

TEST(MicroTime, RoundTripsThroughTheWireFormat) {
  for (const auto& t : {at_seconds(0), at_seconds(k20260724T140530, 999999000),
                        at_seconds(951782400 /* 2000-02-29 */, 42000),
                        at_seconds(4102444799 /* 2099-12-31T23:59:59 */)}) {
    const auto back = parse_micro_time(format_micro_time(t));
    ASSERT_TRUE(back.has_value()) << format_micro_time(t);
    EXPECT_EQ(*back, t) << format_micro_time(t);
  }
}

TEST(MicroTime, RejectsGarbage) {
  for (const char* bad : {
           "",
           "now",
           "2026-07-24",
           "2026-07-24T14:05:30",        // no zone
           "2026-07-24 14:05:30Z",       // space instead of T
           "2026-07-24T14:05:30.Z",      // a dot without digits
           "2026-07-24T14:05:30.123ZZ",  // trailing junk
           "2026-07-24T14:05:30.123Z ",  // trailing space
           " 2026-07-24T14:05:30Z",      // leading space
           "2026-07-24T14:05:30+0100",   // offset without colon
           "2026-07-24T14:05:30+01",     // short offset
           "2026-07-24T14:05:30+01:0",   // short offset minutes
           "2026-13-01T00:00:00Z",       // month 13
           "2026-00-01T00:00:00Z",       // month 0
           "2026-07-00T00:00:00Z",       // day 0
           "2026-07-32T00:00:00Z",       // day 32
           "2026-07-24T24:00:00Z",       // hour 24
           "2026-07-24T14:60:00Z",       // minute 60
           "2026-07-24T14:05:61Z",       // second 61
           "2026/07/24T14:05:30Z",       // wrong separators
           "2026-07-24T14-05-30Z",       //
           "26-07-24T14:05:30Z",         // two-digit year
           "2026-7-24T14:05:30Z",        // one-digit month
           "2026-07-24T14:05:3aZ",       // a letter in a number
           "+2026-07-24T14:05:30Z",      // sign
       }) {
    EXPECT_FALSE(parse_micro_time(bad).has_value()) << '"' << bad << '"';
  }
}

// ---------------------------------------------------------------- Lease::parse

json server_lease() {
  return json::parse(R"({
    "kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
    "metadata": {"name": "pgdog-control-leader", "namespace": "pgdog",
                 "uid": "2b6f1c2e-0000-4000-8000-000000000001", "resourceVersion": "4711",
                 "creationTimestamp": "2026-07-24T14:00:00Z",
                 "labels": {"app": "pgdog-control"}, "annotations": {"note": "keep me"},
                 "managedFields": [{"manager": "pgdog-control", "operation": "Update"}]},
    "spec": {"holderIdentity": "pod-a_1f2e", "leaseDurationSeconds": 15,
             "acquireTime": "2026-07-24T14:00:00.000000Z",
             "renewTime": "2026-07-24T14:05:30.123456Z", "leaseTransitions": 3,
             "strategy": "OldestEmulationVersion", "preferredHolder": "pod-b_9c8d",
             "someFutureField": {"x": 1}},
    "status": {"also": "kept"}
  })");
}

TEST(Lease, ParsesAnApiServerObject) {
  std::string error;
  const auto lease = Lease::parse(server_lease().dump(), &error);
  ASSERT_TRUE(lease.has_value()) << error;
  EXPECT_EQ(lease->name(), "pgdog-control-leader");
  EXPECT_EQ(lease->uid(), "2b6f1c2e-0000-4000-8000-000000000001");
  EXPECT_EQ(lease->resource_version(), "4711");
  EXPECT_EQ(lease->spec().holder, "pod-a_1f2e");
  EXPECT_EQ(lease->spec().duration_secs, 15);
  EXPECT_EQ(lease->spec().transitions, 3);
  EXPECT_EQ(lease->spec().acquire_time, parse_micro_time("2026-07-24T14:00:00Z"));
  EXPECT_EQ(lease->spec().renew_time, at_seconds(k20260724T140530, 123456000));
}

TEST(Lease, AnObjectWithoutSpecHasAnEmptyElectionRecord) {
  json o = server_lease();
  o.erase("spec");
  std::string error;
  const auto lease = Lease::from_json(o, &error);
  ASSERT_TRUE(lease.has_value()) << error;
  EXPECT_EQ(lease->spec(), LeaseSpec{});
  o["spec"] = nullptr;
  EXPECT_TRUE(Lease::from_json(o, &error).has_value()) << error;
  o["spec"] = json::object();
  EXPECT_TRUE(Lease::from_json(o, &error).has_value()) << error;
}

TEST(Lease, NullElectionFieldsAreAbsent) {
  json o = server_lease();
  for (const char* k :
       {"holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime", "leaseTransitions"}) {
    o["spec"][k] = nullptr;
  }
  std::string error;
  const auto lease = Lease::from_json(o, &error);
  ASSERT_TRUE(lease.has_value()) << error;
  LeaseSpec expected;
  expected.preferred_holder = "pod-b_9c8d";  // spec.preferredHolder is not among the nulls
  EXPECT_EQ(lease->spec(), expected);
}

TEST(Lease, KindMayBeAbsent) {
  json o = server_lease();
  o.erase("kind");
  std::string error;
  EXPECT_TRUE(Lease::from_json(o, &error).has_value()) << error;
}

struct Rejected {
  const char* what;
  std::function<void(json&)> change;
  const char* message_contains;
};

TEST(Lease, RejectsMalformedObjectsNamingTheField) {
  const std::vector<Rejected> cases = {
      {"array", [](json& o) { o = json::array(); }, "not a JSON object"},
      {"string", [](json& o) { o = "Lease"; }, "not a JSON object"},
      {"wrong kind", [](json& o) { o["kind"] = "Status"; }, "expected kind Lease"},
      {"kind not a string", [](json& o) { o["kind"] = 7; }, "expected kind Lease"},
      {"no metadata", [](json& o) { o.erase("metadata"); }, "no metadata"},
      {"metadata not an object", [](json& o) { o["metadata"] = "x"; }, "no metadata"},
      {"no name", [](json& o) { o["metadata"].erase("name"); }, "metadata.name"},
      {"no uid", [](json& o) { o["metadata"].erase("uid"); }, "metadata.uid"},
      {"empty uid", [](json& o) { o["metadata"]["uid"] = ""; }, "metadata.uid"},
      {"no resourceVersion", [](json& o) { o["metadata"].erase("resourceVersion"); },
       "metadata.resourceVersion"},
      {"numeric resourceVersion", [](json& o) { o["metadata"]["resourceVersion"] = 4711; },
       "metadata.resourceVersion"},
      {"spec not an object", [](json& o) { o["spec"] = json::array(); }, "spec is not an object"},
      {"holder not a string", [](json& o) { o["spec"]["holderIdentity"] = 5; },
       "spec.holderIdentity"},
      {"negative transitions", [](json& o) { o["spec"]["leaseTransitions"] = -1; },
       "spec.leaseTransitions"},
      {"transitions beyond int32", [](json& o) { o["spec"]["leaseTransitions"] = 2147483648LL; },
       "spec.leaseTransitions"},
      {"transitions a string", [](json& o) { o["spec"]["leaseTransitions"] = "3"; },
       "spec.leaseTransitions"},
      {"transitions a float", [](json& o) { o["spec"]["leaseTransitions"] = 3.5; },
       "spec.leaseTransitions"},
      {"zero duration", [](json& o) { o["spec"]["leaseDurationSeconds"] = 0; },
       "spec.leaseDurationSeconds"},
      {"negative duration", [](json& o) { o["spec"]["leaseDurationSeconds"] = -15; },
       "spec.leaseDurationSeconds"},
      {"duration a string", [](json& o) { o["spec"]["leaseDurationSeconds"] = "15"; },
       "spec.leaseDurationSeconds"},
      {"bad renewTime", [](json& o) { o["spec"]["renewTime"] = "yesterday"; }, "spec.renewTime"},
      {"renewTime a number", [](json& o) { o["spec"]["renewTime"] = 1784901930; },
       "spec.renewTime"},
      {"bad acquireTime", [](json& o) { o["spec"]["acquireTime"] = "2026-07-24T14:05:30"; },
       "spec.acquireTime"},
  };
  for (const auto& c : cases) {
    json o = server_lease();
    c.change(o);
    std::string error;
    EXPECT_FALSE(Lease::from_json(o, &error).has_value()) << c.what;
    EXPECT_NE(error.find(c.message_contains), std::string::npos)
        << c.what << ": error was \"" << error << "\"";
    EXPECT_FALSE(Lease::parse(o.dump(), &error).has_value()) << c.what;
  }
}

TEST(Lease, RejectsInvalidJson) {
  std::string error;
  for (const char* bad : {"", "{", "not json", "{\"kind\": \"Lease\",}", "\xff\xfe"}) {
    EXPECT_FALSE(Lease::parse(bad, &error).has_value()) << bad;
    EXPECT_EQ(error, "the response is not valid JSON");
  }
}

// ---------------------------------------------------------------- writing

TEST(Lease, NewObjectIsALeaseForCreateWithoutResourceVersion) {
  LeaseSpec spec;
  spec.holder = "pod-a_1f2e";
  spec.duration_secs = 15;
  spec.acquire_time = spec.renew_time = default_wall_origin();
  const json o = json::parse(Lease::new_object("pgdog-control-leader", "pgdog", spec));
  EXPECT_EQ(o["apiVersion"], "coordination.k8s.io/v1");
  EXPECT_EQ(o["kind"], "Lease");
  EXPECT_EQ(o["metadata"], (json{{"name", "pgdog-control-leader"}, {"namespace", "pgdog"}}));
  EXPECT_EQ(o["spec"], (json{{"holderIdentity", "pod-a_1f2e"},
                             {"leaseDurationSeconds", 15},
                             {"acquireTime", "2026-07-24T14:05:30.123456Z"},
                             {"renewTime", "2026-07-24T14:05:30.123456Z"},
                             {"leaseTransitions", 0}}));
}

TEST(Lease, WithSpecReplacesOnlyTheElectionFields) {
  std::string error;
  const auto lease = Lease::from_json(server_lease(), &error);
  ASSERT_TRUE(lease) << error;
  LeaseSpec spec;
  spec.holder = "pod-b_9c8d";
  spec.duration_secs = 20;
  spec.acquire_time = spec.renew_time = default_wall_origin();
  spec.transitions = 4;
  const json out = json::parse(lease->with_spec(spec));
  json expected = server_lease();
  expected["spec"]["holderIdentity"] = "pod-b_9c8d";
  expected["spec"]["leaseDurationSeconds"] = 20;
  expected["spec"]["acquireTime"] = "2026-07-24T14:05:30.123456Z";
  expected["spec"]["renewTime"] = "2026-07-24T14:05:30.123456Z";
  expected["spec"]["leaseTransitions"] = 4;
  // spec.preferredHolder is the election's: a write naming a holder removes it.
  expected["spec"].erase("preferredHolder");
  // Everything else, resourceVersion (the precondition) included, unchanged.
  EXPECT_EQ(out, expected);
}

TEST(Lease, WithSpecDropsTimesThatAreUnset) {
  std::string error;
  const auto lease = Lease::from_json(server_lease(), &error);
  ASSERT_TRUE(lease) << error;
  LeaseSpec spec;
  spec.holder = "x";
  spec.duration_secs = 1;
  const json out = json::parse(lease->with_spec(spec));
  EXPECT_FALSE(out["spec"].contains("acquireTime"));
  EXPECT_FALSE(out["spec"].contains("renewTime"));
  EXPECT_EQ(out["spec"]["strategy"], "OldestEmulationVersion");
}

TEST(Lease, WithSpecAddsApiVersionAndKindWhenTheObjectHadNone) {
  json o = server_lease();
  o.erase("kind");
  o.erase("apiVersion");
  o.erase("spec");
  std::string error;
  const auto lease = Lease::from_json(o, &error);
  ASSERT_TRUE(lease) << error;
  const json out = json::parse(lease->with_spec(LeaseSpec{"me", 15, {}, {}, 0, 0, "", {}, ""}));
  EXPECT_EQ(out["kind"], "Lease");
  EXPECT_EQ(out["apiVersion"], "coordination.k8s.io/v1");
  EXPECT_EQ(out["spec"]["holderIdentity"], "me");
  EXPECT_EQ(out["metadata"]["resourceVersion"], "4711");
}

// ================================================================ leader address

json with_address_annotation(const std::string& value) {
  json o = server_lease();
  o["metadata"]["annotations"][kLeaderAddressAnnotation] = value;
  return o;
}

TEST(LeaseLeaderAddress, IsReadWhenTheAnnotationNamesTheHolder) {
  std::string error;
  const auto lease = Lease::parse(
      with_address_annotation(R"({"holder":"pod-a_1f2e","address":"10.0.0.7:8080"})").dump(),
      &error);
  ASSERT_TRUE(lease.has_value()) << error;
  EXPECT_EQ(lease->spec().holder_address, "10.0.0.7:8080");
}

TEST(LeaseLeaderAddress, IsIgnoredWhenTheAnnotationNamesAnotherHolder) {
  // A Lease taken over by an elector that does not know the annotation keeps
  // the previous holder's address: it must not be believed.
  std::string error;
  const auto lease = Lease::parse(
      with_address_annotation(R"({"holder":"pod-old_1","address":"10.0.0.9:8080"})").dump(),
      &error);
  ASSERT_TRUE(lease.has_value()) << error;
  EXPECT_EQ(lease->spec().holder_address, "");
}

TEST(LeaseLeaderAddress, MalformedAnnotationsAreIgnoredNotErrors) {
  for (const std::string bad : {"", "not json", "[1,2]", R"({"holder":"pod-a_1f2e"})",
                                R"({"holder":"pod-a_1f2e","address":7})"}) {
    std::string error;
    const auto lease = Lease::parse(with_address_annotation(bad).dump(), &error);
    ASSERT_TRUE(lease.has_value()) << bad << ": " << error;
    EXPECT_EQ(lease->spec().holder_address, "") << bad;
  }
}

TEST(LeaseLeaderAddress, IsWrittenWithAHolderAndKeepsOtherAnnotations) {
  std::string error;
  const auto lease = Lease::parse(server_lease().dump(), &error);
  ASSERT_TRUE(lease.has_value()) << error;
  LeaseSpec spec = lease->spec();
  spec.holder = "pod-b_9c8d";
  spec.holder_address = "10.0.0.8:8080";
  const json out = json::parse(lease->with_spec(spec));
  EXPECT_EQ(out["metadata"]["annotations"]["note"], "keep me");
  const json value =
      json::parse(out["metadata"]["annotations"][kLeaderAddressAnnotation].get<std::string>());
  EXPECT_EQ(value, (json{{"holder", "pod-b_9c8d"}, {"address", "10.0.0.8:8080"}}));
  const auto back = Lease::from_json(out, &error);
  ASSERT_TRUE(back.has_value()) << error;
  spec.preferred_holder.clear();  // a write naming a holder removes the preference
  EXPECT_EQ(back->spec(), spec) << "round trip";

  const json created = json::parse(Lease::new_object("l", "ns", spec));
  EXPECT_TRUE(created["metadata"]["annotations"].contains(kLeaderAddressAnnotation));
}

TEST(LeaseLeaderAddress, IsRemovedWhenNobodyHoldsTheLease) {
  std::string error;
  const auto lease = Lease::parse(
      with_address_annotation(R"({"holder":"pod-a_1f2e","address":"10.0.0.7:8080"})").dump(),
      &error);
  ASSERT_TRUE(lease.has_value()) << error;
  LeaseSpec released = lease->spec();
  released.holder = "";
  const json out = json::parse(lease->with_spec(released));
  EXPECT_FALSE(out["metadata"]["annotations"].contains(kLeaderAddressAnnotation));
  EXPECT_EQ(out["metadata"]["annotations"]["note"], "keep me");
}

}  // namespace
}  // namespace pgdc::kube
