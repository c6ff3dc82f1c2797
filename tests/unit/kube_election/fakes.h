// Test doubles for the Kubernetes Lease election, no network and no sleeps:
//  - Timeline: the one "real" time of a test; every FakeClock is a view of it
//    (own steady origin, own wall offset, own rate), so several electors can
//    run on one deterministic time line and a hung request moves time on for
//    everybody.
//  - FakeApiServer: coordination.k8s.io/v1 Lease semantics for one namespace
//    (GET / POST / PUT / DELETE, resourceVersion preconditions, uid per
//    create, 404 / 409 / 422 Status objects shaped like the real API
//    server's), a watch event history, RBAC denials and fault injection.
//  - Link: one replica's network path to the server (its own faults, latency,
//    partition), recording every request with its send time.
//  - MockTransport: a GoogleMock ApiTransport whose default action is the Link.
//  - Replica: clock + link + mock + KubeLeaseApi + Elector, with its reports,
//    logs and event counters.
//  - IntervalChecker: records every report and every step of every elector on
//    the time line and proves that no two electors lead at the same instant
//    and that epochs (uid, transitions) strictly increase within a uid.
//  - Sim: runs several replicas on one server and one time line, each at the
//    time it asked for, feeding watch events to replicas that watch.
#pragma once

#include <gmock/gmock.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/api_transport.h"
#include "election/elector.h"
#include "election/lease.h"
#include "election/lease_api.h"

namespace pgdc::kube {
// Readable gtest output.
void PrintTo(const LeaseSpec& s, std::ostream* os);
void PrintTo(const ElectorState& s, std::ostream* os);
}  // namespace pgdc::kube

namespace pgdc::kube::testing {

using Nanos = std::chrono::nanoseconds;
using json = nlohmann::json;

inline constexpr const char* kNamespace = "pgdog";
inline constexpr const char* kLeaseName = "pgdog-control-leader";
inline constexpr const char* kLeasePath =
    "/apis/coordination.k8s.io/v1/namespaces/pgdog/leases/pgdog-control-leader";
inline constexpr const char* kCollectionPath =
    "/apis/coordination.k8s.io/v1/namespaces/pgdog/leases";

// 2026-07-24T14:05:30.123456789Z: sub-microsecond digits on purpose.
WallTime default_wall_origin();

class Timeline {
 public:
  Nanos now() const { return now_; }
  void advance(Nanos d) {
    if (d > Nanos::zero()) now_ += d;
  }
  void advance_to(Nanos t) {
    if (t > now_) now_ = t;
  }

 private:
  Nanos now_{0};
};

// An ElectorClock on a Timeline. steady() and wall() advance together at
// `rate` times the time line's pace; tests can jump wall or steady alone.
class FakeClock final : public ElectorClock {
 public:
  struct Options {
    LeaseTime steady_origin = LeaseTime(std::chrono::hours(1000));
    WallTime wall_origin = default_wall_origin();
    double rate = 1.0;  // clock-rate skew: 1.1 runs 10% fast
  };
  explicit FakeClock(Timeline& timeline) : FakeClock(timeline, Options{}) {}
  FakeClock(Timeline& timeline, Options options) : timeline_(timeline), options_(options) {}

  LeaseTime steady() override;
  WallTime wall() override;
  void sleep_until(LeaseTime t) override;

  // Real time passes (for every clock on the time line).
  void advance(Nanos d) { timeline_.advance(d); }
  // An NTP step or a manual change of the wall clock; steady is unaffected.
  void jump_wall(Nanos d) { wall_jump_ += d; }
  // A wall clock that stops (a broken RTC, a VM whose time sync hangs):
  // wall() returns the same instant until unfrozen, then goes on from there.
  void freeze_wall(bool frozen);
  bool wall_frozen() const { return frozen_wall_.has_value(); }
  // A jump of this clock's steady time alone (tests only).
  void jump_steady(Nanos d) { steady_jump_ += d; }
  // The earliest time-line instant at which steady() >= t.
  Nanos timeline_of(LeaseTime t) const;
  int sleep_calls() const { return sleep_calls_; }
  Timeline& timeline() { return timeline_; }

 private:
  Nanos scaled(Nanos d) const;
  Timeline& timeline_;
  Options options_;
  Nanos wall_jump_{0};
  Nanos steady_jump_{0};
  std::optional<WallTime> frozen_wall_;
  int sleep_calls_ = 0;
};

// What goes wrong with one request.
struct Fault {
  enum class Kind {
    kStatus,        // an HTTP error with a Status body (generated when `body` is empty)
    kRefused,       // no response: connection refused, at once
    kHang,          // no response within the request's timeout: time moves on by it
    kDelay,         // the request takes `delay`; times out if that exceeds its timeout
    kRespond,       // this exact status and body (malformed 200s)
    kLoseResponse,  // the server applies the request, the response never arrives
    kDuplicate,     // the request reaches the server twice (a retrying proxy); the
                    // client sees the second answer (409 for a write that succeeded)
  };
  Kind kind = Kind::kStatus;
  int status = 0;
  std::string body;
  std::optional<std::chrono::seconds> retry_after;
  Nanos delay{0};
  std::string method;  // only requests with this method; "" for any

