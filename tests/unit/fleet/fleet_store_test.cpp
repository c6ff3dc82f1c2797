#include "fleet/fleet_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

namespace pgdc::fleet {
namespace {

using namespace std::chrono_literals;

// A clock the test moves by hand.
struct FakeClock {
  FleetSteadyTime steady{std::chrono::hours(1)};
  std::int64_t wall = 1'700'000'000'000;
  void advance(std::chrono::milliseconds d) {
    steady += d;
    wall += d.count();
  }
  FleetClock clock() {
    return FleetClock{[this] { return steady; }, [this] { return wall; }};
  }
};

class FleetStoreTest : public ::testing::Test {
 protected:
  void make(FleetOptions o = {}) {
    store_ = std::make_unique<FleetStore>(std::vector<std::string>{"prod", "staging"}, o,
                                          clock_.clock());
  }
  void SetUp() override { make(); }

  MetricSample sample(std::uint32_t clients) {
    MetricSample s;
    s.clients = clients;
    s.qps = 0.1;
    return s;
  }
  NodeDetail node(const std::string& id) {
    NodeDetail out;
    EXPECT_EQ(store_->node("prod", id, out), FleetStatus::kOk);
    return out;
  }
  std::vector<NodeSnapshot> nodes() {
    std::vector<NodeSnapshot> out;
    EXPECT_EQ(store_->nodes("prod", out), FleetStatus::kOk);
    return out;
  }
  std::vector<MetricPoint> series(std::int64_t since_ms) {
    std::vector<MetricPoint> out;
    EXPECT_EQ(store_->series("prod", "a", since_ms, out), FleetStatus::kOk);
    return out;
  }
  std::vector<CommandSnapshot> commands(const std::string& epoch, std::size_t limit = 10) {
    std::vector<CommandSnapshot> out;
    EXPECT_EQ(store_->commands("prod", epoch, limit, out), FleetStatus::kOk);
    return out;
  }
  IssueOutcome issue(const std::string& name, const std::string& target,
                     const std::string& epoch = "e/1", const std::string& deployment = "prod") {
    return store_->issue(deployment, name, target, "{}", epoch);
  }
  std::vector<PolledCommand> poll(const std::string& node, std::uint64_t after,
                                  const std::string& epoch = "e/1") {
    std::vector<PolledCommand> out;
    EXPECT_EQ(store_->poll("prod", node, after, epoch, out), FleetStatus::kOk);
    return out;
  }

  FakeClock clock_;
  std::unique_ptr<FleetStore> store_;
};

TEST_F(FleetStoreTest, RegisterIsIdempotentAndUpdatesVersionAndHost) {
  EXPECT_EQ(store_->register_node("prod", {"a", "1.0", "h1"}), FleetStatus::kCreated);
  clock_.advance(1s);
  EXPECT_EQ(store_->register_node("prod", {"a", "1.1", "h2"}), FleetStatus::kOk);
  const NodeSnapshot a = node("a").node;
  EXPECT_EQ(a.info.version, "1.1");
  EXPECT_EQ(a.info.host, "h2");
  EXPECT_EQ(a.registered_at_ms, 1'700'000'000'000);
  EXPECT_EQ(a.last_seen_ms, 1'700'000'001'000);
  EXPECT_EQ(store_->register_node("nope", {"a", "1", "h"}), FleetStatus::kUnknownDeployment);
  // Deployments are separate namespaces.
  EXPECT_EQ(store_->register_node("staging", {"a", "1", "h"}), FleetStatus::kCreated);
}

TEST_F(FleetStoreTest, NodeCapPerDeployment) {
  FleetOptions o;
  o.max_nodes_per_deployment = 2;
  make(o);
  EXPECT_EQ(store_->register_node("prod", {"a", "", ""}), FleetStatus::kCreated);
  EXPECT_EQ(store_->register_node("prod", {"b", "", ""}), FleetStatus::kCreated);
  EXPECT_EQ(store_->register_node("prod", {"c", "", ""}), FleetStatus::kTooManyNodes);
  EXPECT_EQ(store_->register_node("prod", {"a", "", ""}), FleetStatus::kOk);  // known: fine
  EXPECT_EQ(store_->register_node("staging", {"c", "", ""}), FleetStatus::kCreated);
}

TEST_F(FleetStoreTest, TelemetryNeedsRegistration) {
  EXPECT_EQ(store_->record_metrics("prod", "ghost", sample(1)), FleetStatus::kUnknownNode);
  EXPECT_EQ(store_->record_upload("prod", "ghost", UploadKind::kErrors, "[]", 0),
            FleetStatus::kUnknownNode);
}

TEST_F(FleetStoreTest, MetricRingIsBoundedAndOldestFirst) {
  FleetOptions o;
  o.retention = 10s;  // capacity 10 + 1 + 1 = 12 points
  make(o);
  store_->register_node("prod", {"a", "", ""});
  for (std::uint32_t i = 0; i < 100; ++i) {
    store_->record_metrics("prod", "a", sample(i));
    clock_.advance(100ms);  // faster than 1/s: the ring, not the time, bounds it
  }
  const auto points = series(0);
  ASSERT_EQ(points.size(), 12u);
  EXPECT_EQ(points.front().clients, 88u);
  EXPECT_EQ(points.back().clients, 99u);
  EXPECT_FLOAT_EQ(points.back().qps, 0.1f);
  // since_ms filters.
  EXPECT_EQ(series(points.back().ts_ms).size(), 1u);
  ASSERT_TRUE(nodes()[0].latest.has_value());
  EXPECT_EQ(nodes()[0].latest->clients, 99u);
}

TEST_F(FleetStoreTest, SeriesDropsPointsOlderThanRetention) {
  FleetOptions o;
  o.retention = 10s;
  make(o);
  store_->register_node("prod", {"a", "", ""});
  store_->record_metrics("prod", "a", sample(1));
  clock_.advance(11s);
  store_->record_metrics("prod", "a", sample(2));
  const auto points = series(0);
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].clients, 2u);
}

