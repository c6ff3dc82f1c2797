// The fleet store's memory budget: per deployment and for all of them, a
// refused store changes nothing, and what is dropped is released exactly
// (no drift over a long run).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "fleet/fleet_store.h"

namespace pgdc::fleet {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kMiB = 1024 * 1024;

struct Clock {
  FleetSteadyTime steady{std::chrono::hours(1)};
  std::int64_t wall = 1'700'000'000'000;
  FleetClock clock() {
    return FleetClock{[this] { return steady; }, [this] { return wall; }};
  }
};

// A compact JSON array of about `bytes` bytes.
std::string upload(std::size_t bytes) { return "[\"" + std::string(bytes - 4, 'x') + "\"]"; }

class FleetBudgetTest : public ::testing::Test {
 protected:
  void make(std::size_t all, std::size_t per_deployment, std::size_t history = 200) {
    FleetOptions o;
    o.max_bytes = all;
    o.max_bytes_per_deployment = per_deployment;
    o.command_history = history;
    store_ = std::make_unique<FleetStore>(std::vector<std::string>{"prod", "staging"}, o,
                                          clock_.clock());
  }
  FleetStatus put(const std::string& dep, const std::string& node, UploadKind kind,
                  std::size_t bytes) {
    return store_->record_upload(dep, node, kind, upload(bytes), 1);
  }

