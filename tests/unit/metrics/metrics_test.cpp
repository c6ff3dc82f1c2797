#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>
#include <vector>

#include "metrics/prometheus_sample.h"

namespace pgdc {
namespace {

using namespace std::chrono_literals;
using Kind = Metrics::Kind;
using Op = Metrics::Op;

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

using test::sample;

TEST(Metrics, CoreSeriesArePresent) {
  Metrics m;
  m.record_http("GET", "/healthz", 200, 0.001s);
  const auto text = m.serialize();
  for (const char* name : {"pgdog_control_build_info", "pgdog_control_http_requests_total",
                           "pgdog_control_http_request_duration_seconds"}) {
    EXPECT_TRUE(contains(text, std::string("# TYPE ") + name + " ")) << name << "\n" << text;
    EXPECT_TRUE(contains(text, std::string("# HELP ") + name + " ")) << name;
  }
  EXPECT_TRUE(contains(text, "pgdog_control_build_info{version=\"" PGDC_VERSION "\"} 1"));
}

TEST(Metrics, DefineRecordSerialize) {
  Metrics m;
  std::string error;
  const auto c = m.define(Kind::kCounter, "kube_requests_total", "API requests.",
                          R"({"verb":"GET","code":"200"})", {}, &error);
  ASSERT_GE(c, 0) << error;
  const auto g = m.define(Kind::kGauge, "lease_holder_changes", "", "", {}, &error);
  ASSERT_GE(g, 0) << error;
  const auto h = m.define(Kind::kHistogram, "kube_request_duration_seconds", "Latency.",
                          R"({"verb":"PUT"})", {0.1, 0.5, 1}, &error);
  ASSERT_GE(h, 0) << error;
  EXPECT_NE(c, g);
  EXPECT_NE(g, h);

  m.record(c, Op::kAdd, 2);
  m.record(c, Op::kAdd, 1.5);
  m.record(g, Op::kSet, 10);
  m.record(g, Op::kAdd, -3);
  m.record(h, Op::kObserve, 0.3);
  m.record(h, Op::kObserve, 2);

  const auto text = m.serialize();
  EXPECT_EQ(sample(text, R"(pgdog_control_kube_requests_total{code="200",verb="GET"})"), "3.5")
      << text;
  EXPECT_EQ(sample(text, "pgdog_control_lease_holder_changes"), "7");
  EXPECT_TRUE(contains(text, "# HELP pgdog_control_lease_holder_changes Plugin metric"));
  EXPECT_EQ(
      sample(text, R"(pgdog_control_kube_request_duration_seconds_bucket{verb="PUT",le="0.5"})"),
      "1");
  EXPECT_EQ(sample(text, R"(pgdog_control_kube_request_duration_seconds_count{verb="PUT"})"), "2");
  EXPECT_EQ(sample(text, R"(pgdog_control_kube_request_duration_seconds_sum{verb="PUT"})"), "2.3");
}

TEST(Metrics, SameNameKindLabelsGiveSameHandle) {
  Metrics m;
  const auto a = m.define(Kind::kCounter, "x_total", "X.", R"({"a":"1","b":"2"})", {});
  const auto b = m.define(Kind::kCounter, "x_total", "X.", R"({"b":"2","a":"1"})", {});
  const auto other = m.define(Kind::kCounter, "x_total", "X.", R"({"a":"1","b":"3"})", {});
  EXPECT_GE(a, 0);
  EXPECT_EQ(a, b);
  EXPECT_GE(other, 0);
  EXPECT_NE(a, other);
  EXPECT_EQ(m.define(Kind::kGauge, "y", "", "", {}), m.define(Kind::kGauge, "y", "", " ", {}));
  EXPECT_EQ(m.define(Kind::kGauge, "y", "", "", {}), m.define(Kind::kGauge, "y", "", "{}", {}));
}

TEST(Metrics, KindClashIsRejected) {
  Metrics m;
  std::string error;
  ASSERT_GE(m.define(Kind::kGauge, "queue_depth", "", "", {}, &error), 0);
  EXPECT_EQ(m.define(Kind::kHistogram, "queue_depth", "", "", {}, &error), -1);
  EXPECT_TRUE(contains(error, "already defined as a gauge")) << error;
  // Different buckets or label names for an existing histogram family.
  ASSERT_GE(m.define(Kind::kHistogram, "wait_seconds", "", "", {1, 2}, &error), 0);
  EXPECT_EQ(m.define(Kind::kHistogram, "wait_seconds", "", "", {1, 3}, &error), -1);
  EXPECT_EQ(m.define(Kind::kHistogram, "wait_seconds", "", R"({"a":"b"})", {1, 2}, &error), -1);
  // The registry's own names are reserved whatever the kind.
  EXPECT_EQ(m.define(Kind::kCounter, "http_requests_total", "", "", {}, &error), -1);
  EXPECT_TRUE(contains(error, "reserved")) << error;
  EXPECT_EQ(m.define(Kind::kGauge, "build_info", "", "", {}, &error), -1);
}

// A family belongs to whoever defined it first: a plugin cannot write a core
// family (nor the core a plugin's), whatever the kind and labels.
TEST(Metrics, FamiliesBelongToTheirOwner) {
  Metrics m;
  std::string error;
  const auto core =
      m.define(Kind::kGauge, "leader", "Core.", "", {}, &error, Metrics::Owner::kCore);
  ASSERT_GE(core, 0) << error;
  EXPECT_EQ(m.define(Kind::kGauge, "leader", "", "", {}, &error), -1);
  EXPECT_TRUE(contains(error, "reserved for the core")) << error;
  EXPECT_EQ(m.define(Kind::kGauge, "leader", "", R"({"a":"b"})", {}, &error), -1);
  EXPECT_EQ(m.define(Kind::kGauge, "leader", "", "", {}, &error, Metrics::Owner::kCore), core);

  ASSERT_GE(m.define(Kind::kGauge, "queue_depth", "", "", {}, &error), 0);
  EXPECT_EQ(m.define(Kind::kGauge, "queue_depth", "", "", {}, &error, Metrics::Owner::kCore), -1);
  EXPECT_TRUE(contains(error, "already used by a plugin")) << error;
  // Core help text is kept as given, not labelled a plugin metric.
  EXPECT_TRUE(contains(m.serialize(), "# HELP pgdog_control_leader Core.\n")) << m.serialize();
}

TEST(Metrics, InvalidNamesAreRejected) {
  Metrics m;
  struct Case {
    Kind kind;
    const char* name;
  };
  for (const auto& c : std::vector<Case>{
           {Kind::kGauge, ""},
           {Kind::kGauge, "1abc"},
           {Kind::kGauge, "a-b"},
           {Kind::kGauge, "a b"},
           {Kind::kGauge, "é"},
           {Kind::kGauge, "a:b"},             // reserved for recording rules
           {Kind::kGauge, "queueDepth"},      // camelCase
           {Kind::kCounter, "requests"},      // counter without _total
           {Kind::kGauge, "requests_total"},  // _total on a non-counter
           {Kind::kGauge, "x_count"},         // histogram suffixes
           {Kind::kGauge, "x_bucket"},
           {Kind::kHistogram, "x_sum"},
           {Kind::kGauge, "x_gauge"},            // type in the name
           {Kind::kGauge, "wait_milliseconds"},  // non-base unit
           {Kind::kGauge, "wait_ms"},            // abbreviated unit
           {Kind::kGauge, "size_kilobytes"},
       }) {
    std::string error;
    EXPECT_EQ(m.define(c.kind, c.name, "", "", {}, &error), -1) << c.name;
    EXPECT_FALSE(error.empty()) << c.name;
  }
  EXPECT_EQ(m.define(Kind::kGauge, std::string(300, 'a'), "", "", {}), -1);
  EXPECT_EQ(m.define(Kind::kGauge, "bad_help", "\xff\xfe", "", {}), -1);
  EXPECT_EQ(m.define(Kind::kGauge, "bad_help", "caf\xc3", "", {}), -1);
  EXPECT_GE(m.define(Kind::kGauge, "good_help", "caf\xc3\xa9 \xe2\x82\xac", "", {}), 0);
  EXPECT_EQ(m.define(static_cast<Kind>(7), "fine", "", "", {}), -1);
  // Fine ones, for contrast.
  EXPECT_GE(m.define(Kind::kGauge, "wait_seconds", "", "", {}), 0);
  EXPECT_GE(m.define(Kind::kGauge, "_private", "", "", {}), 0);
  EXPECT_GE(m.define(Kind::kGauge, "size_bytes", "", "", {}), 0);
}

TEST(Metrics, InvalidLabelsAreRejected) {
  Metrics m;
  for (const char* labels :
       {"[]", "\"x\"", "{", "{\"a\":1}", "{\"a\":{\"b\":\"c\"}}", "{\"a\":null}", "{\"a\":[\"x\"]}",
        "{\"1a\":\"x\"}", "{\"a-b\":\"x\"}", "{\"__a\":\"x\"}", "{\"a:b\":\"x\"}", "{\"le\":\"1\"}",
        "{\"quantile\":\"1\"}", "{\"fooBar\":\"x\"}", "{\"\":\"x\"}"}) {
    std::string error;
    EXPECT_EQ(m.define(Kind::kGauge, "g", "", labels, {}, &error), -1) << labels;
    EXPECT_FALSE(error.empty()) << labels;
  }
  std::string error;
  EXPECT_GE(m.define(Kind::kGauge, "g", "", R"({"path":"a \"quoted\"\nvalue\\"})", {}, &error), 0)
      << error;
}

TEST(Metrics, InvalidBucketsAreRejected) {
  Metrics m;
  EXPECT_EQ(m.define(Kind::kHistogram, "a_seconds", "", "", {1, 1}), -1);
  EXPECT_EQ(m.define(Kind::kHistogram, "b_seconds", "", "", {2, 1}), -1);
  EXPECT_EQ(m.define(Kind::kHistogram, "c_seconds", "", "", {1, std::nan("")}), -1);
  EXPECT_EQ(
      m.define(Kind::kHistogram, "d_seconds", "", "", {1, std::numeric_limits<double>::infinity()}),
      -1);
  EXPECT_GE(m.define(Kind::kHistogram, "e_seconds", "", "", {}), 0);  // default buckets
}

TEST(Metrics, CountersNeverDecrease) {
  Metrics m;
  const auto c = m.define(Kind::kCounter, "c_total", "", "", {});
  ASSERT_GE(c, 0);
  m.record(c, Op::kAdd, 5);
  m.record(c, Op::kAdd, -3);
  m.record(c, Op::kSet, 0);
  m.record(c, Op::kObserve, 1);
  m.record(c, Op::kAdd, std::nan(""));
  m.record(c, Op::kAdd, std::numeric_limits<double>::infinity());
  EXPECT_EQ(sample(m.serialize(), "pgdog_control_c_total"), "5");
}

TEST(Metrics, UnknownHandlesAndMismatchedOpsAreIgnored) {
  Metrics m;
  const auto h = m.define(Kind::kHistogram, "wait_seconds", "", "", {1});
  const auto g = m.define(Kind::kGauge, "g", "", "", {});
  m.record(-1, Op::kAdd, 1);
  m.record(12345, Op::kAdd, 1);
  m.record(h, Op::kAdd, 1);
  m.record(h, Op::kSet, 1);
  m.record(g, Op::kObserve, 1);
  const auto text = m.serialize();
  EXPECT_EQ(sample(text, "pgdog_control_wait_seconds_count"), "0");
  EXPECT_EQ(sample(text, "pgdog_control_g"), "0");
}

TEST(Metrics, HttpSeriesNormalizeMethod) {
  Metrics m;
  m.record_http("GET", "/healthz", 200, 0.0004s);
  m.record_http("GET", "/healthz", 200, 0.2s);
  m.record_http("FOOBAR", "", 404, 0.001s);
  const auto text = m.serialize();
  EXPECT_EQ(
      sample(text,
             R"(pgdog_control_http_requests_total{code="200",method="GET",route="/healthz"})"),
      "2")
      << text;
  EXPECT_EQ(
      sample(text,
             R"(pgdog_control_http_requests_total{code="404",method="other",route="unmatched"})"),
      "1");
  EXPECT_EQ(
      sample(text,
             R"(pgdog_control_http_request_duration_seconds_bucket{route="/healthz",le="0.0005"})"),
      "1");
  EXPECT_EQ(sample(text, R"(pgdog_control_http_request_duration_seconds_count{route="/healthz"})"),
            "2");
}

TEST(Metrics, HttpConnections) {
  Metrics m;
  m.record_http_connections(3, 0);
  auto text = m.serialize();
  EXPECT_EQ(sample(text, "pgdog_control_http_connections"), "3") << text;
  EXPECT_EQ(sample(text, "pgdog_control_http_connections_refused_total"), "0");
  m.record_http_connections(7, 5);
  m.record_http_connections(6, 4);  // a stale total never lowers the counter
  text = m.serialize();
  EXPECT_EQ(sample(text, "pgdog_control_http_connections"), "6");
  EXPECT_EQ(sample(text, "pgdog_control_http_connections_refused_total"), "5");
  std::string error;
  EXPECT_EQ(m.define(Kind::kGauge, "http_connections", "", "", {}, &error), -1);
}

TEST(Metrics, ConcurrentDefineAndRecord) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i < 200; ++i) {
        const auto h = m.define(Kind::kCounter, "ops_total", "",
                                R"({"worker":")" + std::to_string(i % 5) + "\"}", {});
        m.record(h, Op::kAdd, 1);
        m.record_http("GET", "/x", 200, 0.001s);
        if (i % 50 == 0) (void)m.serialize();
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto text = m.serialize();
  double total = 0;
  for (int w = 0; w < 5; ++w) {
    total +=
        std::stod(sample(text, R"(pgdog_control_ops_total{worker=")" + std::to_string(w) + "\"}"));
  }
  EXPECT_EQ(total, 800);
  EXPECT_EQ(
      sample(text, R"(pgdog_control_http_requests_total{code="200",method="GET",route="/x"})"),
      "800");
}

