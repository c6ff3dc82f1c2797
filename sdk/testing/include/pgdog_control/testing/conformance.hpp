// The backend conformance suite: what every coordination plugin must do,
// checked through its C ABI with the mock host. Use it from a test binary
// linked with PgDogControl::testing and GTest::gmock_main:
//
//   #include <pgdog_control/testing/conformance.hpp>
//   #include <pgdog_control/testing/load.hpp>
//
//   namespace t = pgdc::sdk::testing;
//   struct MyBackend {
//     // Called once per test: a fresh environment (lock file, namespace...).
//     static t::BackendUnderTest make() {
//       t::BackendUnderTest b;
//       b.descriptor = t::load_descriptor(MY_PLUGIN_PATH, nullptr);
//       t::HostConfig c;  // replica A
//       c.options_json = R"({"endpoint":"..."})";
//       b.config_json = t::host_config_json(c);
//       b.identity = c.identity;
//       b.advertise_address = c.advertise_address;
//       c.identity = "conformance-b";  // replica B: same election
//       c.advertise_address = "127.0.0.2:8080";
//       b.second_config_json = t::host_config_json(c);
//       b.capabilities.follower_knows_holder_address = true;  // what it can do
//       return b;
//     }
//   };
//   namespace pgdc::sdk::testing {
//   INSTANTIATE_TYPED_TEST_SUITE_P(Conformance, BackendConformance, ::MyBackend);
//   }
//
// (The INSTANTIATE line must sit in namespace pgdc::sdk::testing, where the
// suite is. gtest names: Conformance/BackendConformance/0.ReleaseOnStop;
// gtest_discover_tests names: Conformance.ReleaseOnStop<MyBackend>.)
//
// What is checked, each a test (in brackets: the capabilities it needs; a
// test whose capability the backend lacks is skipped, saying which):
//   DescriptorIsValid             magic, ABI, sizes, name, function table
//   CreateStartStopDestroy        the whole life cycle, first report arrives
//   CreateThenDestroyWithoutStart the --check path: no report or progress
//                                 before start(), no host call after create()
//                                 returns or during destroy()
//   IgnoresUnknownHostKeys        a top-level config key it does not know
//   StopReturnsByDeadline         stop() returns by its deadline (+ slack)
//   StopWithElapsedDeadline       a deadline already past still returns soon
//   NoHostCallAfterStop           nothing reaches the host once stop() returned
//   LeadershipReportsAreValid     a lone replica leads, as its identity and
//                                 advertise_address; every report valid (below)
//   ReleaseOnStop                 stop(release=1) by a leader returns PGDC_OK
//   InvalidConfigIsRejected       "not json" (and invalid_configs) fail create()
//                                 with PGDC_ERR_CONFIG and a message, no crash
//   ErrorMessageFitsTheBuffer     the message respects pgdc_errbuf.cap
//   OnlyOneReplicaLeads           [exclusive] two replicas: one leader
//   FollowerReportsTheLeader      [exclusive] while A leads, B follows (naming
//                                 A and its address with follower_knows_*);
//                                 B's stop(release=1) with nothing held
//                                 returns PGDC_OK and leaves A leading
//   ReleaseHandsOverWithHigherEpoch [exclusive, takeover_on_release] after A
//                                 releases, B leads with a higher epoch
//   StopWithoutReleaseHandsOverAtExpiry [exclusive, takeover_on_expiry]
//                                 after A stops without release and is gone,
//                                 B leads (within acquire_timeout)
// ABI 1.4, each skipped (saying so) when the plugin does not offer the entry:
//   MembersListThePublishedSelf   [member_publish, members_list] what A
//                                 publishes is listed (within acquire_timeout),
//                                 fresh; and again after it turns ineligible
//   TransferByAFollowerIsRefused  [exclusive, transfer] B's transfer while A
//                                 leads is PGDC_ERR_CONFLICT; A keeps leading
//   TransferHandsOverToTheTarget  [exclusive, transfer, second_identity] A
//                                 hands over to B: A reports follower, B leads
//                                 with a higher epoch, A does not lead again
// Every report is checked against pgdc_leadership: size set, a known role;
// a leader with epoch >= 1, a holder and a deadline ahead, epochs of
// successive terms strictly increasing within a scope; a follower with
// epoch 0, valid_until_ns 0, and no holder_address without a holder.
//
// Header-only and safe to include in several files of one test binary.
#ifndef PGDOG_CONTROL_TESTING_CONFORMANCE_HPP
#define PGDOG_CONTROL_TESTING_CONFORMANCE_HPP