TEST_F(FleetStoreTest, UploadsKeepTheLatestOnly) {
  store_->register_node("prod", {"a", "", ""});
  store_->record_upload("prod", "a", UploadKind::kQueryStats, R"([{"query":"old"}])", 1);
  store_->record_upload("prod", "a", UploadKind::kQueryStats, R"([{"query":"new"}])", 1);
  store_->record_upload("prod", "a", UploadKind::kErrors, R"([{"message":"boom"}])", 1);
  const NodeDetail a = node("a");
  const auto at = [](UploadKind k) { return static_cast<std::size_t>(k); };
  EXPECT_EQ(a.uploads[at(UploadKind::kQueryStats)], R"([{"query":"new"}])");
  EXPECT_EQ(a.uploads[at(UploadKind::kErrors)], R"([{"message":"boom"}])");
  EXPECT_EQ(a.uploads[at(UploadKind::kActiveQueries)], "");
  EXPECT_EQ(a.upload_ms[at(UploadKind::kActiveQueries)], 0);
  EXPECT_EQ(a.upload_ms[at(UploadKind::kErrors)], 1'700'000'000'000);
}

TEST_F(FleetStoreTest, LivenessStaleThenEvictedWithInjectedClock) {
  store_->register_node("prod", {"a", "", ""});
  store_->register_node("prod", {"b", "", ""});
  auto counts = [&] { return store_->sweep()[0]; };  // "prod" sorts first
  EXPECT_EQ(counts().live, 2u);
  clock_.advance(4s);
  store_->record_metrics("prod", "b", sample(1));
  clock_.advance(2s);  // a: 6 s silent, b: 2 s
  DeploymentCounts c = counts();
  EXPECT_EQ(c.live, 1u);
  EXPECT_EQ(c.stale, 1u);
  EXPECT_FALSE(nodes()[0].live);
  EXPECT_TRUE(nodes()[1].live);
  clock_.advance(54s);  // a: 60 s silent
  std::size_t evicted = 0;
  c = store_->sweep(&evicted)[0];
  EXPECT_EQ(evicted, 1u);
  EXPECT_EQ(c.total, 1u);
  EXPECT_EQ(store_->record_metrics("prod", "a", sample(1)), FleetStatus::kUnknownNode);
  // It may come back by registering again.
  EXPECT_EQ(store_->register_node("prod", {"a", "", ""}), FleetStatus::kCreated);
}

TEST_F(FleetStoreTest, CommandsGetConsecutiveSeqsAndTheIssuingEpoch) {
  store_->register_node("prod", {"a", "", ""});
  store_->register_node("prod", {"b", "", ""});
  auto one = issue("reload_schema", "*");
  ASSERT_EQ(one.status, FleetStatus::kOk);
  EXPECT_EQ(one.command.command.seq, 1u);
  EXPECT_EQ(one.command.command.epoch, "e/1");
  EXPECT_EQ(one.command.state, CommandState::kPending);
  EXPECT_EQ(one.targets, (std::vector<std::string>{"a", "b"}));
  auto two = store_->issue("prod", "maintenance_on", "b", R"({"reason":"x"})", "e/1");
  EXPECT_EQ(two.command.command.seq, 2u);
  EXPECT_EQ(two.command.command.args_json, R"({"reason":"x"})");
  EXPECT_EQ(two.targets, std::vector<std::string>{"b"});
  EXPECT_EQ(issue("x", "ghost").status, FleetStatus::kUnknownNode);
  // Sequences are per deployment.
  store_->register_node("staging", {"a", "", ""});
  EXPECT_EQ(issue("x", "*", "e/1", "staging").command.command.seq, 1u);
}