TEST(Metrics, CollectorsRunAtEveryScrapeUntilDestroyed) {
  Metrics m;
  const auto g = m.define(Kind::kGauge, "queue_depth", "", "", {});
  int value = 0;
  int runs = 0;
  {
    Metrics::Collector c = m.add_collector([&] {
      ++runs;
      m.record(g, Op::kSet, value);
    });
    value = 7;
    EXPECT_EQ(sample(m.serialize(), "pgdog_control_queue_depth"), "7");
    value = 9;
    Metrics::Collector moved = std::move(c);  // the registration moves with it
    EXPECT_EQ(sample(m.serialize(), "pgdog_control_queue_depth"), "9");
    Metrics::Collector assigned;
    assigned = std::move(moved);
    value = 11;
    EXPECT_EQ(sample(m.serialize(), "pgdog_control_queue_depth"), "11");
    EXPECT_EQ(runs, 3);
  }
  value = 13;  // every handle is gone: no more runs
  EXPECT_EQ(sample(m.serialize(), "pgdog_control_queue_depth"), "11");
  EXPECT_EQ(runs, 3);
}

// `promtool check metrics` (lint included) must accept the full exposition.
TEST(Metrics, PromtoolAcceptsTheExposition) {
  const char* promtool = "/usr/bin/promtool";
  if (::access(promtool, X_OK) != 0) GTEST_SKIP() << "promtool not installed";
  Metrics m;
  const auto core = m.define(Kind::kGauge, "leader_validity_seconds", "Validity.", "", {}, nullptr,
                             Metrics::Owner::kCore);
  ASSERT_GE(core, 0);
  m.record(core, Op::kSet, std::numeric_limits<double>::infinity());
  m.record_http("GET", "/metrics", 200, 0.001s);
  m.record_http("POST", "unmatched", 404, 0.0001s);
  const auto c = m.define(Kind::kCounter, "kube_requests_total", "Requests.\nSecond \\ line.",
                          R"({"verb":"GET","detail":"a \"b\"\nc\\d"})", {});
  const auto g = m.define(Kind::kGauge, "lease_age_seconds", "", "", {});
  const auto h =
      m.define(Kind::kHistogram, "kube_request_duration_seconds", "Latency.", "", {0.1, 1});
  ASSERT_GE(c, 0);
  ASSERT_GE(g, 0);
  ASSERT_GE(h, 0);
  m.record(c, Op::kAdd, 1);
  m.record(g, Op::kSet, std::nan(""));
  m.record(h, Op::kObserve, 0.5);

  const auto path = std::filesystem::temp_directory_path() /
                    ("pgdc_metrics_" + std::to_string(::getpid()) + ".prom");
  {
    std::ofstream out(path);
    out << m.serialize();
  }
  const std::string cmd = std::string(promtool) + " check metrics < " + path.string() + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) output += buf;
  const int status = ::pclose(pipe);
  std::filesystem::remove(path);
  EXPECT_EQ(status, 0) << output << "\n" << m.serialize();
}

}  // namespace
}  // namespace pgdc
