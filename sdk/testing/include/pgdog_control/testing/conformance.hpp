// The backend conformance suite: what every coordination plugin must do,
// checked through its C ABI with the mock host. Use it from a test binary
// linked with PgDogControl::testing and GTest::gmock_main:
//
//   #include <pgdog_control/testing/conformance.hpp>
//   #include <pgdog_control/testing/load.hpp>
//
//   struct MyBackend {
//     // Called once per test: a fresh environment (lock file, namespace...).
//     static pgdc::sdk::testing::BackendUnderTest make() {
//       pgdc::sdk::testing::BackendUnderTest b;
//       b.descriptor = pgdc::sdk::testing::load_descriptor(MY_PLUGIN_PATH, nullptr);
//       pgdc::sdk::testing::HostConfig c;
//       c.options_json = R"({"endpoint":"..."})";
//       b.config_json = pgdc::sdk::testing::host_config_json(c);
//       b.identity = c.identity;
//       c.identity = "conformance-b";
//       b.second_config_json = pgdc::sdk::testing::host_config_json(c);
//       return b;
//     }
//   };
//   namespace pgdc::sdk::testing {
//   INSTANTIATE_TYPED_TEST_SUITE_P(Conformance, BackendConformance, ::MyBackend);
//   }
//
// (The INSTANTIATE line must sit in namespace pgdc::sdk::testing, where the suite
// is. gtest names: Conformance/BackendConformance/0.ReleaseOnStop;
// gtest_discover_tests names: Conformance.ReleaseOnStop<MyBackend>.)
//
// What is checked, each a test:
//   DescriptorIsValid             magic, ABI, sizes, name, function table
//   CreateStartStopDestroy        the whole life cycle, first report arrives
//   CreateThenDestroyWithoutStart destroy() of an instance never started
//   StopReturnsByDeadline         stop() returns by its deadline (+ slack)
//   StopWithElapsedDeadline       a deadline already past still returns soon
//   NoHostCallAfterStop           nothing reaches the host once stop() returned
//   LeadershipReportsAreValid     size set, fields valid, a lone replica leads,
//                                 holder = identity, epochs of successive terms
//                                 strictly increase within a scope
//   ReleaseOnStop                 stop(release=1) by a leader returns PGDC_OK
//   InvalidConfigIsRejected       "not json" (and invalid_configs) fail create()
//                                 with PGDC_ERR_CONFIG and a message, no crash
//   ErrorMessageFitsTheBuffer     the message respects pgdc_errbuf.cap
//   OnlyOneReplicaLeads           two instances on one config: one leader
//   ReleaseHandsOverWithHigherEpoch  after a release the other replica leads,
//                                 with a higher epoch in the same scope
// The last two need replicas_compete (skipped otherwise, e.g. for noop).
//
// Header-only and safe to include in several files of one test binary.
#ifndef PGDOG_CONTROL_TESTING_CONFORMANCE_HPP
#define PGDOG_CONTROL_TESTING_CONFORMANCE_HPP

#include <pgdog_control/plugin.h>
#include <pgdog_control/host.hpp>
#include <pgdog_control/testing/mock_host.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pgdc::sdk::testing {

// Quotes a string as a JSON string literal.
inline std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// The settings the host passes to create() (see pgdc_vtable.create), with
// test-friendly defaults: short timings so a suite runs in seconds.
struct HostConfig {
  std::string identity = "conformance-a";
  std::string lease_name = "pgdog-control-conformance";
  std::string lease_namespace = "default";
  std::int64_t lease_duration_ms = 3000;
  std::int64_t renew_deadline_ms = 2000;
  std::int64_t lease_interval_ms = 100;
  std::int64_t release_timeout_ms = 2000;
  std::string advertise_address = "127.0.0.1:8080";
  std::string options_json = "{}";  // leader.options, a JSON object
};

inline std::string host_config_json(const HostConfig& c) {
  return "{\"identity\":" + json_quote(c.identity) + ",\"lease_name\":" + json_quote(c.lease_name) +
         ",\"namespace\":" + json_quote(c.lease_namespace) +
         ",\"lease_duration_ms\":" + std::to_string(c.lease_duration_ms) +
         ",\"renew_deadline_ms\":" + std::to_string(c.renew_deadline_ms) +
         ",\"lease_interval_ms\":" + std::to_string(c.lease_interval_ms) +
         ",\"release_timeout_ms\":" + std::to_string(c.release_timeout_ms) +
         ",\"advertise_address\":" + json_quote(c.advertise_address) +
         ",\"options\":" + (c.options_json.empty() ? std::string("{}") : c.options_json) + "}";
}