TEST_F(FleetStoreTest, PollDeliversAfterSeqAndRedeliversUntilAcked) {
  store_->register_node("prod", {"a", "", ""});
  issue("reload_schema", "a");
  issue("maintenance_on", "a");
  auto first = poll("a", 0);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].seq, 1u);
  EXPECT_EQ(first[1].seq, 2u);
  EXPECT_EQ(first[1].args_json, "{}");
  EXPECT_EQ(poll("a", 1).size(), 1u);
  EXPECT_EQ(poll("a", 2).size(), 0u);
  // Not acknowledged: a restarted node (after_seq 0) gets both again.
  EXPECT_EQ(poll("a", 0).size(), 2u);
  auto ack = store_->ack("prod", first[0].id, "a", true, "");
  ASSERT_EQ(ack.status, FleetStatus::kOk);
  auto again = poll("a", 0);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].seq, 2u);
  const auto list = commands("e/1");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].command.seq, 2u);  // newest first
  EXPECT_EQ(list[0].state, CommandState::kDelivered);
  EXPECT_EQ(list[0].command.nodes[0].deliveries, 4u);
  EXPECT_EQ(list[1].state, CommandState::kAcknowledged);
}

TEST_F(FleetStoreTest, AckIsIdempotentAndFirstResultSticks) {
  store_->register_node("prod", {"a", "", ""});
  auto issued = issue("reload_schema", "a");
  const std::string id = issued.command.command.id;
  poll("a", 0);
  auto first = store_->ack("prod", id, "a", false, "disk full");
  ASSERT_EQ(first.status, FleetStatus::kOk);
  EXPECT_TRUE(first.first);
  EXPECT_EQ(first.command_id, id);
  EXPECT_EQ(first.delivery.state, DeliveryState::kFailed);
  EXPECT_EQ(first.delivery.result_status, "error");
  EXPECT_EQ(first.delivery.result_message, "disk full");
  const auto acked_at = first.delivery.acked_at_ms;
  clock_.advance(1s);
  auto second = store_->ack("prod", id, "a", true, "ok now");
  ASSERT_EQ(second.status, FleetStatus::kOk);
  EXPECT_FALSE(second.first);
  EXPECT_EQ(second.delivery.state, DeliveryState::kFailed);
  EXPECT_EQ(second.delivery.result_message, "disk full");
  EXPECT_EQ(second.delivery.acked_at_ms, acked_at);
  EXPECT_EQ(store_->ack("prod", "999-" + id.substr(id.find('-') + 1), "a", true, "").status,
            FleetStatus::kUnknownCommand);
  EXPECT_EQ(store_->ack("prod", "1-ffffffff", "a", true, "").status,
            id.substr(2) == "ffffffff" ? FleetStatus::kOk : FleetStatus::kUnknownCommand);
  EXPECT_EQ(store_->ack("prod", "garbage", "a", true, "").status, FleetStatus::kUnknownCommand);
  EXPECT_EQ(store_->ack("prod", "", "a", true, "").status, FleetStatus::kUnknownCommand);
  store_->register_node("prod", {"b", "", ""});
  EXPECT_EQ(store_->ack("prod", id, "b", true, "").status, FleetStatus::kNotTarget);
  // Another deployment does not know the id.
  EXPECT_EQ(store_->ack("staging", id, "a", true, "").status, FleetStatus::kUnknownCommand);
}

TEST_F(FleetStoreTest, EpochFencingAnEarlierTermsCommandIsNeverDelivered) {
  store_->register_node("prod", {"a", "", ""});
  issue("reload_schema", "a");
  EXPECT_EQ(poll("a", 0, "e/1").size(), 1u);
  // A new term: the old command is not re-delivered, and shows as expired.
  EXPECT_EQ(poll("a", 0, "e/2").size(), 0u);
  EXPECT_EQ(commands("e/2")[0].state, CommandState::kExpired);
  // A command of the new term is.
  issue("reload_configuration", "a", "e/2");
  auto got = poll("a", 0, "e/2");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].epoch, "e/2");
  EXPECT_EQ(got[0].seq, 2u);
}

TEST_F(FleetStoreTest, EvictionFailsOpenDeliveries) {
  store_->register_node("prod", {"a", "", ""});
  store_->register_node("prod", {"b", "", ""});
  auto issued = issue("reload_schema", "*");
  store_->ack("prod", issued.command.command.id, "b", true, "");
  clock_.advance(30s);
  store_->record_metrics("prod", "b", sample(1));
  clock_.advance(30s);
  store_->sweep();
  const auto c = commands("e/1")[0];
  EXPECT_EQ(c.state, CommandState::kFailed);
  EXPECT_EQ(c.command.nodes[0].state, DeliveryState::kFailed);
  EXPECT_EQ(c.command.nodes[0].result_message, "node evicted before acknowledging");
  EXPECT_EQ(c.command.nodes[1].state, DeliveryState::kAcknowledged);
}