  static Fault http(int status, std::optional<std::chrono::seconds> retry_after = {});
  static Fault refused();
  static Fault hang();
  static Fault slow(Nanos delay);
  static Fault respond(int status, std::string body);
  static Fault lose_response();
  static Fault duplicate();
  Fault only(std::string m) const {
    Fault f = *this;
    f.method = std::move(m);
    return f;
  }
};

class Faults {
 public:
  // The next n requests matching f.method.
  void next(int n, const Fault& f);
  // Every matching request sent while from <= time line < until.
  void during(Nanos from, Nanos until, const Fault& f);
  void always(const Fault& f) { during(Nanos::min(), Nanos::max(), f); }
  void clear();
  bool empty() const { return queue_.empty() && windows_.empty(); }
  std::optional<Fault> take(const ApiRequest& r, Nanos now);

 private:
  struct Window {
    Nanos from, until;
    Fault fault;
  };
  std::deque<Fault> queue_;
  std::vector<Window> windows_;
};

// A Status object the way kube-apiserver writes it.
std::string status_body(int code, std::string_view reason, std::string_view message,
                        const json& details = nullptr);

class FakeApiServer {
 public:
  explicit FakeApiServer(Timeline& timeline, std::string ns = kNamespace);

  // A request as the API server sees it: server-wide faults first. `pass`
  // lets time pass while the request is in flight (default: the time line
  // just moves on).
  ApiResponse handle(const ApiRequest& request);
  ApiResponse handle(const ApiRequest& request, const std::function<void(Nanos)>& pass);
  WatchResult watch(const std::string& path, std::chrono::milliseconds idle_timeout,
                    const std::function<bool(std::string_view line)>& on_line,
                    std::stop_token stop);

  Faults& faults() { return faults_; }
  // RBAC: requests for `verb` (get, create, update, delete) get 403.
  void deny(const std::string& verb) { denied_.insert(verb); }
  void allow(const std::string& verb) { denied_.erase(verb); }

  // --- State, for tests.
  std::optional<json> lease(const std::string& name = kLeaseName) const;
  json spec(const std::string& name = kLeaseName) const;
  std::string resource_version(const std::string& name = kLeaseName) const;
  std::string uid(const std::string& name = kLeaseName) const;
  // Stores `object` as another writer would, with a new resourceVersion
  // (uid and creationTimestamp assigned when missing). No validation, so
  // tests can plant invalid Leases.
  void put_raw(json object);
  // A Lease named kLeaseName with this spec (and optional extra metadata).
  void put_lease(json spec, json extra_metadata = json::object());
  // A Lease released by `former` in term `transitions` (blank holder,
  // duration 1, the release marker of that term), as pgdog-control writes it:
  // any replica may take it at once.
  void put_released(std::int32_t transitions = 0, const std::string& former = "former_0");
  // Another writer changes the Lease (bumps resourceVersion).
  void modify(const std::function<void(json&)>& change, const std::string& name = kLeaseName);
  bool delete_lease(const std::string& name = kLeaseName);
  int served() const { return served_; }
  // Drops watch history up to the newest `keep` events; watches from an
  // older version get 410 Gone (like etcd compaction).
  void compact(std::size_t keep);
  std::int64_t current_rv() const { return rv_; }

  struct Event {
    std::int64_t rv;
    std::string type;  // ADDED, MODIFIED, DELETED
    json object;
  };
  const std::vector<Event>& events() const { return events_; }

 private:
  ApiResponse serve(const ApiRequest& r);
  ApiResponse serve_get(const std::string& name);
  ApiResponse serve_create(const ApiRequest& r);
  ApiResponse serve_update(const ApiRequest& r, const std::string& name);
  ApiResponse serve_delete(const std::string& name);
  std::optional<ApiResponse> validate(const json& o, const std::string& name) const;
  ApiResponse not_found(const std::string& name) const;
  ApiResponse forbidden(const std::string& verb, const std::string& name) const;
  std::string next_rv() { return std::to_string(++rv_); }
  std::string new_uid();
  std::string now_timestamp() const;
  void record(const std::string& type, const json& object);

