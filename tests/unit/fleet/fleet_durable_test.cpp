// The fleet store's durable form: what encode() writes, load() reads back
// into another store (another term), and what durable mode withholds.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "fleet/fleet_store.h"

namespace pgdc::fleet {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

struct FakeClock {
  FleetSteadyTime steady{std::chrono::hours(1)};
  std::int64_t wall = 1'700'000'000'000;
  FleetClock clock() {
    return FleetClock{[this] { return steady; }, [this] { return wall; }};
  }
};

FleetOptions durable() {
  FleetOptions o;
  o.durable = true;
  return o;
}

class FleetDurableTest : public ::testing::Test {
 protected:
  std::unique_ptr<FleetStore> make() {
    return std::make_unique<FleetStore>(std::vector<std::string>{"prod"}, durable(),
                                        clock_.clock());
  }
  // Everything written so far counts as durable (as after a keeper's write).
  void persist(FleetStore& s) {
    for (auto part : {DurablePart::kNodes, DurablePart::kCommands}) {
      s.mark_durable("prod", part, s.encode("prod", part, "{}"));
    }
  }
  std::unique_ptr<FleetStore> reload(FleetStore& from) {
    auto to = make();
    const std::string problem =
        to->load("prod", from.encode("prod", DurablePart::kNodes, "{\"epoch\":1}").value,
                 from.encode("prod", DurablePart::kCommands, "{\"epoch\":1}").value);
    EXPECT_EQ(problem, "");
    return to;
  }
  static std::vector<CommandSnapshot> commands(FleetStore& s) {
    std::vector<CommandSnapshot> out;
    EXPECT_EQ(s.commands("prod", "now", 100, out), FleetStatus::kOk);
    return out;
  }
  FakeClock clock_;
};

TEST_F(FleetDurableTest, ARoundTripKeepsNodesCommandsAndEveryDeliveryState) {
  auto a = make();
  for (const char* id : {"n1", "n2", "n3", "n4"}) {
    ASSERT_EQ(a->register_node("prod", NodeInfo{id, "1.0", "h-" + std::string(id)}),
              FleetStatus::kCreated);
  }
  auto issued = a->issue("prod", "maintenance_on", "*", "{\"reason\":\"x\"}", "s/1");
  ASSERT_EQ(issued.status, FleetStatus::kOk);
  persist(*a);
  std::vector<PolledCommand> polled;
  a->poll("prod", "n2", 0, "s/1", polled);  // delivered
  ASSERT_EQ(a->ack("prod", issued.command.command.id, "n3", true, "").status, FleetStatus::kOk);
  ASSERT_EQ(a->ack("prod", issued.command.command.id, "n4", false, "no pool").status,
            FleetStatus::kOk);
  // n1 pending, n2 delivered, n3 acknowledged, n4 failed with its message.
  auto b = reload(*a);
  auto list = commands(*b);
  ASSERT_EQ(list.size(), 1u);
  const Command& c = list[0].command;
  EXPECT_EQ(c.id, issued.command.command.id);
  EXPECT_EQ(c.epoch, "s/1");
  EXPECT_EQ(Json::parse(c.args_json), Json::parse("{\"reason\":\"x\"}"));
  ASSERT_EQ(c.nodes.size(), 4u);
  EXPECT_EQ(c.nodes[0].state, DeliveryState::kPending);
  EXPECT_EQ(c.nodes[1].state, DeliveryState::kDelivered);
  EXPECT_EQ(c.nodes[2].state, DeliveryState::kAcknowledged);
  EXPECT_EQ(c.nodes[3].state, DeliveryState::kFailed);
  EXPECT_EQ(c.nodes[3].result_message, "no pool");
  EXPECT_EQ(list[0].state, CommandState::kPending) << "a durable command never expires";
  NodeDetail n;
  ASSERT_EQ(b->node("prod", "n1", n), FleetStatus::kOk);
  EXPECT_EQ(n.node.info.host, "h-n1");
  // Open deliveries are delivered again by the new term, final ones not.
  polled.clear();
  b->poll("prod", "n1", 0, "s/2", polled);
  EXPECT_EQ(polled.size(), 1u);
  polled.clear();
  b->poll("prod", "n3", 0, "s/2", polled);
  EXPECT_TRUE(polled.empty());
  // The sequence continues; node numbers are never reused.
  EXPECT_EQ(b->register_node("prod", NodeInfo{"n5", "1", "h"}), FleetStatus::kCreated);
  auto next = b->issue("prod", "reload_schema", "*", "{}", "s/2");
  EXPECT_EQ(next.command.command.seq, 2u);
  EXPECT_EQ(next.command.command.nodes.size(), 5u);
  const Json nodes = Json::parse(b->encode("prod", DurablePart::kNodes, "{}").value);
  EXPECT_EQ(nodes["next_number"], 6);
}

TEST_F(FleetDurableTest, AnEvictedTargetKeepsItsNameInTheCommand) {
  FleetOptions o = durable();
  o.evict_after = 10s;
  FleetStore a({"prod"}, o, clock_.clock());
  a.register_node("prod", NodeInfo{"gone", "1", "h"});
  auto issued = a.issue("prod", "reload_configuration", "gone", "{}", "s/1");
  a.mark_durable("prod", DurablePart::kCommands, a.encode("prod", DurablePart::kCommands, "{}"));
  clock_.steady += 11s;
  a.sweep();
  auto b = make();
  ASSERT_EQ(b->load("prod", a.encode("prod", DurablePart::kNodes, "{}").value,
                    a.encode("prod", DurablePart::kCommands, "{}").value),
            "");
  auto list = commands(*b);
  ASSERT_EQ(list.size(), 1u);
  ASSERT_EQ(list[0].command.nodes.size(), 1u);
  EXPECT_EQ(list[0].command.nodes[0].node, "gone");
  EXPECT_EQ(list[0].command.nodes[0].state, DeliveryState::kFailed);
  EXPECT_EQ(list[0].state, CommandState::kFailed) << "not no_targets";
}

TEST_F(FleetDurableTest, AFleetWideCommandIsStoredAsRangesOfNodeNumbers) {
  FleetOptions o = durable();
  o.retention = 10s;  // 5,000 full metric rings would exceed the memory budget
  auto a = std::make_unique<FleetStore>(std::vector<std::string>{"prod"}, o, clock_.clock());
  for (int i = 0; i < 5000; ++i) {
    ASSERT_EQ(
        a->register_node("prod", NodeInfo{"pgdog-" + std::to_string(i), "0.1.30", "10.0.0.1"}),
        FleetStatus::kCreated);
  }
  a->issue("prod", "reload_configuration", "*", "{}", "s/1");
  const auto commands = a->encode("prod", DurablePart::kCommands, "{}").value;
  EXPECT_LT(commands.size(), 1000u) << "5,000 targets should be one range";
  EXPECT_NE(commands.find("\"t\":[[1,5000]]"), std::string::npos) << commands;
  const auto nodes = a->encode("prod", DurablePart::kNodes, "{}").value;
  EXPECT_LT(nodes.size(), 300'000u);
}

TEST_F(FleetDurableTest, TheRegistryNeverOutgrowsItsStateObject) {
  FleetOptions o = durable();
  o.max_registry_bytes = 4096;
  o.evict_after = 10s;
  FleetStore a({"prod"}, o, clock_.clock());
  int registered = 0;
  FleetStatus last = FleetStatus::kCreated;
  while (last == FleetStatus::kCreated && registered < 1000) {
    last = a.register_node("prod", NodeInfo{"node-\n" + std::to_string(registered), "1.0", "h"});
    registered += last == FleetStatus::kCreated;
  }
  EXPECT_EQ(last, FleetStatus::kRegistryFull);
  EXPECT_GT(registered, 20);
  const std::string value = a.encode("prod", DurablePart::kNodes, "{}").value;
  EXPECT_LE(value.size(), 4096u + 200u) << "the estimate is not an upper bound";
  // A known node's update is never refused; an eviction makes room.
  EXPECT_EQ(a.register_node("prod", NodeInfo{"node-\n0", "1.0.1", "h"}), FleetStatus::kOk);
  clock_.steady += 11s;
  a.sweep();
  EXPECT_EQ(a.register_node("prod", NodeInfo{"new", "1", "h"}), FleetStatus::kCreated);
}

TEST_F(FleetDurableTest, MalformedOrForeignObjectsAreRefusedAndChangeNothing) {
  auto a = make();
  a->register_node("prod", NodeInfo{"n1", "1", "h"});
  const std::string good_nodes = a->encode("prod", DurablePart::kNodes, "{}").value;
  for (const std::string& bad :
       {std::string("not json"), std::string("{\"format\":2}"),
        std::string("{\"format\":1,\"kind\":\"nodes\",\"deployment\":\"other\"}"),
        std::string("{\"format\":1,\"kind\":\"nodes\",\"deployment\":\"prod\",\"next_number\":2,"
                    "\"nodes\":[[5,\"n\",\"v\",\"h\",0]]}"),
        std::string("{\"format\":1,\"kind\":\"nodes\",\"deployment\":\"prod\",\"next_number\":9,"
                    "\"nodes\":[[1,\"n\",\"v\",\"h\",0],[1,\"m\",\"v\",\"h\",0]]}")}) {
    auto b = make();
    b->register_node("prod", NodeInfo{"kept", "1", "h"});
    EXPECT_NE(b->load("prod", bad, ""), "") << bad;
    NodeDetail n;
    EXPECT_EQ(b->node("prod", "kept", n), FleetStatus::kOk) << "a failed load changed the store";
  }
  auto b = make();
  EXPECT_EQ(b->load("prod", good_nodes, ""), "");
}

TEST_F(FleetDurableTest, AHostileRangeCostsNothing) {
  auto a = make();
  const std::string value =
      "{\"format\":1,\"kind\":\"commands\",\"deployment\":\"prod\",\"next_seq\":2,"
      "\"trimmed_total\":0,\"trimmed\":[],\"gone\":[],\"commands\":[{\"id\":\"1-x\",\"seq\":1,"
      "\"epoch\":\"e\",\"name\":\"reload_schema\",\"target\":\"*\",\"args\":{},"
      "\"issued_at_ms\":0,\"t\":[[1,18446744073709551615]],\"d\":[],\"a\":[],\"r\":[]}]}";
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(a->load("prod", "", value), "");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
  auto list = commands(*a);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].state, CommandState::kNoTargets);
}

