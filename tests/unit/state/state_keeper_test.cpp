// The state keeper against a fake compare-and-swap store: load and claim,
// answers only once durable, batching, fencing of a deposed writer, an
// admin's edit, lost replies and a store that is down.
#include "state/state_keeper.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "state/fake_state_backend.h"

namespace pgdc::state {
namespace {

using namespace std::chrono_literals;
using fleet::DurablePart;
using Json = nlohmann::json;

template <typename F>
bool eventually(F f, std::chrono::milliseconds limit = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return f();
}

// One replica: its leadership, its fleet store, its keeper, on a shared store.
struct Replica {
  Replica(std::shared_ptr<test::FakeStore> shared, std::string identity, KeeperOptions options = {})
      : backend(new test::FakeStateBackend(shared)),
        store({"prod"}, durable_options()),
        keeper(std::unique_ptr<StateBackend>(backend), store, leadership, {"prod"},
               std::move(identity), options) {
    keeper.start();
  }
  static fleet::FleetOptions durable_options() {
    fleet::FleetOptions o;
    o.durable = true;
    return o;
  }
  void lead(std::uint64_t term) {
    Observation o;
    o.role = Role::kLeader;
    o.holder = "x";
    o.epoch = Epoch{"scope", term};
    o.valid_until = LeaseTime::max();
    leadership.apply(o);
  }
  Durability wait(DurablePart part, std::uint64_t generation, bool urgent) {
    auto done = std::make_shared<std::promise<Durability>>();
    auto f = done->get_future();
    keeper.after_durable("prod", part, generation, urgent,
                         [done](const Durability& d) { done->set_value(d); });
    EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
    return f.get();
  }
  Durability register_node(const std::string& id) {
    EXPECT_EQ(store.register_node("prod", fleet::NodeInfo{id, "1.0", "h"}),
              fleet::FleetStatus::kCreated);
    return wait(DurablePart::kNodes, store.generations("prod", DurablePart::kNodes).first, false);
  }
  std::pair<fleet::IssueOutcome, Durability> issue() {
    auto out = store.issue("prod", "reload_configuration", "*", "{}", "e");
    EXPECT_EQ(out.status, fleet::FleetStatus::kOk);
    return {out, wait(DurablePart::kCommands, out.generation, true)};
  }
  std::size_t command_count() {
    std::vector<fleet::CommandSnapshot> out;
    store.commands("prod", "", 1000, out);
    return out.size();
  }