  Timeline& timeline_;
  std::string ns_;
  std::map<std::string, json> leases_;
  std::vector<Event> events_;
  std::int64_t rv_ = 1000;
  std::int64_t compacted_rv_ = 0;  // watches from before this get 410
  int uids_ = 0;
  int served_ = 0;
  Faults faults_;
  std::set<std::string> denied_;
};

// Fault output shared by the server and the links. `pass(d)` lets d of
// time pass while the request is in flight.
ApiResponse apply_fault(const Fault& f, const ApiRequest& r, const std::function<void(Nanos)>& pass,
                        const std::function<ApiResponse()>& serve);

// One replica's network path to the server.
class Link {
 public:
  Link(FakeApiServer& server, FakeClock& clock) : server_(server), clock_(clock) {}

  ApiResponse handle(const ApiRequest& request);
  WatchResult watch(const std::string& path, std::chrono::milliseconds idle_timeout,
                    const std::function<bool(std::string_view line)>& on_line,
                    std::stop_token stop);

  Faults& faults() { return faults_; }
  // Time a request spends before reaching the server and coming back.
  void set_latency(Nanos there, Nanos back) {
    latency_there_ = there;
    latency_back_ = back;
  }
  // Runs just before the server sees a request (to interleave another
  // replica's step, or another writer, with this request).
  std::function<void(const ApiRequest&)> before_serve;
  // How time passes while a request of this link is in flight (hangs,
  // latency). Default: the time line moves on. A Sim runs the other
  // replicas meanwhile, as they would run concurrently.
  std::function<void(Nanos until)> wait_until;
  bool keep_records = true;  // false: records() stays empty (long soaks)

  struct Record {
    ApiRequest request;
    ApiResponse response;
    LeaseTime sent;  // on this replica's clock
    LeaseTime done;
  };
  const std::vector<Record>& records() const { return records_; }
  std::vector<std::string> methods() const;
  void clear() { records_.clear(); }

 private:
  FakeApiServer& server_;
  FakeClock& clock_;
  Faults faults_;

 public:
  FakeApiServer& server() { return server_; }

 private:
  Nanos latency_there_{0};
  Nanos latency_back_{0};
  std::vector<Record> records_;
};

class MockTransport : public ApiTransport {
 public:
  MOCK_METHOD(ApiResponse, send, (const ApiRequest& request), (override));
  MOCK_METHOD(WatchResult, watch,
              (const std::string& path, std::chrono::milliseconds idle_timeout,
               (const std::function<bool(std::string_view line)>& on_line), std::stop_token stop),
              (override));

  void delegate_to(Link& link) {
    ON_CALL(*this, send(::testing::_)).WillByDefault(::testing::Invoke(&link, &Link::handle));
    ON_CALL(*this, watch).WillByDefault(::testing::Invoke(&link, &Link::watch));
  }
};

MATCHER_P(Method, method, "an ApiRequest with method " + std::string(method)) {
  return arg.method == method;
}

// Who hears of every report and step of every elector (IntervalChecker
// records them all; the adversarial soak checks them as they happen).
class LeadershipObserver {
 public:
  virtual ~LeadershipObserver() = default;
  // A report: `valid_until` already converted to the time line.
  virtual void on_report(int who, Nanos at, const ElectorState& s, Nanos valid_until) = 0;
  // After every step: the elector's own view (leading(), epoch, validity).
  virtual void on_step(int who, Nanos at, bool leading, const ElectorState& last,
                       Nanos valid_until) = 0;
  // The replica's process ended (SIGKILL, or exit after its release).
  virtual void on_stop(int who, Nanos at) = 0;
};

struct ReplicaOptions {
  ElectorTimings timings{};
  FakeClock::Options clock{};
  // false: keep only the last report (long soaks): no logs, no request records.
  bool keep_history = true;
};

struct Replica {
  Replica(std::string identity, FakeApiServer& server, Timeline& timeline,
          ReplicaOptions options = {}, LeadershipObserver* checker = nullptr, int index = 0);

  LeaseTime step();
  // Steps whenever the elector asks to, until time `t` on this clock; time
  // moves on to each requested instant (and to `t` at the end).
  void run_until(LeaseTime t);
  void run_for(Nanos d) { run_until(clock.steady() + d); }
  // Reads new watch events through the transport and hands them to the
  // elector; returns true when the elector wants to run at once (and sets
  // `next` to now).
  bool pump_watch();
  std::int64_t link_server_rv() { return link.server().current_rv(); }
  // The watch is (un)healthy: the elector is told, and pump_watch() works
  // only while it is healthy.
  void set_watching(bool on);
  // Every request fails at once (refused) or hangs, until heal().
  void partition(Fault how = Fault::refused());
  void heal();

