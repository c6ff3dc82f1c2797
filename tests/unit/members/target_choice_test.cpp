#include "members/target_choice.h"

#include <gtest/gtest.h>

namespace pgdc::members {
namespace {

Member m(std::string id, std::string version, bool eligible = true, std::int64_t age = 100,
         bool stale = false) {
  return Member{std::move(id), "", std::move(version), "k 1", eligible, age, stale};
}

TEST(CompareVersions, NumericDotParts) {
  EXPECT_GT(compare_versions("0.10.0", "0.9.3"), 0);
  EXPECT_LT(compare_versions("0.9.3", "0.10.0"), 0);
  EXPECT_EQ(compare_versions("1.2", "1.2.0"), 0);
  EXPECT_EQ(compare_versions("1.2.0-rc1", "1.2.0"), 0);
  EXPECT_GT(compare_versions("2", "1.99.99"), 0);
  EXPECT_EQ(compare_versions("", "0"), 0);
  EXPECT_LT(compare_versions("garbage", "0.0.1"), 0);
}

TEST(ChooseTarget, PrefersTheHighestVersionThenFreshestThenIdentity) {
  const std::vector<Member> ms = {m("self", "9.0.0"), m("a", "0.1.0", true, 10),
                                  m("b", "0.2.0", true, 900), m("c", "0.2.0", true, 50),
                                  m("d", "0.2.0", true, 50)};
  auto t = choose_target(ms, "self");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->identity, "c");  // 0.2.0 beats 0.1.0; 50 ms beats 900; c before d
}

TEST(ChooseTarget, UnknownHeartbeatAgeSortsLast) {
  auto t = choose_target({m("a", "1", true, -1), m("b", "1", true, 5000)}, "self");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->identity, "b");
}

TEST(ChooseTarget, SkipsSelfIneligibleAndStale) {
  const std::vector<Member> ms = {m("self", "2"), m("a", "3", false), m("b", "3", true, 1, true)};
  EXPECT_FALSE(choose_target(ms, "self"));
  auto t = choose_target({m("self", "2"), m("a", "3", false), m("c", "1")}, "self");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->identity, "c");
}

TEST(CheckTarget, EveryRefusal) {
  const std::vector<Member> ms = {m("self", "1"), m("a", "1", false), m("b", "1", true, 1, true),
                                  m("c", "1")};
  auto self = check_target(ms, "self", "self");
  ASSERT_TRUE(self);
  EXPECT_FALSE(self->unknown);
  EXPECT_NE(self->reason.find("this replica"), std::string::npos);
  auto unknown = check_target(ms, "self", "zz");
  ASSERT_TRUE(unknown);
  EXPECT_TRUE(unknown->unknown);
  auto ineligible = check_target(ms, "self", "a");
  ASSERT_TRUE(ineligible);
  EXPECT_FALSE(ineligible->unknown);
  EXPECT_NE(ineligible->reason.find("not eligible"), std::string::npos);
  auto stale = check_target(ms, "self", "b");
  ASSERT_TRUE(stale);
  EXPECT_NE(stale->reason.find("stale"), std::string::npos);
  EXPECT_FALSE(check_target(ms, "self", "c"));
}

}  // namespace
}  // namespace pgdc::members