// What a backend's factory returns for one test.
struct BackendUnderTest {
  const pgdc_plugin_descriptor* descriptor = nullptr;
  // A valid config (host_config_json helps). Every instance in a test uses
  // it, except the second replica in the two-replica tests.
  std::string config_json;
  // The identity in config_json: a lone replica must lead with this holder.
  // Empty: the holder is only checked to be non-empty.
  std::string identity;
  // A second replica's config (another identity, same election). Empty:
  // config_json again.
  std::string second_config_json;
  // Instances on the same config compete for one leadership, and epochs
  // continue across instances. false only for single-replica backends
  // (noop): the two-replica tests are then skipped.
  bool replicas_compete = true;
  // How long a lone replica, or the next one after a release, may take to lead.
  std::chrono::milliseconds acquire_timeout{5000};
  // How long the suite lets an instance run to collect reports.
  std::chrono::milliseconds observe_for{300};
  // Allowed lateness of stop() past its deadline (scheduling noise).
  std::chrono::milliseconds stop_slack{250};
  // Configs that create() must reject with PGDC_ERR_CONFIG, besides "not json".
  std::vector<std::string> invalid_configs;
};

// The typed test suite. Traits: a type with
//   static pgdc::sdk::testing::BackendUnderTest make();
template <typename Traits>
class BackendConformance : public ::testing::Test {
 protected:
  // One plugin instance with its own mock host; the host outlives it.
  struct Replica {
    std::unique_ptr<::testing::NiceMock<MockHost>> host =
        std::make_unique<::testing::NiceMock<MockHost>>();
    std::unique_ptr<pgdc::sdk::host::Instance> instance;
  };

  void SetUp() override {
    backend_ = Traits::make();
    ASSERT_NE(backend_.descriptor, nullptr) << "the factory returned no descriptor";
    const std::string problem = pgdc::sdk::host::check_descriptor(backend_.descriptor, "plugin");
    ASSERT_EQ(problem, "");
    ASSERT_FALSE(backend_.config_json.empty()) << "the factory returned no config";
  }

  void TearDown() override {
    for (auto& r : replicas_) {
      if (r->instance && r->instance->running()) stop(*r, false);
      r->host->mark_stopped();  // destroy() must not call the host either
      r->instance.reset();
      EXPECT_THAT(r->host->violations(), ::testing::IsEmpty());
    }
    replicas_.clear();
  }

  Replica& create(const std::string& config) {
    replicas_.push_back(std::make_unique<Replica>());
    Replica& r = *replicas_.back();
    std::string error;
    r.instance =
        pgdc::sdk::host::Instance::create(backend_.descriptor, r.host->c_host(), config, &error);
    EXPECT_NE(r.instance, nullptr) << error;
    return r;
  }

  Replica& start(const std::string& config) {
    Replica& r = create(config);
    if (r.instance) {
      std::string error;
      EXPECT_TRUE(r.instance->start(&error)) << error;
    }
    return r;
  }

  // Stops with a deadline stop_timeout from now; marks the host stopped as
  // soon as stop() returns. Returns the host time stop() took.
  std::int64_t stop(Replica& r, bool release,
                    std::chrono::nanoseconds timeout = std::chrono::seconds(2)) {
    const std::int64_t begin = r.host->clock().now_ns();
    std::string error;
    const bool ok = r.instance->stop(release, begin + timeout.count(), &error);
    r.host->mark_stopped();
    EXPECT_TRUE(ok) << error;
    return r.host->clock().now_ns() - begin;
  }

  static bool has_leader(const MockHost& h) {
    for (const Observation& o : h.observations()) {
      if (o.leader()) return true;
    }
    return false;
  }

  static Observation last_leader(const MockHost& h) {
    Observation found;
    for (const Observation& o : h.observations()) {
      if (o.leader()) found = o;
    }
    return found;
  }

  // Field checks on every report, and strictly increasing epochs for
  // successive leader terms within one scope.
  void check_reports(const MockHost& h) {
    bool have_term = false;
    std::string scope;
    std::uint64_t epoch = 0;
    for (const Observation& o : h.observations()) {
      SCOPED_TRACE(::testing::PrintToString(o));
      EXPECT_GE(o.size, pgdc::sdk::host::kLeadershipMinSize) << "pgdc_leadership.size is not set";
      EXPECT_TRUE(o.role == PGDC_ROLE_LEADER || o.role == PGDC_ROLE_FOLLOWER) << "bad role";
      if (!o.leader()) continue;
      EXPECT_GT(o.epoch, 0u) << "a leader report needs an epoch > 0";
      EXPECT_FALSE(o.holder.empty()) << "a leader report needs a holder";
      if (!backend_.identity.empty()) {
        EXPECT_EQ(o.holder, backend_.identity);
      }
      EXPECT_GT(o.valid_until_ns, o.observed_at_ns) << "a leader report already expired";
      if (have_term && o.epoch_scope == scope && o.epoch != epoch) {
        EXPECT_GT(o.epoch, epoch) << "epochs of successive terms must strictly increase";
      }
      have_term = true;
      scope = o.epoch_scope;
      epoch = o.epoch;
    }
  }