TEST_F(FleetStoreTest, HistoryIsBoundedAndTrimmedCommandsStopBeingDelivered) {
  FleetOptions o;
  o.command_history = 3;
  make(o);
  store_->register_node("prod", {"a", "", ""});
  for (int i = 0; i < 5; ++i) issue("reload_schema", "a");
  const auto list = commands("e/1", 100);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[2].command.seq, 3u);
  auto got = poll("a", 0);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].seq, 3u);
  EXPECT_EQ(commands("e/1", 2).size(), 2u);  // limit
}

TEST_F(FleetStoreTest, TrimmingAnOpenCommandIsRecordedNeverSilent) {
  FleetOptions o;
  o.command_history = 2;
  make(o);
  store_->register_node("prod", {"a", "", ""});
  store_->register_node("prod", {"b", "", ""});
  const auto first = issue("reload_schema", "*");          // a acks, b never does
  const auto second = issue("reload_configuration", "a");  // acked: trimmed silently
  store_->ack("prod", first.command.command.id, "a", true, "");
  store_->ack("prod", second.command.command.id, "a", true, "");
  TrimmedView view;
  ASSERT_EQ(store_->trimmed("prod", view), FleetStatus::kOk);
  EXPECT_EQ(view.total, 0u);
  clock_.advance(1s);
  issue("reload_schema", "a");  // pushes out the first (b still open)
  issue("reload_schema", "a");  // pushes out the second (all final): no record
  ASSERT_EQ(store_->trimmed("prod", view), FleetStatus::kOk);
  EXPECT_EQ(view.total, 1u);
  ASSERT_EQ(view.recent.size(), 1u);
  const TrimmedCommand& t = view.recent[0];
  EXPECT_EQ(t.id, first.command.command.id);
  EXPECT_EQ(t.seq, 1u);
  EXPECT_EQ(t.name, "reload_schema");
  EXPECT_EQ(t.open_nodes, 1u);
  EXPECT_EQ(t.trimmed_at_ms, clock_.wall);
  // Bounded: the last 50 records, the total counts all.
  for (int i = 0; i < 60; ++i) issue("reload_schema", "b");  // b never acks
  ASSERT_EQ(store_->trimmed("prod", view), FleetStatus::kOk);
  EXPECT_EQ(view.total, 61u);  // seqs 3 and 4 (a never acked them), then 5..62
  EXPECT_EQ(view.recent.size(), 50u);
  EXPECT_GT(view.recent.front().seq, view.recent.back().seq) << "newest first";
  TrimmedView other;
  ASSERT_EQ(store_->trimmed("staging", other), FleetStatus::kOk);
  EXPECT_EQ(other.total, 0u);
}

TEST_F(FleetStoreTest, WildcardWithNoNodesReadsNoTargetsNeverAcknowledged) {
  auto issued = issue("reload_schema", "*");
  ASSERT_EQ(issued.status, FleetStatus::kOk);
  EXPECT_TRUE(issued.targets.empty());
  EXPECT_EQ(issued.command.state, CommandState::kNoTargets);
  EXPECT_EQ(command_state_name(issued.command.state), "no_targets");
  CommandSnapshot later;
  ASSERT_EQ(store_->command("prod", issued.command.command.seq, "e/2", later), FleetStatus::kOk);
  EXPECT_EQ(later.state, CommandState::kNoTargets) << "not expired either: nothing was open";
}

TEST_F(FleetStoreTest, DeploymentsView) {
  store_->register_node("prod", {"a", "", ""});
  store_->register_node("prod", {"b", "", ""});
  clock_.advance(6s);
  store_->record_metrics("prod", "b", sample(1));
  const auto d = store_->deployments();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].name, "prod");
  EXPECT_EQ(d[0].total, 2u);
  EXPECT_EQ(d[0].live, 1u);
  EXPECT_EQ(d[0].stale, 1u);
  EXPECT_EQ(d[1].name, "staging");
  EXPECT_EQ(d[1].total, 0u);
  std::vector<NodeSnapshot> nodes_out;
  EXPECT_EQ(store_->nodes("nope", nodes_out), FleetStatus::kUnknownDeployment);
  NodeDetail detail;
  EXPECT_EQ(store_->node("prod", "ghost", detail), FleetStatus::kUnknownNode);
  std::vector<MetricPoint> points;
  EXPECT_EQ(store_->series("prod", "ghost", 0, points), FleetStatus::kUnknownNode);
  CommandSnapshot command;
  EXPECT_EQ(store_->command("prod", 1, "e/1", command), FleetStatus::kUnknownCommand);
}

}  // namespace
}  // namespace pgdc::fleet