#include <pgdog_control/plugin.h>
#include <pgdog_control/host.hpp>
#include <pgdog_control/testing/host_config.hpp>
#include <pgdog_control/testing/mock_host.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pgdc::sdk::testing {

// What a backend can do. The defaults describe an election among replicas
// (a lease, a lock); a backend states what differs, and the suite checks
// every capability it claims and skips the cases that need one it lacks.
struct Capabilities {
  // Of two replicas on one election (config_json and second_config_json),
  // at most one leads; the other reports follower. false only for a backend
  // that runs a single replica (noop: every replica leads).
  bool exclusive = true;
  // A follower names the leader (identity) as holder once it has read it.
  bool follower_knows_holder = true;
  // A follower also reports the leader's advertise_address as
  // holder_address (the leader published it, or it is configured).
  bool follower_knows_holder_address = false;
  // After the leader's stop(release=1), the other replica leads, with a
  // higher epoch when the scope stays. false for a leader fixed by
  // configuration.
  bool takeover_on_release = true;
  // After the leader stops without release and is destroyed (its process
  // gone), the other replica leads within acquire_timeout: a lock dies with
  // its holder, a lease expires (acquire_timeout must then cover a lease
  // duration). false for a leader fixed by configuration.
  bool takeover_on_expiry = true;
};

// PGDC_CONFORMANCE_SLACK_MS as milliseconds: unset or empty gives nullopt,
// and so does a value that is not a whole number >= 0 (see timing_slack).
inline std::optional<std::chrono::milliseconds> slack_from_environment() {
  const char* text = std::getenv("PGDC_CONFORMANCE_SLACK_MS");
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  const long long ms = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || ms < 0) return std::nullopt;
  return std::chrono::milliseconds(ms);
}

