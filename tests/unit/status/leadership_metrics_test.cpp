#include "status/leadership_metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "metrics/prometheus_sample.h"

namespace pgdc {
namespace {

using namespace std::chrono_literals;

using test::sample;

TEST(LeadershipMetrics, SeriesExistBeforeAnySnapshot) {
  Metrics m;
  LeadershipMetrics lm(m);
  const auto text = m.serialize();
  for (const char* name :
       {"pgdog_control_leader", "pgdog_control_leader_epoch",
        "pgdog_control_leadership_transitions_total", "pgdog_control_leader_validity_seconds"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
    EXPECT_NE(text.find(std::string("# HELP ") + name + " "), std::string::npos) << name;
  }
  EXPECT_EQ(sample(text, "pgdog_control_leader"), "0");
}

TEST(LeadershipMetrics, PluginsCannotWriteThem) {
  Metrics m;
  LeadershipMetrics lm(m);
  std::string error;
  for (const char* name : {"leader", "leader_epoch", "leader_validity_seconds"}) {
    EXPECT_EQ(m.define(Metrics::Kind::kGauge, name, "", "", {}, &error), -1) << name;
    EXPECT_NE(error.find("reserved for the core"), std::string::npos) << error;
  }
  EXPECT_EQ(m.define(Metrics::Kind::kCounter, "leadership_transitions_total", "", "", {}, &error),
            -1);
}

TEST(LeadershipMetrics, GaugesFollowSnapshots) {
  Metrics m;
  LeadershipMetrics lm(m);
  LeadershipSnapshot s;
  s.role = Role::kLeader;
  s.ready = true;
  s.epoch = Epoch{"uid", 9};
  s.transitions = 1;
  s.valid_until = LeaseClock::now() + 10s;
  lm.record(s);
  auto text = m.serialize();
  EXPECT_EQ(sample(text, "pgdog_control_leader"), "1");
  EXPECT_EQ(sample(text, "pgdog_control_leader_epoch"), "9");
  EXPECT_EQ(sample(text, "pgdog_control_leadership_transitions_total"), "1");
  const double validity = std::stod(sample(text, "pgdog_control_leader_validity_seconds"));
  EXPECT_GT(validity, 8);
  EXPECT_LE(validity, 10);

  s.valid_until = LeaseTime::max();
  lm.record(s);
  EXPECT_EQ(sample(m.serialize(), "pgdog_control_leader_validity_seconds"), "+Inf");

  // Reported leader but past its deadline: not ready, no validity.
  s.ready = false;
  s.valid_until = LeaseClock::now() - 1s;
  lm.record(s);
  text = m.serialize();
  EXPECT_EQ(sample(text, "pgdog_control_leader"), "0");
  EXPECT_EQ(sample(text, "pgdog_control_leader_validity_seconds"), "0");

  s.role = Role::kFollower;
  s.transitions = 2;
  s.epoch = Epoch{};
  lm.record(s);
  text = m.serialize();
  EXPECT_EQ(sample(text, "pgdog_control_leader"), "0");
  EXPECT_EQ(sample(text, "pgdog_control_leader_epoch"), "0");
  EXPECT_EQ(sample(text, "pgdog_control_leadership_transitions_total"), "2");
}

// The transitions counter only moves up, even if a snapshot says less.
TEST(LeadershipMetrics, TransitionsNeverDecrease) {
  Metrics m;
  LeadershipMetrics lm(m);
  LeadershipSnapshot s;
  s.transitions = 4;
  lm.record(s);
  s.transitions = 2;
  lm.record(s);
  EXPECT_EQ(sample(m.serialize(), "pgdog_control_leadership_transitions_total"), "4");
  s.transitions = 6;
  lm.record(s);
  EXPECT_EQ(sample(m.serialize(), "pgdog_control_leadership_transitions_total"), "6");
}

TEST(LeadershipMetrics, ConcurrentRecordsKeepTheMaximum) {
  Metrics m;
  LeadershipMetrics lm(m);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&lm, t] {
      for (int i = 0; i < 200; ++i) {
        LeadershipSnapshot s;
        s.transitions = static_cast<std::uint64_t>(i + t);
        lm.record(s);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(sample(m.serialize(), "pgdog_control_leadership_transitions_total"), "202");
}

}  // namespace
}  // namespace pgdc
