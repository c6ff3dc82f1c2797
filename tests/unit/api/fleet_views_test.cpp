// The web API's JSON shapes of fleet snapshots (docs/api.md), field by field.
#include "api/fleet_views.h"

#include <gtest/gtest.h>

namespace pgdc::api {
namespace {

using Json = nlohmann::json;

fleet::MetricPoint point() {
  fleet::MetricPoint p;
  p.ts_ms = 1000;
  p.clients = 3;
  p.servers = 2;
  p.pools = 1;
  p.qps = 0.1f;
  p.tps = 12.5f;
  p.cpu = 0.3f;
  p.memory_bytes = 1u << 20;
  return p;
}

TEST(FleetViews, PointPrintsFloatsAsTheirShortestDouble) {
  const Json j = point_json(point());
  EXPECT_EQ(j, Json::parse(R"({"ts_ms":1000,"clients":3,"servers":2,"pools":1,"qps":0.1,
                               "tps":12.5,"cpu":0.3,"memory_bytes":1048576})"));
  EXPECT_EQ(j.dump().find("0.100000"), std::string::npos) << j.dump();
}

TEST(FleetViews, Deployments) {
  EXPECT_EQ(deployments_json({{"prod", 3, 2, 1}}), Json::parse(R"({"deployments":[{"name":"prod",
                            "nodes":{"total":3,"live":2,"stale":1}}]})"));
  EXPECT_EQ(deployments_json({}), Json::parse(R"({"deployments":[]})"));
}

TEST(FleetViews, NodeSummaryAndDetail) {
  fleet::NodeDetail d;
  d.node.info = {"a", "1.2.3", "10.0.0.1"};
  d.node.live = false;
  d.node.registered_at_ms = 5;
  d.node.last_seen_ms = 6;
  const Json summary = node_summary_json(d.node);
  EXPECT_EQ(summary, Json::parse(R"({"id":"a","version":"1.2.3","host":"10.0.0.1",
                                     "status":"stale","registered_at_ms":5,"last_seen_ms":6,
                                     "latest":null})"));
  d.node.live = true;
  d.node.latest = point();
  d.uploads[static_cast<std::size_t>(fleet::UploadKind::kErrors)] = R"([{"message":"boom"}])";
  d.upload_ms[static_cast<std::size_t>(fleet::UploadKind::kErrors)] = 7;
  // Stored uploads are validated; one that is not JSON shows as none.
  d.uploads[static_cast<std::size_t>(fleet::UploadKind::kQueryStats)] = "[not json";
  const Json j = node_json("prod", d);
  EXPECT_EQ(j["deployment"], "prod");
  EXPECT_EQ(j["status"], "live");
  EXPECT_EQ(j["latest"]["clients"], 3);
  EXPECT_EQ(j["errors"], Json::parse(R"([{"message":"boom"}])"));
  EXPECT_EQ(j["errors_at_ms"], 7);
  EXPECT_EQ(j["query_stats"], Json::array());
  EXPECT_TRUE(j["query_stats_at_ms"].is_null());
  EXPECT_EQ(j["active_queries"], Json::array());
  EXPECT_TRUE(j["active_queries_at_ms"].is_null());

  const Json list = nodes_json("prod", {d.node});
  EXPECT_EQ(list["deployment"], "prod");
  ASSERT_EQ(list["nodes"].size(), 1u);
  EXPECT_EQ(list["nodes"][0], node_summary_json(d.node));
}

TEST(FleetViews, Series) {
  const Json j = series_json("prod", "a", {point(), point()});
  EXPECT_EQ(j["deployment"], "prod");
  EXPECT_EQ(j["node"], "a");
  ASSERT_EQ(j["points"].size(), 2u);
  EXPECT_EQ(j["points"][1], point_json(point()));
}

TEST(FleetViews, DeliveryTimesAreNullUntilSetAndResultOnlyOnceFinal) {
  fleet::Delivery d;
  d.node = "a";
  EXPECT_EQ(delivery_json(d), Json::parse(R"({"node":"a","state":"pending",
                                              "delivered_at_ms":null,"acked_at_ms":null,
                                              "deliveries":0,"result":null})"));
  d.state = fleet::DeliveryState::kDelivered;
  d.delivered_at_ms = 10;
  d.deliveries = 2;
  d.result_status = "ok";  // not final yet: not shown
  EXPECT_TRUE(delivery_json(d)["result"].is_null());
  EXPECT_EQ(delivery_json(d)["delivered_at_ms"], 10);
  d.state = fleet::DeliveryState::kFailed;
  d.acked_at_ms = 11;
  d.result_status = "error";
  d.result_message = "disk full";
  EXPECT_EQ(delivery_json(d)["result"], Json::parse(R"({"status":"error","message":"disk full"})"));
  EXPECT_EQ(delivery_json(d)["state"], "failed");
}

TEST(FleetViews, Command) {
  fleet::CommandSnapshot c;
  c.command.id = "1-abcdef01";
  c.command.seq = 1;
  c.command.epoch = "s/2";
  c.command.name = "maintenance_on";
  c.command.target = "*";
  c.command.args_json = R"({"reason":"x"})";
  c.command.issued_at_ms = 99;
  c.command.nodes.push_back(fleet::Delivery{"a", fleet::DeliveryState::kPending, 0, 0, 0, "", ""});
  c.state = fleet::CommandState::kExpired;
  const Json j = command_json(c);
  EXPECT_EQ(j["id"], "1-abcdef01");
  EXPECT_EQ(j["seq"], 1);
  EXPECT_EQ(j["epoch"], "s/2");
  EXPECT_EQ(j["name"], "maintenance_on");
  EXPECT_EQ(j["target"], "*");
  EXPECT_EQ(j["args"], Json::parse(R"({"reason":"x"})"));
  EXPECT_EQ(j["issued_at_ms"], 99);
  EXPECT_EQ(j["state"], "expired");
  ASSERT_EQ(j["nodes"].size(), 1u);
  EXPECT_EQ(j["nodes"][0]["node"], "a");
  fleet::TrimmedView trimmed;
  trimmed.total = 7;
  trimmed.recent.push_back(fleet::TrimmedCommand{"3-abcdef01", 3, "s/2", "reload_schema", 5, 9, 2});
  const Json list = commands_json("prod", {c}, trimmed);
  EXPECT_EQ(list["deployment"], "prod");
  EXPECT_EQ(list["commands"][0], j);
  EXPECT_EQ(list["trimmed_pending"],
            Json::parse(R"({"total":7,"recent":[{"id":"3-abcdef01","seq":3,"epoch":"s/2",)"
                        R"("name":"reload_schema","issued_at_ms":5,"trimmed_at_ms":9,)"
                        R"("open_nodes":2}]})"));
}

}  // namespace
}  // namespace pgdc::api
