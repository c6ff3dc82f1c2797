#include "fleet/fleet_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

namespace pgdc::fleet {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

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
  Json node;
  ASSERT_EQ(store_->node_json("prod", "a", node), FleetStatus::kOk);
  EXPECT_EQ(node["version"], "1.1");
  EXPECT_EQ(node["host"], "h2");
  EXPECT_EQ(node["registered_at_ms"], 1'700'000'000'000);
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
  Json series;
  ASSERT_EQ(store_->series_json("prod", "a", 0, series), FleetStatus::kOk);
  const auto& points = series["points"];
  ASSERT_EQ(points.size(), 12u);
  EXPECT_EQ(points.front()["clients"], 88);
  EXPECT_EQ(points.back()["clients"], 99);
  EXPECT_DOUBLE_EQ(points.back()["qps"].get<double>(), 0.1);  // no float noise
  // since_ms filters.
  const std::int64_t last_ts = points.back()["ts_ms"];
  ASSERT_EQ(store_->series_json("prod", "a", last_ts, series), FleetStatus::kOk);
  EXPECT_EQ(series["points"].size(), 1u);
  Json nodes;
  store_->nodes_json("prod", nodes);
  EXPECT_EQ(nodes["nodes"][0]["latest"]["clients"], 99);
}

TEST_F(FleetStoreTest, SeriesDropsPointsOlderThanRetention) {
  FleetOptions o;
  o.retention = 10s;
  make(o);
  store_->register_node("prod", {"a", "", ""});
  store_->record_metrics("prod", "a", sample(1));
  clock_.advance(11s);
  store_->record_metrics("prod", "a", sample(2));
  Json series;
  store_->series_json("prod", "a", 0, series);
  ASSERT_EQ(series["points"].size(), 1u);
  EXPECT_EQ(series["points"][0]["clients"], 2);
}

TEST_F(FleetStoreTest, UploadsKeepTheLatestOnly) {
  store_->register_node("prod", {"a", "", ""});
  store_->record_upload("prod", "a", UploadKind::kQueryStats, R"([{"query":"old"}])", 1);
  store_->record_upload("prod", "a", UploadKind::kQueryStats, R"([{"query":"new"}])", 1);
  store_->record_upload("prod", "a", UploadKind::kErrors, R"([{"message":"boom"}])", 1);
  Json node;
  store_->node_json("prod", "a", node);
  EXPECT_EQ(node["query_stats"], Json::parse(R"([{"query":"new"}])"));
  EXPECT_EQ(node["errors"][0]["message"], "boom");
  EXPECT_EQ(node["active_queries"], Json::array());
  EXPECT_TRUE(node["active_queries_at_ms"].is_null());
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
  Json nodes;
  store_->nodes_json("prod", nodes);
  EXPECT_EQ(nodes["nodes"][0]["status"], "stale");
  EXPECT_EQ(nodes["nodes"][1]["status"], "live");
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
  auto one = store_->issue("prod", "reload_schema", "*", Json::object(), "e/1");
  ASSERT_EQ(one.status, FleetStatus::kOk);
  EXPECT_EQ(one.command["seq"], 1);
  EXPECT_EQ(one.command["epoch"], "e/1");
  EXPECT_EQ(one.command["state"], "pending");
  EXPECT_EQ(one.targets, (std::vector<std::string>{"a", "b"}));
  auto two = store_->issue("prod", "maintenance_on", "b", Json{{"reason", "x"}}, "e/1");
  EXPECT_EQ(two.command["seq"], 2);
  EXPECT_EQ(two.targets, std::vector<std::string>{"b"});
  EXPECT_EQ(store_->issue("prod", "x", "ghost", Json::object(), "e/1").status,
            FleetStatus::kUnknownNode);
  // Sequences are per deployment.
  store_->register_node("staging", {"a", "", ""});
  EXPECT_EQ(store_->issue("staging", "x", "*", Json::object(), "e/1").command["seq"], 1);
}

TEST_F(FleetStoreTest, PollDeliversAfterSeqAndRedeliversUntilAcked) {
  store_->register_node("prod", {"a", "", ""});
  store_->issue("prod", "reload_schema", "a", Json::object(), "e/1");
  store_->issue("prod", "maintenance_on", "a", Json::object(), "e/1");
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
  Json list;
  store_->commands_json("prod", "e/1", 10, list);
  EXPECT_EQ(list["commands"][0]["seq"], 2);  // newest first
  EXPECT_EQ(list["commands"][0]["state"], "delivered");
  EXPECT_EQ(list["commands"][0]["nodes"][0]["deliveries"], 4);
  EXPECT_EQ(list["commands"][1]["state"], "acknowledged");
}