  const std::string& second_config() const {
    return backend_.second_config_json.empty() ? backend_.config_json : backend_.second_config_json;
  }

  BackendUnderTest backend_;
  std::vector<std::unique_ptr<Replica>> replicas_;
};

TYPED_TEST_SUITE_P(BackendConformance);

TYPED_TEST_P(BackendConformance, DescriptorIsValid) {
  const pgdc_plugin_descriptor* d = this->backend_.descriptor;
  EXPECT_EQ(d->magic, PGDC_PLUGIN_MAGIC);
  EXPECT_EQ(d->abi_major, PGDC_ABI_MAJOR);
  EXPECT_LE(d->abi_minor, PGDC_ABI_MINOR);
  EXPECT_GE(d->size, pgdc::sdk::host::kDescriptorMinSize);
  EXPECT_TRUE(pgdc::sdk::host::valid_plugin_name(d->name)) << d->name;
  ASSERT_NE(d->version, nullptr);
  EXPECT_STRNE(d->version, "");
  ASSERT_NE(d->description, nullptr);
  EXPECT_STRNE(d->description, "");
  EXPECT_GE(d->vtable->size, pgdc::sdk::host::kVtableMinSize);
}

TYPED_TEST_P(BackendConformance, CreateStartStopDestroy) {
  auto& r = this->start(this->backend_.config_json);
  ASSERT_TRUE(r.instance);
  EXPECT_TRUE(r.host->wait_for_any_observation(this->backend_.acquire_timeout))
      << "no leadership report after start()";
  this->stop(r, false);
  r.instance.reset();
}

TYPED_TEST_P(BackendConformance, CreateThenDestroyWithoutStart) {
  auto& r = this->create(this->backend_.config_json);
  ASSERT_TRUE(r.instance);
  r.host->mark_stopped();  // never started: no host call allowed
  r.instance.reset();
  EXPECT_EQ(r.host->calls_after_stop(), 0);
}

TYPED_TEST_P(BackendConformance, StopReturnsByDeadline) {
  auto& r = this->start(this->backend_.config_json);
  ASSERT_TRUE(r.instance);
  ASSERT_TRUE(r.host->wait_for_any_observation(this->backend_.acquire_timeout));
  const auto timeout = std::chrono::milliseconds(1000);
  const std::int64_t took = this->stop(r, false, timeout);
  EXPECT_LE(took, (timeout + this->backend_.stop_slack).count() * 1'000'000)
      << "stop() returned " << took / 1'000'000 << " ms after it was called";
}

TYPED_TEST_P(BackendConformance, StopWithElapsedDeadline) {
  auto& r = this->start(this->backend_.config_json);
  ASSERT_TRUE(r.instance);
  ASSERT_TRUE(r.host->wait_for_any_observation(this->backend_.acquire_timeout));
  const std::int64_t begin = r.host->clock().now_ns();
  std::string error;
  r.instance->stop(true, begin - 1, &error);  // may fail to release: no time left
  r.host->mark_stopped();
  const std::int64_t took = r.host->clock().now_ns() - begin;
  EXPECT_LE(took, std::chrono::nanoseconds(this->backend_.stop_slack).count())
      << "stop() with an elapsed deadline took " << took / 1'000'000 << " ms";
}

TYPED_TEST_P(BackendConformance, NoHostCallAfterStop) {
  auto& r = this->start(this->backend_.config_json);
  ASSERT_TRUE(r.instance);
  ASSERT_TRUE(r.host->wait_for_any_observation(this->backend_.acquire_timeout));
  std::this_thread::sleep_for(this->backend_.observe_for);
  this->stop(r, false);
  // Stragglers: a thread that was not joined would call in now.
  std::this_thread::sleep_for(this->backend_.observe_for);
  EXPECT_EQ(r.host->calls_after_stop(), 0);
  EXPECT_THAT(r.host->violations(), ::testing::IsEmpty());
}

TYPED_TEST_P(BackendConformance, LeadershipReportsAreValid) {
  auto& r = this->start(this->backend_.config_json);
  ASSERT_TRUE(r.instance);
  EXPECT_TRUE(r.host->wait_for_leader(this->backend_.acquire_timeout))
      << "a lone replica did not become leader";
  std::this_thread::sleep_for(this->backend_.observe_for);
  this->stop(r, false);
  this->check_reports(*r.host);
}

TYPED_TEST_P(BackendConformance, ReleaseOnStop) {
  auto& r = this->start(this->backend_.config_json);
  ASSERT_TRUE(r.instance);
  ASSERT_TRUE(r.host->wait_for_leader(this->backend_.acquire_timeout));
  this->stop(r, true);  // expects PGDC_OK
  std::this_thread::sleep_for(this->backend_.observe_for);
  EXPECT_EQ(r.host->calls_after_stop(), 0);
  this->check_reports(*r.host);
}