  bool logged(std::string_view needle, int level) const;
  std::string all_logs() const;
  // Requests, reports and logs in time order, for failure messages.
  std::string history() const;
  ElectorState last_report() const { return last_state; }
  // Time-line instant of the last report with leading == `leading`.
  std::optional<Nanos> last_report_time(bool leading) const;
  std::vector<LeaseTime> sent_times(const std::string& method = "") const;
  Nanos now() const { return timeline.now(); }
  // This clock's steady time `d` after the replica's time-line origin.
  LeaseTime at(Nanos d) const { return start + d; }

  std::string id;
  Timeline& timeline;
  FakeClock clock;
  LeaseTime start;  // steady() when the replica was made
  Link link;
  ::testing::NiceMock<MockTransport> transport;
  KubeLeaseApi api;
  LeadershipObserver* checker;
  int index;
  bool keep_history = true;
  std::vector<ElectorState> reports;
  std::vector<Nanos> report_times;              // time line, one per report
  std::vector<std::size_t> requests_at_report;  // link.records().size() at each report
  std::vector<std::pair<int, std::string>> logs;
  std::vector<Nanos> log_times;  // time line, one per log line
  int acquire_ok = 0, acquire_failed = 0, renew_ok = 0, renew_failed = 0, conflicts = 0;
  Elector elector;
  LeaseTime next{};
  bool watching = false;
  std::int64_t watch_rv = 0;
  bool partitioned = false;
  bool stopped = false;     // shut down: a Sim no longer runs it
  Nanos paused_until{0};    // SIGSTOP: a Sim neither steps it nor feeds its watch before this
  ElectorState last_state;  // the last report, kept even without history
  // Called by a Sim after each step of this replica (fault injection).
  std::function<void()> after_step;
};

// Leadership intervals of several electors on one time line.
class IntervalChecker : public LeadershipObserver {
 public:
  struct Segment {
    Nanos start, end;  // [start, end): the elector may act as leader
  };
  struct Term {
    int who;
    std::string uid;
    std::uint64_t epoch;
    std::vector<Segment> segments;
    bool open = true;
    Nanos start() const { return segments.front().start; }
    Nanos end() const { return segments.back().end; }
  };

  void on_report(int who, Nanos at, const ElectorState& s, Nanos valid_until) override;
  void on_step(int who, Nanos at, bool leading, const ElectorState& last,
               Nanos valid_until) override;
  void on_stop(int who, Nanos at) override;

  std::vector<std::string> violations() const;
  const std::vector<Term>& terms() const { return terms_; }
  std::vector<Term> terms_of(int who) const;
  // Is `who` leading (validly) at time-line instant t?
  bool leading_at(int who, Nanos t) const;
  std::string dump() const;

 private:
  struct Snapshot {
    Nanos at;
    int who;
    bool leading;
    std::string uid;
    std::uint64_t epoch;
    Nanos valid_until;
  };
  std::vector<Term> terms_;
  std::map<int, std::size_t> open_;  // who -> index into terms_
  std::vector<Snapshot> snapshots_;
  std::vector<std::string> notes_;  // violations found while recording
};

inline Nanos secs(double s) { return Nanos(static_cast<std::int64_t>(s * 1e9)); }

class Sim {
 public:
  explicit Sim(ElectorTimings timings = {}) : timings_(timings), server(timeline) {}
  Replica& add(std::string identity, FakeClock::Options clock = {},
               std::optional<ElectorTimings> timings = std::nullopt);
  // SIGTERM (release within release_timeout, as the backend does) or SIGKILL
  // (release false): the replica stops for good; the observer hears of it.
  void stop(Replica& r, bool release, Nanos release_timeout = secs(5));
  // Forgets stopped replicas (long soaks); indices of the others stay.
  void remove_stopped();
  // Runs every replica at the times it asks for until time-line instant t.
  void run_until(Nanos t);
  void run_for(Nanos d) { run_until(timeline.now() + d); }
  // Replicas leading (and still valid) now.
  int leaders_now();
  Replica* leader();
  Replica& operator[](std::size_t i) { return *replicas[i]; }
  void deliver_watches();

  Timeline timeline;

 private:
  ElectorTimings timings_;

 public:
  FakeApiServer server;
  IntervalChecker checker;
  // Hears every report, step and stop; &checker unless a test sets another
  // (before adding replicas).
  LeadershipObserver* observer = &checker;
  bool keep_history = true;  // for replicas added from now on
  std::vector<std::unique_ptr<Replica>> replicas;

 private:
  void run(Nanos t);
  std::set<int> busy_;  // replicas blocked in a request
  int next_index_ = 0;
};

std::string to_string(const IntervalChecker::Term& t);

}  // namespace pgdc::kube::testing