TEST_F(FleetDurableTest, DeepArgsAndAnOversizedHistoryAreBounded) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < 100000; ++i) deep += "}";
  const std::string one =
      "{\"format\":1,\"kind\":\"commands\",\"deployment\":\"prod\",\"next_seq\":2,"
      "\"trimmed_total\":0,\"trimmed\":[],\"gone\":[],\"commands\":[{\"id\":\"1-x\",\"seq\":1,"
      "\"epoch\":\"e\",\"name\":\"reload_schema\",\"target\":\"*\",\"args\":" +
      deep + ",\"issued_at_ms\":0,\"t\":[],\"d\":[],\"a\":[],\"r\":[]}]}";
  auto a = make();
  EXPECT_NE(a->load("prod", "", one).find("nest"), std::string::npos);
  // More commands than api.commands.history (lowered since): the newest stay.
  FleetOptions o = durable();
  o.command_history = 3;
  FleetStore small({"prod"}, o, clock_.clock());
  auto big = make();
  for (int i = 0; i < 5; ++i) big->issue("prod", "reload_schema", "*", "{}", "e");
  persist(*big);
  ASSERT_EQ(small.load("prod", "", big->encode("prod", DurablePart::kCommands, "{}").value), "");
  auto list = commands(small);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list.front().command.seq, 5u);
}

TEST_F(FleetDurableTest, NothingUndurableIsDeliveredAcknowledgedOrListed) {
  auto a = make();
  a->register_node("prod", NodeInfo{"n1", "1", "h"});
  auto issued = a->issue("prod", "reload_schema", "*", "{}", "s/1");
  std::vector<PolledCommand> polled;
  a->poll("prod", "n1", 0, "s/1", polled);
  EXPECT_TRUE(polled.empty());
  EXPECT_EQ(a->ack("prod", issued.command.command.id, "n1", true, "").status,
            FleetStatus::kUnknownCommand);
  EXPECT_TRUE(commands(*a).empty());
  EXPECT_EQ(a->drop_undurable("prod"), 1u);
  auto again = a->issue("prod", "reload_schema", "*", "{}", "s/1");
  EXPECT_EQ(again.command.command.seq, 1u);
  persist(*a);
  a->poll("prod", "n1", 0, "s/1", polled);
  ASSERT_EQ(polled.size(), 1u);
  EXPECT_EQ(polled[0].id, again.command.command.id);
}

}  // namespace
}  // namespace pgdc::fleet