TYPED_TEST_P(BackendConformance, InvalidConfigIsRejected) {
  std::vector<std::string> configs = {"not json"};
  configs.insert(configs.end(), this->backend_.invalid_configs.begin(),
                 this->backend_.invalid_configs.end());
  for (const std::string& config : configs) {
    SCOPED_TRACE("config: " + config);
    ::testing::NiceMock<MockHost> host;
    char buf[512] = {};
    pgdc_instance* out = nullptr;
    const std::int32_t status = this->backend_.descriptor->vtable->create(
        host.c_host(), pgdc_str{config.data(), config.size()}, &out, pgdc_errbuf{buf, sizeof(buf)});
    EXPECT_EQ(status, PGDC_ERR_CONFIG) << pgdc::sdk::host::status_text(status);
    EXPECT_STRNE(buf, "") << "create() failed without a message";
    if (status == PGDC_OK && out != nullptr) this->backend_.descriptor->vtable->destroy(out);
  }
}

TYPED_TEST_P(BackendConformance, ErrorMessageFitsTheBuffer) {
  ::testing::NiceMock<MockHost> host;
  char buf[64];
  std::memset(buf, 'Z', sizeof(buf));
  constexpr std::size_t kCap = 8;
  pgdc_instance* out = nullptr;
  const std::string config = "not json";
  const std::int32_t status = this->backend_.descriptor->vtable->create(
      host.c_host(), pgdc_str{config.data(), config.size()}, &out, pgdc_errbuf{buf, kCap});
  EXPECT_NE(status, PGDC_OK);
  EXPECT_NE(std::memchr(buf, '\0', kCap), nullptr) << "message not NUL-terminated within cap";
  for (std::size_t i = kCap; i < sizeof(buf); ++i) {
    ASSERT_EQ(buf[i], 'Z') << "create() wrote past pgdc_errbuf.cap at byte " << i;
  }
  if (status == PGDC_OK && out != nullptr) this->backend_.descriptor->vtable->destroy(out);
}

TYPED_TEST_P(BackendConformance, OnlyOneReplicaLeads) {
  if (!this->backend_.replicas_compete) GTEST_SKIP() << "single-replica backend";
  auto& a = this->start(this->backend_.config_json);
  auto& b = this->start(this->second_config());
  ASSERT_TRUE(a.instance && b.instance);
  const auto give_up = std::chrono::steady_clock::now() + this->backend_.acquire_timeout;
  while (!this->has_leader(*a.host) && !this->has_leader(*b.host) &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(this->has_leader(*a.host) || this->has_leader(*b.host))
      << "neither replica became leader";
  std::this_thread::sleep_for(this->backend_.observe_for);
  EXPECT_FALSE(this->has_leader(*a.host) && this->has_leader(*b.host))
      << "both replicas reported leadership";
  this->stop(a, false);
  this->stop(b, false);
}

TYPED_TEST_P(BackendConformance, ReleaseHandsOverWithHigherEpoch) {
  if (!this->backend_.replicas_compete) GTEST_SKIP() << "single-replica backend";
  auto& a = this->start(this->backend_.config_json);
  ASSERT_TRUE(a.instance);
  ASSERT_TRUE(a.host->wait_for_leader(this->backend_.acquire_timeout));
  auto& b = this->start(this->second_config());
  ASSERT_TRUE(b.instance);
  std::this_thread::sleep_for(this->backend_.observe_for);
  EXPECT_FALSE(this->has_leader(*b.host)) << "the second replica led while the first held it";
  const Observation first = this->last_leader(*a.host);
  this->stop(a, true);
  ASSERT_TRUE(b.host->wait_for_leader(this->backend_.acquire_timeout))
      << "the other replica did not take over after a release";
  const Observation second = this->last_leader(*b.host);
  if (second.epoch_scope == first.epoch_scope) {
    EXPECT_GT(second.epoch, first.epoch)
        << "the next term in scope \"" << first.epoch_scope << "\" must have a higher epoch";
  }
  this->stop(b, true);
  this->check_reports(*a.host);
}

REGISTER_TYPED_TEST_SUITE_P(BackendConformance, DescriptorIsValid, CreateStartStopDestroy,
                            CreateThenDestroyWithoutStart, StopReturnsByDeadline,
                            StopWithElapsedDeadline, NoHostCallAfterStop, LeadershipReportsAreValid,
                            ReleaseOnStop, InvalidConfigIsRejected, ErrorMessageFitsTheBuffer,
                            OnlyOneReplicaLeads, ReleaseHandsOverWithHigherEpoch);

}  // namespace pgdc::sdk::testing

#endif  // PGDOG_CONTROL_TESTING_CONFORMANCE_HPP