// What a backend's factory returns for one test.
struct BackendUnderTest {
  const pgdc_plugin_descriptor* descriptor = nullptr;
  // Replica A's config (host_config_json helps); every single-replica test
  // uses it. A lone A must become leader.
  std::string config_json;
  // A's identity: A's leader reports must name it. Empty: the holder is only
  // checked to be non-empty.
  std::string identity;
  // A's advertise_address: A's leader reports carry it as holder_address,
  // and so do B's follower reports with follower_knows_holder_address.
  // Empty: not checked.
  std::string advertise_address;
  // Replica B's config: another identity (and address), the same election.
  // Empty: config_json again.
  std::string second_config_json;
  // B's identity: the target of TransferHandsOverToTheTarget (skipped when
  // empty).
  std::string second_identity;
  Capabilities capabilities;
  // How long a lone replica, or the next one after a release or an expiry,
  // may take to lead.
  std::chrono::milliseconds acquire_timeout{5000};
  // How long the suite lets an instance run to collect reports.
  std::chrono::milliseconds observe_for{300};
  // Allowed lateness of stop() past its deadline (scheduling noise). By
  // default PGDC_CONFORMANCE_SLACK_MS from the environment, so a slow CI
  // run (sanitizers, valgrind, a loaded machine) can widen it without a
  // rebuild, else 250 ms.
  std::chrono::milliseconds timing_slack =
      slack_from_environment().value_or(std::chrono::milliseconds(250));
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
    std::unique_ptr<host::Instance> instance;
  };

  void SetUp() override {
    const char* slack = std::getenv("PGDC_CONFORMANCE_SLACK_MS");
    if (slack != nullptr && *slack != '\0' && !slack_from_environment()) {
      ADD_FAILURE() << "PGDC_CONFORMANCE_SLACK_MS=\"" << slack
                    << "\" is not a whole number of milliseconds >= 0";
    }
    backend_ = Traits::make();
    ASSERT_NE(backend_.descriptor, nullptr) << "the factory returned no descriptor";
    const std::string problem = host::check_descriptor(backend_.descriptor, "plugin");
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

  const Capabilities& can() const { return backend_.capabilities; }

  Replica& create(const std::string& config) {
    replicas_.push_back(std::make_unique<Replica>());
    Replica& r = *replicas_.back();
    std::string error;
    r.instance = host::Instance::create(backend_.descriptor, r.host->c_host(), config, &error);
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

  // Stops with a deadline `timeout` from now; marks the host stopped as soon
  // as stop() returns. Expects PGDC_OK. Returns the host time stop() took.
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

  // Every report against pgdc_leadership (see the top of this file).
  // identity, address: what this replica's leader reports must carry ("" for
  // no check).
  void check_reports(const MockHost& h, std::string_view identity = {},
                     std::string_view address = {}) {
    constexpr std::size_t kWithAddress =
        offsetof(pgdc_leadership, holder_address) + sizeof(pgdc_str);
    bool have_term = false;
    std::string scope;
    std::uint64_t epoch = 0;
    for (const Observation& o : h.observations()) {
      SCOPED_TRACE(::testing::PrintToString(o));
      EXPECT_GE(o.size, host::kLeadershipMinSize) << "pgdc_leadership.size is not set";
      EXPECT_TRUE(o.role == PGDC_ROLE_LEADER || o.role == PGDC_ROLE_FOLLOWER) << "bad role";
      if (!o.leader()) {
        EXPECT_EQ(o.epoch, 0u) << "a follower holds no term: epoch must be 0";
        EXPECT_EQ(o.valid_until_ns, 0) << "a follower holds no term: valid_until_ns must be 0";
        if (o.holder.empty()) {
          EXPECT_EQ(o.holder_address, "") << "a holder_address without a holder";
        }
        continue;
      }
      EXPECT_GT(o.epoch, 0u) << "a leader report needs an epoch > 0";
      EXPECT_FALSE(o.holder.empty()) << "a leader report needs a holder";
      if (!identity.empty()) {
        EXPECT_EQ(o.holder, identity);
      }
      if (!address.empty() && o.size >= kWithAddress) {
        EXPECT_EQ(o.holder_address, address) << "a leader reports its own advertise_address";
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
  void check_a(const MockHost& h) {
    check_reports(h, backend_.identity, backend_.advertise_address);
  }

  const std::string& second_config() const {
    return backend_.second_config_json.empty() ? backend_.config_json : backend_.second_config_json;
  }

  // A starts and leads, then B starts; both running on return.
  std::pair<Replica*, Replica*> leader_then_second() {
    Replica& a = start(backend_.config_json);
    EXPECT_TRUE(a.instance);
    if (!a.instance || !a.host->wait_for_leader(backend_.acquire_timeout)) {
      ADD_FAILURE() << "replica A did not become leader alone";
      return {nullptr, nullptr};
    }
    Replica& b = start(second_config());
    EXPECT_TRUE(b.instance);
    if (!b.instance) return {nullptr, nullptr};
    return {&a, &b};
  }

  BackendUnderTest backend_;
  std::vector<std::unique_ptr<Replica>> replicas_;
};

TYPED_TEST_SUITE_P(BackendConformance);

#define PGDC_CONFORMANCE_NEEDS(capability)                                 \
  if (!this->can().capability) {                                           \
    GTEST_SKIP() << "the backend does not claim capabilities." #capability \
                    " (see "                                               \
                    "pgdc::sdk::testing::Capabilities)";                   \
  }

TYPED_TEST_P(BackendConformance, DescriptorIsValid) {
  const pgdc_plugin_descriptor* d = this->backend_.descriptor;
  EXPECT_EQ(d->magic, PGDC_PLUGIN_MAGIC);
  EXPECT_EQ(d->abi_major, PGDC_ABI_MAJOR);
  EXPECT_LE(d->abi_minor, PGDC_ABI_MINOR);
  EXPECT_GE(d->size, host::kDescriptorMinSize);
  EXPECT_TRUE(host::valid_plugin_name(d->name)) << d->name;
  ASSERT_NE(d->version, nullptr);
  EXPECT_STRNE(d->version, "");
  ASSERT_NE(d->description, nullptr);
  EXPECT_STRNE(d->description, "");
  EXPECT_GE(d->vtable->size, host::kVtableMinSize);
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
  // create() may log and define metrics; it does not campaign.
  EXPECT_THAT(r.host->observations(), ::testing::IsEmpty()) << "on_leadership before start()";
  EXPECT_EQ(r.host->progress_count(), 0) << "report_progress before start()";
  // Never started: no host call from now on, not from a thread create()
  // left behind, not from destroy().
  r.host->mark_stopped();
  std::this_thread::sleep_for(this->backend_.observe_for);
  r.instance.reset();
  EXPECT_EQ(r.host->calls_after_stop(), 0);
}

TYPED_TEST_P(BackendConformance, IgnoresUnknownHostKeys) {
  // A later host may add top-level settings (a minor version); the plugin
  // must not refuse them.
  std::string config = this->backend_.config_json;
  const std::size_t brace = config.find('{');
  ASSERT_NE(brace, std::string::npos) << "config_json is not an object";
  const std::size_t next = config.find_first_not_of(" \t\r\n", brace + 1);
  const bool empty = next != std::string::npos && config[next] == '}';
  config.insert(brace + 1, std::string(R"("x_later_host_setting":{"a":[1,2.5,"x",null,true]})") +
                               (empty ? "" : ","));
  SCOPED_TRACE("config: " + config);
  auto& r = this->create(config);
  EXPECT_TRUE(r.instance) << "create() refused an unknown top-level key";
}

TYPED_TEST_P(BackendConformance, StopReturnsByDeadline) {
  auto& r = this->start(this->backend_.config_json);
  ASSERT_TRUE(r.instance);
  ASSERT_TRUE(r.host->wait_for_any_observation(this->backend_.acquire_timeout));
  const auto timeout = std::chrono::milliseconds(1000);
  const std::int64_t took = this->stop(r, false, timeout);
  EXPECT_LE(took, std::chrono::nanoseconds(timeout + this->backend_.timing_slack).count())
      << "stop() returned " << took / 1'000'000 << " ms after it was called (timing_slack "
      << this->backend_.timing_slack.count() << " ms)";
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
  EXPECT_LE(took, std::chrono::nanoseconds(this->backend_.timing_slack).count())
      << "stop() with an elapsed deadline took " << took / 1'000'000 << " ms (timing_slack "
      << this->backend_.timing_slack.count() << " ms)";
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
  this->check_a(*r.host);
}

TYPED_TEST_P(BackendConformance, ReleaseOnStop) {
  auto& r = this->start(this->backend_.config_json);
  ASSERT_TRUE(r.instance);
  ASSERT_TRUE(r.host->wait_for_leader(this->backend_.acquire_timeout));
  this->stop(r, true);  // expects PGDC_OK
  std::this_thread::sleep_for(this->backend_.observe_for);
  EXPECT_EQ(r.host->calls_after_stop(), 0);
  this->check_a(*r.host);
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
  PGDC_CONFORMANCE_NEEDS(exclusive);
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
  this->check_a(*a.host);
  this->check_reports(*b.host);
}

TYPED_TEST_P(BackendConformance, FollowerReportsTheLeader) {
  PGDC_CONFORMANCE_NEEDS(exclusive);
  const auto [a, b] = this->leader_then_second();
  ASSERT_TRUE(a && b);
  const std::string& leader = this->backend_.identity;
  const std::string& address = this->backend_.advertise_address;
  ASSERT_TRUE(b->host->wait_for_any_observation(this->backend_.acquire_timeout))
      << "the second replica reported nothing";
  if (this->can().follower_knows_holder) {
    EXPECT_TRUE(b->host->wait_for_observation(
        [&](const Observation& o) {
          return !o.leader() && (leader.empty() ? !o.holder.empty() : o.holder == leader);
        },
        this->backend_.acquire_timeout))
        << "no follower report naming the leader \"" << leader << "\"";
  }
  if (this->can().follower_knows_holder_address && !address.empty()) {
    EXPECT_TRUE(b->host->wait_for_observation(
        [&](const Observation& o) { return !o.leader() && o.holder_address == address; },
        this->backend_.acquire_timeout))
        << "no follower report with the leader's address \"" << address << "\"";
  }
  std::this_thread::sleep_for(this->backend_.observe_for);
  EXPECT_FALSE(this->has_leader(*b->host)) << "the second replica led while the first held it";
  // A follower's release: nothing held, so PGDC_OK, and the leader stays.
  this->stop(*b, true);
  std::this_thread::sleep_for(this->backend_.observe_for);
  const std::vector<Observation> seen = a->host->observations();
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(seen.back().leader()) << "the leader lost its term when a follower stopped";
  this->stop(*a, true);
  this->check_a(*a->host);
  this->check_reports(*b->host);
}

TYPED_TEST_P(BackendConformance, ReleaseHandsOverWithHigherEpoch) {
  PGDC_CONFORMANCE_NEEDS(exclusive);
  PGDC_CONFORMANCE_NEEDS(takeover_on_release);
  const auto [a, b] = this->leader_then_second();
  ASSERT_TRUE(a && b);
  std::this_thread::sleep_for(this->backend_.observe_for);
  EXPECT_FALSE(this->has_leader(*b->host)) << "the second replica led while the first held it";
  const Observation first = this->last_leader(*a->host);
  this->stop(*a, true);
  ASSERT_TRUE(b->host->wait_for_leader(this->backend_.acquire_timeout))
      << "the other replica did not take over after a release";
  const Observation second = this->last_leader(*b->host);
  if (second.epoch_scope == first.epoch_scope) {
    EXPECT_GT(second.epoch, first.epoch)
        << "the next term in scope \"" << first.epoch_scope << "\" must have a higher epoch";
  }
  this->stop(*b, true);
  this->check_a(*a->host);
  this->check_reports(*b->host);
}

TYPED_TEST_P(BackendConformance, StopWithoutReleaseHandsOverAtExpiry) {
  PGDC_CONFORMANCE_NEEDS(exclusive);
  PGDC_CONFORMANCE_NEEDS(takeover_on_expiry);
  const auto [a, b] = this->leader_then_second();
  ASSERT_TRUE(a && b);
  std::this_thread::sleep_for(this->backend_.observe_for);
  EXPECT_FALSE(this->has_leader(*b->host)) << "the second replica led while the first held it";
  const Observation first = this->last_leader(*a->host);
  this->stop(*a, false);
  a->instance.reset();  // the process is gone: what it held dies or expires
  ASSERT_TRUE(b->host->wait_for_leader(this->backend_.acquire_timeout))
      << "the other replica did not take over after the leader stopped without release "
         "(acquire_timeout must cover a lease duration)";
  const Observation second = this->last_leader(*b->host);
  if (second.epoch_scope == first.epoch_scope) {
    EXPECT_GT(second.epoch, first.epoch)
        << "the next term in scope \"" << first.epoch_scope << "\" must have a higher epoch";
  }
  this->stop(*b, true);
  this->check_a(*a->host);
  this->check_reports(*b->host);
}

TYPED_TEST_P(BackendConformance, MembersListThePublishedSelf) {
  auto& a = this->start(this->backend_.config_json);
  ASSERT_TRUE(a.instance);
  if (!a.instance->has_member_publish() || !a.instance->has_members_list()) {
    GTEST_SKIP() << "the plugin offers no member_publish/members_list (ABI 1.4)";
  }
  host::Instance::Member self;
  self.identity = this->backend_.identity.empty() ? "conformance-a" : this->backend_.identity;
  self.address = this->backend_.advertise_address;
  self.version = "9.8.7";
  self.backend = "conformance 1.0.0";
  self.eligible = true;
  const auto listed = [&](bool eligible) {
    const auto give_up = std::chrono::steady_clock::now() + this->backend_.acquire_timeout;
    while (std::chrono::steady_clock::now() < give_up) {
      const auto r = a.instance->members_list(a.host->clock().now_ns() + 1'000'000'000);
      EXPECT_EQ(r.status, PGDC_OK) << r.error;
      for (const auto& m : r.members) {
        if (m.identity == self.identity && m.version == self.version && m.backend == self.backend &&
            m.eligible == eligible) {
          EXPECT_EQ(m.address, self.address);
          EXPECT_FALSE(m.stale) << "a member that just published is stale";
          return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  const auto published = a.instance->member_publish(self);
  ASSERT_EQ(published.status, PGDC_OK) << published.error;
  EXPECT_TRUE(listed(true)) << "members_list never showed what member_publish published";
  self.eligible = false;
  ASSERT_EQ(a.instance->member_publish(self).status, PGDC_OK);
  EXPECT_TRUE(listed(false)) << "members_list never showed the member as ineligible";
  this->stop(a, true);
}

TYPED_TEST_P(BackendConformance, TransferByAFollowerIsRefused) {
  PGDC_CONFORMANCE_NEEDS(exclusive);
  const auto [a, b] = this->leader_then_second();
  ASSERT_TRUE(a && b);
  if (!b->instance->has_transfer()) GTEST_SKIP() << "the plugin offers no transfer (ABI 1.4)";
  ASSERT_TRUE(b->host->wait_for_any_observation(this->backend_.acquire_timeout));
  const std::string to =
      this->backend_.identity.empty() ? "conformance-a" : this->backend_.identity;
  const auto r = b->instance->transfer(to, b->host->clock().now_ns() + 2'000'000'000);
  EXPECT_EQ(r.status, PGDC_ERR_CONFLICT) << "a follower's transfer: " << r.error;
  std::this_thread::sleep_for(this->backend_.observe_for);
  const std::vector<Observation> seen = a->host->observations();
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(seen.back().leader()) << "the leader lost its term to a follower's transfer";
  EXPECT_FALSE(this->has_leader(*b->host));
  this->stop(*a, true);
  this->stop(*b, true);
  this->check_a(*a->host);
  this->check_reports(*b->host);
}

TYPED_TEST_P(BackendConformance, TransferHandsOverToTheTarget) {
  PGDC_CONFORMANCE_NEEDS(exclusive);
  if (this->backend_.second_identity.empty()) GTEST_SKIP() << "no second_identity to hand over to";
  const auto [a, b] = this->leader_then_second();
  ASSERT_TRUE(a && b);
  if (!a->instance->has_transfer()) GTEST_SKIP() << "the plugin offers no transfer (ABI 1.4)";
  // B has read the election (it names the leader) before it is handed it.
  ASSERT_TRUE(b->host->wait_for_observation(
      [&](const Observation& o) { return !o.leader() && !o.holder.empty(); },
      this->backend_.acquire_timeout));
  const Observation first = this->last_leader(*a->host);
  const auto r = a->instance->transfer(this->backend_.second_identity,
                                       a->host->clock().now_ns() + 2'000'000'000);
  ASSERT_EQ(r.status, PGDC_OK) << r.error;
  const std::vector<Observation> after = a->host->observations();
  ASSERT_FALSE(after.empty());
  EXPECT_FALSE(after.back().leader()) << "transfer returned while the old leader still led";
  ASSERT_TRUE(b->host->wait_for_leader(this->backend_.acquire_timeout))
      << "the target did not lead after the handover";
  const Observation second = this->last_leader(*b->host);
  if (second.epoch_scope == first.epoch_scope) {
    EXPECT_GT(second.epoch, first.epoch);
  }
  std::this_thread::sleep_for(this->backend_.observe_for);
  EXPECT_FALSE(a->host->observations().back().leader()) << "the old leader led again";
  this->stop(*a, true);
  this->stop(*b, true);
  this->check_a(*a->host);
  this->check_reports(*b->host);
}

#undef PGDC_CONFORMANCE_NEEDS

REGISTER_TYPED_TEST_SUITE_P(BackendConformance, DescriptorIsValid, CreateStartStopDestroy,
                            CreateThenDestroyWithoutStart, IgnoresUnknownHostKeys,
                            StopReturnsByDeadline, StopWithElapsedDeadline, NoHostCallAfterStop,
                            LeadershipReportsAreValid, ReleaseOnStop, InvalidConfigIsRejected,
                            ErrorMessageFitsTheBuffer, OnlyOneReplicaLeads,
                            FollowerReportsTheLeader, ReleaseHandsOverWithHigherEpoch,
                            StopWithoutReleaseHandsOverAtExpiry, MembersListThePublishedSelf,
                            TransferByAFollowerIsRefused, TransferHandsOverToTheTarget);

}  // namespace pgdc::sdk::testing

#endif  // PGDOG_CONTROL_TESTING_CONFORMANCE_HPP