TEST_F(FleetStoreTest, AckIsIdempotentAndFirstResultSticks) {
  store_->register_node("prod", {"a", "", ""});
  auto issued = store_->issue("prod", "reload_schema", "a", Json::object(), "e/1");
  const std::string id = issued.command["id"];
  poll("a", 0);
  auto first = store_->ack("prod", id, "a", false, "disk full");
  ASSERT_EQ(first.status, FleetStatus::kOk);
  EXPECT_TRUE(first.first);
  EXPECT_EQ(first.delivery["state"], "failed");
  EXPECT_EQ(first.delivery["result"]["message"], "disk full");
  clock_.advance(1s);
  auto second = store_->ack("prod", id, "a", true, "ok now");
  ASSERT_EQ(second.status, FleetStatus::kOk);
  EXPECT_FALSE(second.first);
  EXPECT_EQ(second.delivery, first.delivery);
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
  store_->issue("prod", "reload_schema", "a", Json::object(), "e/1");
  EXPECT_EQ(poll("a", 0, "e/1").size(), 1u);
  // A new term: the old command is not re-delivered, and shows as expired.
  EXPECT_EQ(poll("a", 0, "e/2").size(), 0u);
  Json list;
  store_->commands_json("prod", "e/2", 10, list);
  EXPECT_EQ(list["commands"][0]["state"], "expired");
  // A command of the new term is.
  store_->issue("prod", "reload_configuration", "a", Json::object(), "e/2");
  auto got = poll("a", 0, "e/2");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].epoch, "e/2");
  EXPECT_EQ(got[0].seq, 2u);
}

TEST_F(FleetStoreTest, EvictionFailsOpenDeliveries) {
  store_->register_node("prod", {"a", "", ""});
  store_->register_node("prod", {"b", "", ""});
  auto issued = store_->issue("prod", "reload_schema", "*", Json::object(), "e/1");
  store_->ack("prod", issued.command["id"].get<std::string>(), "b", true, "");
  clock_.advance(30s);
  store_->record_metrics("prod", "b", sample(1));
  clock_.advance(30s);
  store_->sweep();
  Json list;
  store_->commands_json("prod", "e/1", 10, list);
  const auto& c = list["commands"][0];
  EXPECT_EQ(c["state"], "failed");
  EXPECT_EQ(c["nodes"][0]["state"], "failed");
  EXPECT_EQ(c["nodes"][0]["result"]["message"], "node evicted before acknowledging");
  EXPECT_EQ(c["nodes"][1]["state"], "acknowledged");
}

TEST_F(FleetStoreTest, HistoryIsBoundedAndTrimmedCommandsStopBeingDelivered) {
  FleetOptions o;
  o.command_history = 3;
  make(o);
  store_->register_node("prod", {"a", "", ""});
  for (int i = 0; i < 5; ++i) store_->issue("prod", "reload_schema", "a", Json::object(), "e/1");
  Json list;
  store_->commands_json("prod", "e/1", 100, list);
  ASSERT_EQ(list["commands"].size(), 3u);
  EXPECT_EQ(list["commands"][2]["seq"], 3);
  auto got = poll("a", 0);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].seq, 3u);
  store_->commands_json("prod", "e/1", 2, list);
  EXPECT_EQ(list["commands"].size(), 2u);  // limit
}

TEST_F(FleetStoreTest, WildcardWithNoNodesIsVacuouslyAcknowledged) {
  auto issued = store_->issue("prod", "reload_schema", "*", Json::object(), "e/1");
  ASSERT_EQ(issued.status, FleetStatus::kOk);
  EXPECT_TRUE(issued.targets.empty());
  EXPECT_EQ(issued.command["state"], "acknowledged");
}

TEST_F(FleetStoreTest, DeploymentsView) {
  store_->register_node("prod", {"a", "", ""});
  Json d = store_->deployments_json();
  ASSERT_EQ(d["deployments"].size(), 2u);
  EXPECT_EQ(d["deployments"][0]["name"], "prod");
  EXPECT_EQ(d["deployments"][0]["nodes"]["total"], 1);
  EXPECT_EQ(d["deployments"][0]["nodes"]["live"], 1);
  Json out;
  EXPECT_EQ(store_->nodes_json("nope", out), FleetStatus::kUnknownDeployment);
  EXPECT_EQ(store_->node_json("prod", "ghost", out), FleetStatus::kUnknownNode);
}

}  // namespace
}  // namespace pgdc::fleet
