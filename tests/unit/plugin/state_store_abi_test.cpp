// The ABI 1.3 state store across the C boundary: the SDK's StateStore mixin
// fills the two optional entries, the host's Instance finds and calls them,
// and statuses, versions and exceptions cross as plugin.h says. A plugin
// without the mixin (or built for ABI 1.2) has no store.
#include <pgdog_control/host.hpp>
#include <pgdog_control/plugin.hpp>
#include <pgdog_control/testing/mock_host.hpp>

#include <map>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace pgdc {
namespace {

using ::testing::NiceMock;

// A store in memory with a real compare-and-swap.
class StoringBackend final : public sdk::Backend, public sdk::StateStore {
 public:
  StoringBackend(sdk::Host, std::string_view) {}
  void start() override {}
  bool stop(bool, std::int64_t) override { return true; }

  std::optional<sdk::StateObject> state_read(std::string_view key, std::int64_t) override {
    if (key == "broken") throw sdk::UnavailableError("store unreachable");
    auto it = objects_.find(std::string(key));
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::string> state_write(std::string_view key, std::string_view value,
                                         std::string_view expected, std::int64_t) override {
    auto& o = objects_[std::string(key)];
    if (o.version != expected) return std::nullopt;
    o.value = std::string(value);
    o.version = "v" + std::to_string(++writes_);
    return o.version;
  }

 private:
  std::map<std::string, sdk::StateObject> objects_;
  int writes_ = 0;
};

class PlainBackend final : public sdk::Backend {
 public:
  PlainBackend(sdk::Host, std::string_view) {}
  void start() override {}
  bool stop(bool, std::int64_t) override { return true; }
};

template <typename T>
pgdc_plugin_descriptor descriptor_of(const pgdc_vtable* vtable) {
  return pgdc_plugin_descriptor{PGDC_PLUGIN_MAGIC, sizeof(pgdc_plugin_descriptor),
                                PGDC_ABI_MAJOR,    PGDC_ABI_MINOR,
                                "state-test",      "1.0.0",
                                "state store ABI", vtable};
}

TEST(StateStoreAbi, TheMixinFillsTheEntriesAndTheHostCallsThem) {
  const auto d = descriptor_of<StoringBackend>(&sdk::detail::Trampolines<StoringBackend>::vtable);
  NiceMock<sdk::testing::MockHost> host;
  std::string error;
  auto instance = sdk::host::Instance::create(&d, host.c_host(), "{}", &error);
  ASSERT_TRUE(instance) << error;
  ASSERT_TRUE(instance->has_state_store());
  EXPECT_EQ(instance->state_read("k", 0).status, PGDC_ERR_INTERNAL) << "before start()";
  ASSERT_TRUE(instance->start(&error)) << error;

  auto absent = instance->state_read("fleet-1-nodes", 0);
  EXPECT_EQ(absent.status, PGDC_OK);
  EXPECT_FALSE(absent.found);
  auto created = instance->state_write("fleet-1-nodes", "{\"a\":1}", "", 0);
  ASSERT_EQ(created.status, PGDC_OK) << created.error;
  EXPECT_EQ(created.version, "v1");
  auto again = instance->state_write("fleet-1-nodes", "{}", "", 0);
  EXPECT_EQ(again.status, PGDC_ERR_CONFLICT) << "create-if-absent over an object";
  EXPECT_NE(again.error.find("conflict"), std::string::npos);
  auto read = instance->state_read("fleet-1-nodes", 0);
  EXPECT_TRUE(read.found);
  EXPECT_EQ(read.value, "{\"a\":1}");
  EXPECT_EQ(read.version, "v1");
  EXPECT_EQ(instance->state_write("fleet-1-nodes", "{}", "v0", 0).status, PGDC_ERR_CONFLICT)
      << "a stale version";
  EXPECT_EQ(instance->state_write("fleet-1-nodes", "{}", "v1", 0).status, PGDC_OK);

  auto broken = instance->state_read("broken", 0);
  EXPECT_EQ(broken.status, PGDC_ERR_UNAVAILABLE);
  EXPECT_NE(broken.error.find("store unreachable"), std::string::npos) << broken.error;
  EXPECT_EQ(instance->state_write("Bad_Key", "{}", "", 0).status, PGDC_ERR_CONFIG);
  const std::string big(PGDC_STATE_MAX_VALUE + 1, 'x');
  EXPECT_EQ(instance->state_write("fleet-1-nodes", big, "v2", 0).status, PGDC_ERR_CONFIG);
  EXPECT_TRUE(instance->stop(false, 0, &error));
  EXPECT_EQ(instance->state_read("fleet-1-nodes", 0).status, PGDC_ERR_INTERNAL) << "after stop()";
}

TEST(StateStoreAbi, APluginWithoutTheMixinOrOlderThanTheEntriesHasNoStore) {
  EXPECT_EQ(sdk::detail::Trampolines<PlainBackend>::vtable.state_read, nullptr);
  EXPECT_EQ(sdk::detail::Trampolines<PlainBackend>::vtable.state_write, nullptr);
  const auto plain = descriptor_of<PlainBackend>(&sdk::detail::Trampolines<PlainBackend>::vtable);
  NiceMock<sdk::testing::MockHost> host;
  std::string error;
  auto instance = sdk::host::Instance::create(&plain, host.c_host(), "{}", &error);
  ASSERT_TRUE(instance) << error;
  EXPECT_FALSE(instance->has_state_store());
  ASSERT_TRUE(instance->start(&error));
  EXPECT_NE(instance->state_read("k", 0).error.find("no state store"), std::string::npos);

  // A 1.2 plugin's table ends before the entries: whatever follows it in
  // memory is never read as a function.
  pgdc_vtable old = sdk::detail::Trampolines<StoringBackend>::vtable;
  old.size = offsetof(pgdc_vtable, state_read);
  const auto d12 = descriptor_of<StoringBackend>(&old);
  auto instance12 = sdk::host::Instance::create(&d12, host.c_host(), "{}", &error);
  ASSERT_TRUE(instance12) << error;
  EXPECT_FALSE(instance12->has_state_store());
}

}  // namespace
}  // namespace pgdc
