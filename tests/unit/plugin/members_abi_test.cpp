// ABI 1.4 members and handover across the C boundary: the SDK's Members and
// Handover mixins fill their optional entries independently, the host's
// Instance finds and calls them, members and errors cross as plugin.h says,
// and a plugin built for ABI 1.3 offers none of them.
#include <pgdog_control/host.hpp>
#include <pgdog_control/plugin.hpp>
#include <pgdog_control/testing/mock_host.hpp>

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pgdc {
namespace {

using ::testing::NiceMock;

// Remembers what it was told to publish, lists it beside a fixed peer, and
// hands over only to that peer.
class MembersBackend final : public sdk::Backend, public sdk::Members, public sdk::Handover {
 public:
  MembersBackend(sdk::Host, std::string_view) {}
  void start() override {}
  bool stop(bool, std::int64_t) override { return true; }

  void member_publish(const sdk::Member& self) override {
    if (self.identity.empty()) throw sdk::ConfigError("member without an identity");
    published.push_back(self);
  }
  std::vector<sdk::Member> members_list(std::int64_t deadline_ns) override {
    if (deadline_ns < 0) throw sdk::UnavailableError("member list timed out");
    std::vector<sdk::Member> out;
    if (!published.empty()) out.push_back(published.back());
    sdk::Member peer;
    peer.identity = "peer";
    peer.address = "10.0.0.2:8080";
    peer.version = "0.2.0";
    peer.backend = "test 1.0.0";
    peer.eligible = false;
    peer.heartbeat_age_ms = 42000;
    peer.stale = true;
    out.push_back(peer);
    return out;
  }
  void transfer(std::string_view to, std::int64_t deadline_ns) override {
    if (to != "peer") throw sdk::ConflictError("unknown target " + std::string(to));
    if (deadline_ns < 0) throw sdk::UnavailableError("handover outcome unknown");
    transfers.emplace_back(to);
  }

  std::vector<sdk::Member> published;
  std::vector<std::string> transfers;
};

// Members without a handover: the entries are independent.
class ListOnlyBackend final : public sdk::Backend, public sdk::Members {
 public:
  ListOnlyBackend(sdk::Host, std::string_view) {}
  void start() override {}
  bool stop(bool, std::int64_t) override { return true; }
  void member_publish(const sdk::Member&) override {}
  std::vector<sdk::Member> members_list(std::int64_t) override { return {}; }
};

template <typename T>
pgdc_plugin_descriptor descriptor_of(const pgdc_vtable* vtable) {
  return pgdc_plugin_descriptor{PGDC_PLUGIN_MAGIC, sizeof(pgdc_plugin_descriptor),
                                PGDC_ABI_MAJOR,    PGDC_ABI_MINOR,
                                "members-test",    "1.0.0",
                                "members ABI",     vtable};
}

TEST(MembersAbi, TheMixinsFillTheEntriesAndTheHostCallsThem) {
  const auto d = descriptor_of<MembersBackend>(&sdk::detail::Trampolines<MembersBackend>::vtable);
  NiceMock<sdk::testing::MockHost> host;
  std::string error;
  auto instance = sdk::host::Instance::create(&d, host.c_host(), "{}", &error);
  ASSERT_TRUE(instance) << error;
  ASSERT_TRUE(instance->has_member_publish());
  ASSERT_TRUE(instance->has_members_list());
  ASSERT_TRUE(instance->has_transfer());
  sdk::host::Instance::Member self;
  self.identity = "me";
  self.address = "10.0.0.1:8080";
  self.version = "0.1.0";
  self.backend = "members-test 1.0.0";
  self.eligible = true;
  EXPECT_NE(instance->member_publish(self).error.find("not running"), std::string::npos);
  ASSERT_TRUE(instance->start(&error)) << error;

  ASSERT_EQ(instance->member_publish(self).status, PGDC_OK);
  auto listed = instance->members_list(0);
  ASSERT_EQ(listed.status, PGDC_OK) << listed.error;
  ASSERT_EQ(listed.members.size(), 2u);
  EXPECT_EQ(listed.members[0].identity, "me");
  EXPECT_EQ(listed.members[0].address, "10.0.0.1:8080");
  EXPECT_EQ(listed.members[0].version, "0.1.0");
  EXPECT_EQ(listed.members[0].backend, "members-test 1.0.0");
  EXPECT_TRUE(listed.members[0].eligible);
  EXPECT_FALSE(listed.members[0].stale);
  EXPECT_EQ(listed.members[1].identity, "peer");
  EXPECT_FALSE(listed.members[1].eligible);
  EXPECT_TRUE(listed.members[1].stale);
  EXPECT_EQ(listed.members[1].heartbeat_age_ms, 42000);

  sdk::host::Instance::Member nameless;
  auto refused = instance->member_publish(nameless);
  EXPECT_EQ(refused.status, PGDC_ERR_CONFIG);
  EXPECT_NE(refused.error.find("without an identity"), std::string::npos) << refused.error;
  auto timed_out = instance->members_list(-1);
  EXPECT_EQ(timed_out.status, PGDC_ERR_UNAVAILABLE);
  EXPECT_TRUE(timed_out.members.empty());
  EXPECT_NE(timed_out.error.find("timed out"), std::string::npos) << timed_out.error;

  EXPECT_EQ(instance->transfer("peer", 0).status, PGDC_OK);
  auto conflict = instance->transfer("stranger", 0);
  EXPECT_EQ(conflict.status, PGDC_ERR_CONFLICT);
  EXPECT_NE(conflict.error.find("conflict: unknown target stranger"), std::string::npos)
      << conflict.error;
  EXPECT_EQ(instance->transfer("", 0).status, PGDC_ERR_CONFLICT) << "no target";
  EXPECT_EQ(instance->transfer("peer", -1).status, PGDC_ERR_UNAVAILABLE);
  EXPECT_TRUE(instance->stop(false, 0, &error));
  EXPECT_NE(instance->transfer("peer", 0).error.find("not running"), std::string::npos);
}

TEST(MembersAbi, EachEntryIsOptionalOnItsOwnAndA13PluginOffersNone) {
  using Plain = sdk::detail::Trampolines<ListOnlyBackend>;
  EXPECT_NE(Plain::vtable.members_list, nullptr);
  EXPECT_EQ(Plain::vtable.transfer, nullptr);
  const auto d = descriptor_of<ListOnlyBackend>(&Plain::vtable);
  NiceMock<sdk::testing::MockHost> host;
  std::string error;
  auto instance = sdk::host::Instance::create(&d, host.c_host(), "{}", &error);
  ASSERT_TRUE(instance) << error;
  EXPECT_TRUE(instance->has_members_list());
  EXPECT_FALSE(instance->has_transfer());
  ASSERT_TRUE(instance->start(&error));
  EXPECT_NE(instance->transfer("x", 0).error.find("does not offer"), std::string::npos);

  // A 1.3 plugin's table ends at state_write: what follows in memory is
  // never read as a function.
  pgdc_vtable old = sdk::detail::Trampolines<MembersBackend>::vtable;
  old.size = offsetof(pgdc_vtable, member_publish);
  const auto d13 = descriptor_of<MembersBackend>(&old);
  auto instance13 = sdk::host::Instance::create(&d13, host.c_host(), "{}", &error);
  ASSERT_TRUE(instance13) << error;
  EXPECT_FALSE(instance13->has_member_publish());
  EXPECT_FALSE(instance13->has_members_list());
  EXPECT_FALSE(instance13->has_transfer());
}

}  // namespace
}  // namespace pgdc