  Clock clock_;
  std::unique_ptr<FleetStore> store_;
};

TEST_F(FleetBudgetTest, AnUploadOverTheDeploymentBudgetIsRefusedAndKeepsTheOldOne) {
  make(4 * kMiB, 1 * kMiB);
  ASSERT_EQ(store_->register_node("prod", {"a", "1", "h"}), FleetStatus::kCreated);
  const std::size_t node_only = store_->memory_bytes("prod");
  EXPECT_GT(node_only, 300 * sizeof(MetricPoint)) << "a node is charged its full metric ring";
  ASSERT_EQ(put("prod", "a", UploadKind::kQueryStats, 600 * 1024), FleetStatus::kOk);
  EXPECT_EQ(store_->memory_bytes("prod"), node_only + 600 * 1024);
  EXPECT_EQ(put("prod", "a", UploadKind::kErrors, 600 * 1024), FleetStatus::kOverDeploymentBudget);
  EXPECT_EQ(store_->memory_bytes("prod"), node_only + 600 * 1024) << "nothing charged";
  NodeDetail d;
  ASSERT_EQ(store_->node("prod", "a", d), FleetStatus::kOk);
  EXPECT_TRUE(d.uploads[static_cast<std::size_t>(UploadKind::kErrors)].empty());
  EXPECT_EQ(d.uploads[static_cast<std::size_t>(UploadKind::kQueryStats)].size(), 600u * 1024);
  // A smaller replacement frees the difference, and then the other fits.
  ASSERT_EQ(put("prod", "a", UploadKind::kQueryStats, 100 * 1024), FleetStatus::kOk);
  EXPECT_EQ(store_->memory_bytes("prod"), node_only + 100 * 1024);
  EXPECT_EQ(put("prod", "a", UploadKind::kErrors, 600 * 1024), FleetStatus::kOk);
  // The other deployment has its own budget.
  ASSERT_EQ(store_->register_node("staging", {"s", "1", "h"}), FleetStatus::kCreated);
  EXPECT_EQ(put("staging", "s", UploadKind::kErrors, 600 * 1024), FleetStatus::kOk);
  EXPECT_EQ(store_->memory_bytes(), store_->memory_bytes("prod") + store_->memory_bytes("staging"));
}

TEST_F(FleetBudgetTest, TheGlobalBudgetHoldsAcrossDeployments) {
  make(3 * kMiB / 2, 1 * kMiB);
  ASSERT_EQ(store_->register_node("prod", {"a", "1", "h"}), FleetStatus::kCreated);
  ASSERT_EQ(store_->register_node("staging", {"b", "1", "h"}), FleetStatus::kCreated);
  ASSERT_EQ(put("prod", "a", UploadKind::kQueryStats, 900 * 1024), FleetStatus::kOk);
  EXPECT_EQ(put("staging", "b", UploadKind::kQueryStats, 900 * 1024),
            FleetStatus::kOverGlobalBudget);
  EXPECT_LE(store_->memory_bytes(), 3 * kMiB / 2);
}

TEST_F(FleetBudgetTest, RegistrationsAndCommandsOverBudgetAreRefused) {
  make(1 * kMiB, 1 * kMiB);
  std::size_t registered = 0;
  FleetStatus last = FleetStatus::kOk;
  for (int i = 0; i < 10000; ++i) {
    last = store_->register_node("prod", {"node-" + std::to_string(i), "1", "h"});
    if (last != FleetStatus::kCreated) break;
    ++registered;
  }
  EXPECT_EQ(last, FleetStatus::kOverDeploymentBudget);
  EXPECT_GT(registered, 10u);
  EXPECT_LT(registered, 1000u) << "1 MiB holds only so many metric rings";
  EXPECT_LE(store_->memory_bytes("prod"), 1 * kMiB);
  // A command bigger than what is left: refused without a seq, so the next
  // one still gets 1.
  const std::size_t free_bytes = 1 * kMiB - store_->memory_bytes("prod");
  const std::string args = "{\"pad\":\"" + std::string(free_bytes, 'x') + "\"}";
  IssueOutcome refused = store_->issue("prod", "reload_configuration", "*", args, "e/1");
  EXPECT_EQ(refused.status, FleetStatus::kOverDeploymentBudget);
  EXPECT_TRUE(refused.targets.empty());
  std::vector<CommandSnapshot> none;
  ASSERT_EQ(store_->commands("prod", "e/1", 10, none), FleetStatus::kOk);
  EXPECT_TRUE(none.empty());
  // Evicting frees it all again.
  clock_.steady += 61s;
  store_->sweep();
  EXPECT_EQ(store_->memory_bytes("prod"), 0u);
  EXPECT_EQ(store_->memory_bytes(), 0u);
  IssueOutcome ok = store_->issue("prod", "reload_configuration", "*", "{}", "e/1");
  EXPECT_EQ(ok.status, FleetStatus::kOk);
  EXPECT_EQ(ok.command.command.seq, 1u);
}

TEST_F(FleetBudgetTest, WhatIsDroppedIsReleasedExactly) {
  make(64 * kMiB, 32 * kMiB, /*history=*/2);
  for (const char* id : {"a", "b", "c"}) store_->register_node("prod", {id, "1.0", "host"});
  std::vector<std::size_t> after;
  for (int i = 0; i < 100; ++i) {
    IssueOutcome out = store_->issue("prod", "reload_configuration", "*", "{}", "e/1");
    ASSERT_EQ(out.status, FleetStatus::kOk);
    // Ids of the same length for seq 10..99; acks with messages.
    for (const char* id : {"a", "b"}) {
      store_->ack("prod", out.command.command.id, id, true, "reloaded in 3 ms");
    }
    put("prod", "a", UploadKind::kErrors, 1000 + static_cast<std::size_t>(i % 3) * 10);
    put("prod", "a", UploadKind::kErrors, 2000);
    store_->register_node("prod", {"c", i % 2 ? "1.0.1" : "1.0", "host"});
    store_->register_node("prod", {"c", "1.0", "host"});
    after.push_back(store_->memory_bytes("prod"));
  }
  // From seq 53 on, the 50 records of trimmed open commands (c never acks)
  // are full too, so the charge is flat.
  EXPECT_EQ(after[60], after[98]) << "no drift: trimmed commands release what they charged";
  // Evicting every node leaves only the two commands in the history.
  clock_.steady += 61s;
  store_->sweep();
  const std::size_t commands_only = store_->memory_bytes("prod");
  EXPECT_GT(commands_only, 0u);
  // Two more commands (no nodes now, so no deliveries) push the old ones out.
  store_->issue("prod", "reload_configuration", "*", "{}", "e/1");
  store_->issue("prod", "reload_configuration", "*", "{}", "e/1");
  const std::size_t two_bare = store_->memory_bytes("prod");
  EXPECT_LT(two_bare, commands_only);
  store_->issue("prod", "reload_configuration", "*", "{}", "e/1");
  EXPECT_EQ(store_->memory_bytes("prod"), two_bare);
  EXPECT_EQ(store_->memory_bytes(), two_bare);
}

TEST_F(FleetBudgetTest, TheSweepReportsUsage) {
  make(64 * kMiB, 32 * kMiB);
  store_->register_node("staging", {"s", "1", "h"});
  const auto counts = store_->sweep();
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0].name, "prod");
  EXPECT_EQ(counts[0].memory_bytes, 0u);
  EXPECT_EQ(counts[1].memory_bytes, store_->memory_bytes("staging"));
  EXPECT_GT(counts[1].memory_bytes, 0u);
}

}  // namespace
}  // namespace pgdc::fleet