  test::FakeStateBackend* backend;  // owned by the keeper
  LeadershipState leadership;
  fleet::FleetStore store;
  StateKeeper keeper;
};

std::string nodes_key() { return StateKeeper::key("prod", DurablePart::kNodes); }
std::string commands_key() { return StateKeeper::key("prod", DurablePart::kCommands); }

std::uint64_t writer_epoch(const std::string& value) {
  return Json::parse(value)["writer"]["epoch"].get<std::uint64_t>();
}

TEST(StateKeeper, KeysNameTheDeploymentByDigest) {
  EXPECT_EQ(StateKeeper::key("prod", DurablePart::kNodes).rfind("fleet-", 0), 0u);
  EXPECT_EQ(StateKeeper::key("prod", DurablePart::kNodes).size(), 6 + 12 + 6);
  EXPECT_NE(StateKeeper::key("prod", DurablePart::kNodes),
            StateKeeper::key("Prod", DurablePart::kNodes));
}

TEST(StateKeeper, NotReadyUntilTheTermsStateIsClaimed) {
  auto shared = std::make_shared<test::FakeStore>();
  Replica r(shared, "a");
  r.backend->down = true;
  r.lead(1);
  ASSERT_TRUE(eventually([&] { return !r.keeper.status().last_error.empty(); }));
  EXPECT_TRUE(r.leadership.leading_term().has_value());
  EXPECT_FALSE(r.leadership.ready()) << "served before the state was loaded";
  r.backend->down = false;
  ASSERT_TRUE(eventually([&] { return r.leadership.ready(); }));
  EXPECT_EQ(writer_epoch(shared->value(nodes_key())), 1u);
  EXPECT_EQ(writer_epoch(shared->value(commands_key())), 1u);
}

TEST(StateKeeper, ANewTermWakesTheKeeperAtOnce) {
  // With a 2 minute batch the keeper's own timer sleeps a minute: only the
  // leadership listener can make the new leader serve within seconds (a
  // switchover target used to wait up to half a batch before its claim).
  auto shared = std::make_shared<test::FakeStore>();
  KeeperOptions o;
  o.batch = 120s;
  Replica r(shared, "a", o);
  std::this_thread::sleep_for(20ms);  // the keeper is asleep on its timer
  r.lead(1);
  EXPECT_TRUE(eventually([&] { return r.leadership.ready(); }, 10s));
}

TEST(StateKeeper, AnIssueIsAnsweredOnlyOnceDurableAndANewTermResumesIt) {
  auto shared = std::make_shared<test::FakeStore>();
  std::string id;
  {
    Replica a(shared, "a");
    a.lead(1);
    ASSERT_TRUE(eventually([&] { return a.leadership.ready(); }));
    EXPECT_EQ(a.register_node("n1").kind, Durability::Kind::kDurable);
    EXPECT_NE(shared->value(nodes_key()).find("\"n1\""), std::string::npos);
    auto [out, d] = a.issue();
    EXPECT_EQ(d.kind, Durability::Kind::kDurable);
    id = out.command.command.id;
    EXPECT_NE(shared->value(commands_key()).find(id), std::string::npos)
        << "answered before the command was in the store";
  }
  Replica b(shared, "b");
  b.lead(2);
  ASSERT_TRUE(eventually([&] { return b.leadership.ready(); }));
  std::vector<fleet::PolledCommand> polled;
  ASSERT_EQ(b.store.poll("prod", "n1", 0, "other", polled), fleet::FleetStatus::kOk);
  ASSERT_EQ(polled.size(), 1u);
  EXPECT_EQ(polled[0].id, id) << "the command keeps its id across terms";
  auto ack = b.store.ack("prod", id, "n1", true, "done");
  EXPECT_EQ(ack.status, fleet::FleetStatus::kOk);
  EXPECT_EQ(b.wait(DurablePart::kCommands, ack.generation, false).kind, Durability::Kind::kDurable);
  EXPECT_NE(shared->value(commands_key()).find("\"done\""), std::string::npos);
  auto [next, d2] = b.issue();
  EXPECT_EQ(next.command.command.seq, 2u) << "seqs continue across terms";
}

TEST(StateKeeper, ADeposedLeadersWriteIsRefusedByTheStore) {
  auto shared = std::make_shared<test::FakeStore>();
  Replica old_leader(shared, "a");
  old_leader.lead(1);
  ASSERT_TRUE(eventually([&] { return old_leader.leadership.ready(); }));
  ASSERT_EQ(old_leader.register_node("n1").kind, Durability::Kind::kDurable);
  // A newer term claims the objects while the old leader still believes it
  // leads (a paused VM): the old leader's next write must fail in the store.
  Replica new_leader(shared, "b");
  new_leader.lead(2);
  ASSERT_TRUE(eventually([&] { return new_leader.leadership.ready(); }));
  const std::string claimed = shared->value(commands_key());
  auto [out, d] = old_leader.issue();
  // Not "not kept": an earlier write of the deposed term could have landed.
  EXPECT_EQ(d.kind, Durability::Kind::kUnavailable) << d.message;
  EXPECT_NE(d.message.find("deposed"), std::string::npos) << d.message;
  EXPECT_EQ(shared->value(commands_key()), claimed) << "the deposed leader's write landed";
  EXPECT_EQ(writer_epoch(shared->value(commands_key())), 2u);
  EXPECT_TRUE(old_leader.keeper.status().fenced);
  EXPECT_FALSE(old_leader.leadership.ready()) << "a fenced replica still serves";
  EXPECT_TRUE(new_leader.leadership.ready());
  std::vector<fleet::PolledCommand> polled;
  old_leader.store.poll("prod", "n1", 0, "e", polled);
  EXPECT_TRUE(polled.empty()) << "a command that was never durable reached a node";
}

TEST(StateKeeper, AnAdminsEditOnlyMovesTheVersion) {
  auto shared = std::make_shared<test::FakeStore>();
  Replica r(shared, "a");
  r.lead(1);
  ASSERT_TRUE(eventually([&] { return r.leadership.ready(); }));
  shared->touch(commands_key());  // e.g. kubectl label
  auto [out, d] = r.issue();
  EXPECT_EQ(d.kind, Durability::Kind::kDurable) << d.message;
  EXPECT_FALSE(r.keeper.status().fenced);
  EXPECT_GE(r.keeper.status().conflicts, 1u);
  EXPECT_NE(shared->value(commands_key()).find(out.command.command.id), std::string::npos);
}

TEST(StateKeeper, AcksAreBatched) {
  auto shared = std::make_shared<test::FakeStore>();
  KeeperOptions o;
  o.batch = 200ms;
  Replica r(shared, "a", o);
  r.lead(1);
  ASSERT_TRUE(eventually([&] { return r.leadership.ready(); }));
  for (int i = 0; i < 100; ++i) {
    r.store.register_node("prod", fleet::NodeInfo{"n" + std::to_string(i), "1", "h"});
  }
  ASSERT_EQ(
      r.wait(DurablePart::kNodes, r.store.generations("prod", DurablePart::kNodes).first, false)
          .kind,
      Durability::Kind::kDurable);
  auto [out, d] = r.issue();
  ASSERT_EQ(d.kind, Durability::Kind::kDurable);
  const int before = shared->write_count();
  std::vector<std::future<Durability>> acks;
  for (int i = 0; i < 100; ++i) {
    auto ack = r.store.ack("prod", out.command.command.id, "n" + std::to_string(i), true, "");
    ASSERT_EQ(ack.status, fleet::FleetStatus::kOk);
    auto p = std::make_shared<std::promise<Durability>>();
    acks.push_back(p->get_future());
    r.keeper.after_durable("prod", DurablePart::kCommands, ack.generation, false,
                           [p](const Durability& x) { p->set_value(x); });
  }
  for (auto& f : acks) {
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(f.get().kind, Durability::Kind::kDurable);
  }
  EXPECT_LE(shared->write_count() - before, 3) << "100 acks took one write each";
}

TEST(StateKeeper, AnUnconfirmedIssueIsDroppedBeforeAnyNodeHasIt) {
  auto shared = std::make_shared<test::FakeStore>();
  KeeperOptions o;
  o.answer_timeout = 300ms;
  o.retry = 20ms;
  Replica r(shared, "a", o);
  r.lead(1);
  ASSERT_TRUE(eventually([&] { return r.leadership.ready(); }));
  ASSERT_EQ(r.register_node("n1").kind, Durability::Kind::kDurable);
  r.backend->down = true;
  auto [out, d] = r.issue();
  EXPECT_EQ(d.kind, Durability::Kind::kUnavailable);
  EXPECT_EQ(r.command_count(), 0u) << "an unconfirmed command stays in the log";
  std::vector<fleet::PolledCommand> polled;
  r.store.poll("prod", "n1", 0, "e", polled);
  EXPECT_TRUE(polled.empty());
  r.backend->down = false;
  auto [next, d2] = r.issue();
  EXPECT_EQ(d2.kind, Durability::Kind::kDurable);
  EXPECT_EQ(next.command.command.seq, 1u) << "the dropped command's seq is reused";
}

TEST(StateKeeper, ALostReplyIsReadBackBeforeTheNextWrite) {
  auto shared = std::make_shared<test::FakeStore>();
  KeeperOptions o;
  o.answer_timeout = 300ms;
  o.retry = 20ms;
  Replica r(shared, "a", o);
  r.lead(1);
  ASSERT_TRUE(eventually([&] { return r.leadership.ready(); }));
  r.backend->lose_replies = true;  // the write lands, the answer is lost
  r.store.register_node("prod", fleet::NodeInfo{"n1", "1", "h"});
  const auto generation = r.store.generations("prod", DurablePart::kNodes).first;
  std::this_thread::sleep_for(50ms);
  r.backend->lose_replies = false;
  EXPECT_EQ(r.wait(DurablePart::kNodes, generation, false).kind, Durability::Kind::kDurable);
  EXPECT_FALSE(r.keeper.status().fenced) << "its own write, read back, deposed it";
  EXPECT_NE(shared->value(nodes_key()).find("\"n1\""), std::string::npos);
}

TEST(StateKeeper, ACommandDroppedUnwrittenNeverSharesItsIdWithALaterOne) {
  auto shared = std::make_shared<test::FakeStore>();
  KeeperOptions o;
  o.answer_timeout = 200ms;
  o.retry = 20ms;
  Replica r(shared, "a", o);
  r.lead(1);
  ASSERT_TRUE(eventually([&] { return r.leadership.ready(); }));
  r.backend->down = true;
  auto [dropped, d] = r.issue();
  ASSERT_EQ(d.kind, Durability::Kind::kUnavailable);
  r.backend->down = false;
  auto [next, d2] = r.issue();
  ASSERT_EQ(d2.kind, Durability::Kind::kDurable);
  EXPECT_EQ(next.command.command.seq, dropped.command.command.seq);
  EXPECT_NE(next.command.command.id, dropped.command.command.id);
  EXPECT_FALSE(
      r.store.durable_command("prod", dropped.command.command.seq, dropped.command.command.id))
      << "the dropped command reads as written (its 201 would be a lie)";
  EXPECT_TRUE(r.store.durable_command("prod", next.command.command.seq, next.command.command.id));
}

TEST(StateKeeper, ACommandsObjectTooLargeGivesUpItsOldestHistory) {
  auto shared = std::make_shared<test::FakeStore>();
  Replica r(shared, "a");
  r.lead(1);
  ASSERT_TRUE(eventually([&] { return r.leadership.ready(); }));
  ASSERT_EQ(r.register_node("n1").kind, Durability::Kind::kDurable);
  // 16 KiB of args each: about 48 commands fill an object, the history
  // keeps 200.
  const std::string args = "{\"reason\":\"" + std::string(16000, 'x') + "\"}";
  fleet::IssueOutcome last;
  for (int i = 0; i < 80; ++i) {
    last = r.store.issue("prod", "maintenance_on", "*", args, "e");
    ASSERT_EQ(last.status, fleet::FleetStatus::kOk);
    ASSERT_EQ(r.wait(DurablePart::kCommands, last.generation, true).kind,
              Durability::Kind::kDurable)
        << "command " << i;
  }
  EXPECT_LE(shared->value(commands_key()).size(), kMaxValueBytes);
  EXPECT_NE(shared->value(commands_key()).find(last.command.command.id), std::string::npos);
  fleet::TrimmedView trimmed;
  r.store.trimmed("prod", trimmed);
  EXPECT_GT(trimmed.total, 0u) << "open commands left the history without a record";
}

TEST(StateKeeper, AStoreThatFailsFastIsNotHammered) {
  auto shared = std::make_shared<test::FakeStore>();
  KeeperOptions o;
  o.retry = 200ms;
  o.answer_timeout = 1s;
  Replica r(shared, "a", o);
  r.lead(1);
  ASSERT_TRUE(eventually([&] { return r.leadership.ready(); }));
  r.backend->down = true;
  r.store.register_node("prod", fleet::NodeInfo{"n1", "1", "h"});
  std::this_thread::sleep_for(1s);
  EXPECT_LE(r.keeper.status().write_failures, 8u) << "retried without backing off";
  EXPECT_GE(r.keeper.status().write_failures, 1u);
}

TEST(StateKeeper, AMalformedObjectKeepsTheReplicaFromServing) {
  auto shared = std::make_shared<test::FakeStore>();
  shared->objects[commands_key()] = {"{\"format\":1,\"kind\":\"commands\"}", 7};
  Replica r(shared, "a");
  r.lead(1);
  ASSERT_TRUE(eventually([&] { return !r.keeper.status().last_error.empty(); }));
  EXPECT_FALSE(r.leadership.ready());
  EXPECT_NE(r.keeper.status().last_error.find("commands"), std::string::npos)
      << r.keeper.status().last_error;
  EXPECT_EQ(shared->value(commands_key()), "{\"format\":1,\"kind\":\"commands\"}")
      << "a malformed object was overwritten (its state lost)";
}

TEST(StateKeeper, AWriterOfTheWrongTypesIsAnErrorNotACrash) {
  auto shared = std::make_shared<test::FakeStore>();
  shared->objects[nodes_key()] = {
      "{\"format\":1,\"kind\":\"nodes\",\"deployment\":\"prod\",\"writer\":{\"scope\":5,"
      "\"epoch\":\"7\"},\"next_number\":1,\"nodes\":[]}",
      3};
  Replica r(shared, "a");
  r.lead(1);
  // Loaded (the writer is only a hint at load) and claimed: no exception.
  ASSERT_TRUE(eventually([&] { return r.leadership.ready(); }));
  EXPECT_EQ(writer_epoch(shared->value(nodes_key())), 1u);
}

TEST(StateKeeper, WithoutABackendEverythingIsDurableAtOnce) {
  LeadershipState leadership;
  fleet::FleetStore store({"prod"}, {});
  StateKeeper keeper(nullptr, store, leadership, {"prod"}, "a");
  keeper.start();
  bool called = false;
  keeper.after_durable("prod", DurablePart::kCommands, 99, true,
                       [&](const Durability& d) { called = d.kind == Durability::Kind::kDurable; });
  EXPECT_TRUE(called);
  EXPECT_FALSE(keeper.status().durable);
}

}  // namespace
}  // namespace pgdc::state
