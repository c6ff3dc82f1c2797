#include "kubernetes_backend.h"

#include <algorithm>
#include <cstdlib>

#include "client/cluster_config.h"
#include "client/counting_transport.h"
#include "client/cpprest_transport.h"
#include "failpoints.h"

namespace pgdc::kube {
namespace {

pgdc::sdk::LogLevel to_level(int level) {
  switch (level) {
    case 0:
      return pgdc::sdk::LogLevel::kDebug;
    case 1:
      return pgdc::sdk::LogLevel::kInfo;
    case 2:
      return pgdc::sdk::LogLevel::kWarn;
    default:
      return pgdc::sdk::LogLevel::kError;
  }
}

// Request latency buckets: lease traffic is loopback-fast to WAN-slow.
constexpr std::initializer_list<double> kLatencyBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

}  // namespace

KubernetesBackend::KubernetesBackend(pgdc::sdk::Host host, std::string_view config_json)
    : host_(host), options_(parse_plugin_options(config_json)) {
  const ClusterConfigResult cluster =
      select_cluster_config(ClusterSelection{options_.kubeconfig, options_.context});
  if (!cluster.ok()) throw pgdc::sdk::ConfigError("kubernetes: " + cluster.error);
  // All of this is asynchronous I/O on a handful of connections: a few
  // threads do, and an idle replica keeps less memory than with cpprest's 40.
  limit_cpprest_threads(4);
  // Three transports (connection pools): lease traffic never queues behind the
  // watch, the events or a state write. One token source, so a rotated token
  // is read once.
  const LogFn client_log = [this](LogSeverity severity, std::string_view message) {
    log(static_cast<int>(severity), std::string(message));
  };
  auto tokens = std::make_shared<TokenSource>(cluster.config.token, cluster.config.token_file,
                                              TokenSource::kDefaultReloadInterval,
                                              &std::chrono::steady_clock::now, client_log);
  for (const auto& [out, name] :
       {std::pair{&lease_transport_, "lease"}, std::pair{&aux_transport_, "watch"},
        std::pair{&state_transport_, "state"}}) {
    TransportOptions t;
    t.name = std::string("kubernetes ") + name;
    t.log = client_log;
    std::string error;
    auto transport = CpprestTransport::create(cluster.config, t, error, tokens);
    if (!transport) throw pgdc::sdk::ConfigError("kubernetes: " + error);
    *out = std::move(transport);
  }
  init(resolve_namespace(options_, cluster.config.namespace_, std::getenv("POD_NAMESPACE")));
  host_.log(pgdc::sdk::LogLevel::kInfo, "kubernetes: API server " + cluster.config.server + " (" +
                                            cluster.config.source + "), lease " +
                                            api_->lease_namespace() + "/" + options_.lease_name +
                                            ", identity " + options_.identity);
}

KubernetesBackend::KubernetesBackend(pgdc::sdk::Host host, std::string_view config_json,
                                     std::unique_ptr<ApiTransport> lease_transport,
                                     std::unique_ptr<ApiTransport> aux_transport,
                                     std::unique_ptr<ApiTransport> state_transport,
                                     std::string lease_namespace)
    : host_(host),
      options_(parse_plugin_options(config_json)),
      lease_transport_(std::move(lease_transport)),
      aux_transport_(std::move(aux_transport)),
      state_transport_(std::move(state_transport)) {
  init(lease_namespace.empty() ? resolve_namespace(options_, {}, std::getenv("POD_NAMESPACE"))
                               : lease_namespace);
}

void KubernetesBackend::init(std::string lease_namespace) {
  if (const char* fp = std::getenv("PGDC_KUBE_FAILPOINTS"); fp != nullptr && *fp != '\0') {
    std::string error;
    auto parsed = Failpoints::parse(fp, &error);
    if (!parsed) throw pgdc::sdk::ConfigError("kubernetes: " + error);
    failpoints_ = std::make_unique<Failpoints>(*parsed);
  }
  // Every request, lease, watch, events and state alike, is counted by verb,
  // resource and status.
  auto count = [this](std::string_view verb, std::string_view resource, int status) {
    count_request(verb, resource, status);
  };
  lease_transport_ = std::make_unique<CountingTransport>(std::move(lease_transport_), count);
  aux_transport_ = std::make_unique<CountingTransport>(std::move(aux_transport_), count);
  state_transport_ = std::make_unique<CountingTransport>(std::move(state_transport_), count);
  api_ = std::make_unique<KubeLeaseApi>(*lease_transport_, lease_namespace, options_.lease_name);
  store_ = std::make_unique<ConfigMapStore>(*state_transport_, lease_namespace, options_.lease_name,
                                            [this] { return host_.now_ns(); });
  ElectorEvents events;
  events.on_acquire_attempt = [this](bool ok, std::chrono::duration<double> latency) {
    (ok ? acquire_ok_ : acquire_failed_).observe(latency.count());
  };
  events.on_renew = [this](bool ok, std::chrono::duration<double> latency) {
    (ok ? renew_ok_ : renew_failed_).observe(latency.count());
  };
  events.on_conflict = [this] { conflicts_.add(); };
  elector_ = std::make_unique<Elector>(
      options_.identity,
      ElectorTimings{options_.lease_duration, options_.renew_deadline, options_.lease_interval},
      *api_, clock_, [this](const ElectorState& s) { report(s); },
      [this](int level, const std::string& m) { log(level, m); }, std::move(events));
  elector_->set_advertise_address(options_.advertise_address);
  if (options_.watch) {
    watch_ = std::make_unique<LeaseWatch>(
        *aux_transport_, api_->collection_path(), api_->object_path(), options_.lease_name, inbox_,
        options_.lease_interval, options_.watch_timeout,
        [this](int level, const std::string& m) { log(level, m); });
  }
  if (options_.events) {
    events_ = std::make_unique<EventRecorder>(
        *aux_transport_, lease_namespace, options_.lease_name, options_.identity,
        [this](int level, const std::string& m) { log(level, m); });
  }

  if (!options_.pod_label.empty()) {
    // Pod writes go through the lease transport: a label must not wait
    // behind a watch, and they happen only on transitions.
    labeler_ = std::make_unique<PodLabeler>(
        *lease_transport_,
        options_.pod_namespace.empty() ? lease_namespace : options_.pod_namespace,
        options_.pod_name, options_.pod_label,
        [this](int level, const std::string& m) { log(level, m); });
  }

  // Members on the watch transport: a member write never queues before a
  // renewal. The Pod's uid (POD_UID from the downward API) makes the member
  // Lease the Pod's dependent, collected with it.
  // An owner must be in the dependent's namespace (Kubernetes treats one
  // elsewhere as absent and collects the dependent at once), so a member
  // Lease in another namespace than its Pod has no owner: it goes stale
  // and is collected as garbage instead.
  const char* pod_uid = std::getenv("POD_UID");
  std::string pod_name = options_.pod_name;
  if (pod_name.empty()) {
    if (const char* pod = std::getenv("POD_NAME"); pod != nullptr) pod_name = pod;
  }
  std::string pod_namespace = options_.pod_namespace;
  if (pod_namespace.empty()) {
    if (const char* ns = std::getenv("POD_NAMESPACE"); ns != nullptr) pod_namespace = ns;
  }
  if (pod_namespace != lease_namespace) pod_uid = nullptr;
  members_ = std::make_unique<MemberRegistry>(
      *aux_transport_, lease_namespace, options_.lease_name,
      PodRef{pod_name, pod_uid != nullptr ? pod_uid : ""},
      MemberTimings::for_heartbeat(options_.member_heartbeat),
      [] { return std::chrono::system_clock::now(); }, [this] { return host_.now_ns(); },
      [this](int level, const std::string& m) { log(level, m); });

  leader_gauge_ = host_.gauge("kube_lease_leader", "1 while this replica holds the Lease.");
  transitions_ = host_.counter("kube_lease_transitions_total",
                               "Times this replica started or stopped holding the Lease.");
  conflicts_ = host_.counter("kube_lease_conflicts_total",
                             "Lease writes that lost a race (409 Conflict or AlreadyExists).");
  last_renew_age_ = host_.gauge(
      "kube_lease_last_renew_age_seconds",
      "Seconds since this replica last renewed the Lease successfully (0: not leader).");
  const char* acquire_help = "Time taken by attempts to acquire the Lease, by result.";
  acquire_ok_ = host_.histogram("kube_lease_acquire_duration_seconds", acquire_help,
                                R"({"result":"acquired"})", kLatencyBuckets);
  acquire_failed_ = host_.histogram("kube_lease_acquire_duration_seconds", acquire_help,
                                    R"({"result":"failed"})", kLatencyBuckets);
  const char* renew_help = "Time taken by Lease renewals, by result.";
  renew_ok_ = host_.histogram("kube_lease_renew_duration_seconds", renew_help,
                              R"({"result":"renewed"})", kLatencyBuckets);
  renew_failed_ = host_.histogram("kube_lease_renew_duration_seconds", renew_help,
                                  R"({"result":"failed"})", kLatencyBuckets);
}

KubernetesBackend::~KubernetesBackend() {
  runner_.request_stop();
  watcher_.request_stop();
  inbox_.wake();
  if (runner_.joinable()) runner_.join();
  if (watcher_.joinable()) watcher_.join();
  if (events_) events_->stop(std::chrono::milliseconds(0));
  members_.reset();  // its thread logs through this object: join it first
}

void KubernetesBackend::log(int level, const std::string& message) {
  // A persistent failure (a 403, an unreachable server) repeats every retry
  // period: say it once, then once a minute with how often it recurred.
  std::string line = "kubernetes: " + message;
  if (level >= 2) {
    std::lock_guard lock(log_mutex_);
    const auto now = std::chrono::steady_clock::now();
    auto it = recent_.find(message);
    if (it != recent_.end()) {
      if (now - it->second.first_at < kRepeatWindow) {
        ++it->second.repeats;
        return;
      }
      line += " (repeated " + std::to_string(it->second.repeats) + " times in the last minute)";
      it->second = Recent{now, 0};
    } else {
      if (recent_.size() >= kMaxRecent) recent_.clear();  // bounded memory
      recent_.emplace(message, Recent{now, 0});
    }
  }
  host_.log(to_level(level), line);
}

void KubernetesBackend::count_request(std::string_view verb, std::string_view resource,
                                      int status) {
  const std::string code = status == 0 ? "error" : std::to_string(status);
  const std::string key = std::string(verb) + "/" + std::string(resource) + "/" + code;
  pgdc::sdk::Metric m;
  {
    std::lock_guard lock(request_metrics_mutex_);
    auto it = request_metrics_.find(key);
    if (it == request_metrics_.end()) {
      it = request_metrics_
               .emplace(key,
                        host_.counter("kube_api_requests_total",
                                      "Kubernetes API requests by verb, resource and HTTP "
                                      "status code (error: no response).",
                                      R"({"verb":")" + std::string(verb) + R"(","resource":")" +
                                          std::string(resource) + R"(","code":")" + code + R"("})"))
               .first;
    }
    m = it->second;
  }
  m.add();
}

void KubernetesBackend::report(const ElectorState& s) {
  if (failpoints_ && failpoints_->delay_renewal_report && s.leading && was_leading_ &&
      s.uid == last_uid_ && s.epoch == last_epoch_ &&
      ++renewals_reported_ == failpoints_->delay_renewal_report->nth) {
    log(2, "failpoint delay_renewal_report: holding the report of renewal " +
               std::to_string(renewals_reported_) + " for " +
               std::to_string(failpoints_->delay_renewal_report->delay.count()) + "ms");
    std::this_thread::sleep_for(failpoints_->delay_renewal_report->delay);
  }
  last_uid_ = s.uid;
  last_epoch_ = s.epoch;
  const std::int64_t now_ns = host_.now_ns();
  pgdc::sdk::Leadership l;
  l.role = s.leading ? pgdc::sdk::Role::kLeader : pgdc::sdk::Role::kFollower;
  l.holder = s.holder;
  l.holder_address = s.holder_address;
  l.epoch_scope = s.uid;
  l.epoch = s.leading ? s.epoch : 0;
  // The elector's clock and the host's are both CLOCK_BOOTTIME; converting
  // the time left keeps this right even for a host with another origin.
  l.valid_until_ns = s.leading ? now_ns + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                              s.valid_until - LeaseClock::now())
                                              .count()
                               : 0;
  host_.report(l);  // returns only after the host stopped leader work, on a loss
  leader_gauge_.set(s.leading ? 1 : 0);
  if (s.leading) last_renew_ns_ = now_ns;
  if (s.leading != was_leading_) {
    transitions_.add();
    if (events_) {
      events_->record("LeaderElection",
                      options_.identity + (s.leading ? " became leader" : " stopped leading"),
                      s.uid);
    }
    was_leading_ = s.leading;
  }
}

void KubernetesBackend::start() {
  if (failpoints_) {
    log(2, "failpoints active (testing only; unset PGDC_KUBE_FAILPOINTS in production): " +
               failpoints_->describe());
  }
  if (events_) events_->start();
  members_->start();
  if (watch_) {
    watcher_ = std::jthread([this](std::stop_token stop) { watch_->run(stop); });
  }
  runner_ = std::jthread([this](std::stop_token stop) {
    elector_->set_stop_token(stop);
    run(stop);
  });
}

void KubernetesBackend::run(std::stop_token stop) {
  // The waits below run on CLOCK_MONOTONIC underneath, which stops during a
  // suspend: waking at least every kSlice bounds how late a step (and the
  // label removal of a term that ended while suspended) can be.
  constexpr std::chrono::milliseconds kSlice{500};
  LeaseTime next = clock_.steady();
  while (!stop.stop_requested()) {
    bool healthy = false;
    bool now = false;
    for (auto& e : inbox_.wait(std::min(next, clock_.steady() + kSlice), stop, &healthy)) {
      now |= e.deleted ? elector_->observe_deleted() : elector_->observe(*e.lease);
    }
    elector_->set_watch_healthy(watch_ != nullptr && healthy);
    if (stop.stop_requested()) break;
    const bool handed = run_pending_handover();
    if (!handed && !now && clock_.steady() < next) continue;
    {
      std::lock_guard lock(step_mutex_);
      in_step_ = true;
    }
    next = elector_->step();
    {
      std::lock_guard lock(step_mutex_);
      in_step_ = false;
    }
    if (labeler_) {
      labeler_->set_leading(elector_->leading());
      if (!stop.stop_requested() && !labeler_->reconcile(std::chrono::milliseconds(2000))) {
        next = std::min(next, clock_.steady() + options_.lease_interval);  // retry soon
      }
    }
    host_.progress();
    last_renew_age_.set(
        elector_->leading() ? static_cast<double>(host_.now_ns() - last_renew_ns_) / 1e9 : 0.0);
  }
  // Shutdown: the host has stopped leader work; release if asked (the
  // elector re-reads and writes only if we still hold the Lease).
  ReleaseOutcome outcome = ReleaseOutcome::kNotHolder;
  const auto deadline =
      clock_.steady() + std::chrono::nanoseconds(release_deadline_ns_ - host_.now_ns());
  if (labeler_) {
    // Traffic first: stop the Service routing here, then hand the Lease over.
    labeler_->set_leading(false);
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_.steady());
    if (left > std::chrono::milliseconds(0))
      labeler_->reconcile(std::min(left / 2, std::chrono::milliseconds(2000)));
  }
  if (release_requested_) {
    outcome = elector_->release(deadline);
  } else if (elector_->holding()) {
    elector_->release(clock_.steady());  // step down only: deadline already passed
  }
  released_.set_value(outcome);
}

bool KubernetesBackend::run_pending_handover() {
  std::shared_ptr<HandoverRequest> request;
  {
    std::lock_guard lock(handover_mutex_);
    if (!handover_ || handover_->taken) return false;
    request = handover_;
    request->taken = true;
  }
  const auto deadline =
      clock_.steady() + std::chrono::nanoseconds(request->deadline_ns - host_.now_ns());
  // Taken too late to write anything: keep leading rather than step down
  // for a handover that cannot happen (nothing reported, nothing written).
  const HandoverOutcome outcome = clock_.steady() < deadline
                                      ? elector_->handover(request->target, deadline)
                                      : HandoverOutcome::kFailed;
  host_
      .counter("kube_lease_handovers_total", "Switchover handovers of the Lease, by outcome.",
               R"({"outcome":")" + std::string(handover_outcome_name(outcome)) + R"("})")
      .add();
  request->done.set_value(outcome);
  return true;
}

void KubernetesBackend::transfer(std::string_view to, std::int64_t deadline_ns) {
  if (to == options_.identity) {
    throw pgdc::sdk::ConflictError("kubernetes: cannot hand the Lease over to this replica itself");
  }
  if (!runner_.joinable()) throw pgdc::sdk::ConflictError("kubernetes: not started: not leading");
  auto request = std::make_shared<HandoverRequest>();
  request->target = std::string(to);
  request->deadline_ns = deadline_ns;
  auto done = request->done.get_future();
  {
    std::lock_guard lock(handover_mutex_);
    handover_ = request;
  }
  inbox_.wake();
  const auto left = std::chrono::nanoseconds(deadline_ns - host_.now_ns());
  const bool answered =
      done.wait_for(std::max(left, std::chrono::nanoseconds(0))) == std::future_status::ready;
  {
    std::lock_guard lock(handover_mutex_);
    if (!answered && !request->taken) {
      handover_.reset();  // never run: nothing was reported or written
      throw pgdc::sdk::UnavailableError(
          "kubernetes: the election was busy until the deadline; nothing was handed over");
    }
    if (handover_ == request) handover_.reset();
  }
  // Taken: the runner answers by the deadline (every request is bounded by
  // it) plus at most one scheduling delay.
  const HandoverOutcome outcome = done.get();
  switch (outcome) {
    case HandoverOutcome::kHandedOver:
      return;
    case HandoverOutcome::kNotLeading:
    case HandoverOutcome::kNotHolder:
      throw pgdc::sdk::ConflictError("kubernetes: this replica is not leading (" +
                                     std::string(handover_outcome_name(outcome)) + ")");
    case HandoverOutcome::kRefused:
      throw pgdc::sdk::ConflictError("kubernetes: the target \"" + std::string(to) +
                                     "\" was refused");
    case HandoverOutcome::kFailed:
      break;
  }
  throw pgdc::sdk::UnavailableError(
      "kubernetes: the handover write failed or its outcome is unknown; this replica no longer "
      "leads in its old term");
}

bool KubernetesBackend::stop(bool release, std::int64_t deadline_ns) {
  release_deadline_ns_ = deadline_ns;
  release_requested_ = release;
  watcher_.request_stop();
  runner_.request_stop();
  inbox_.wake();
  {
    // A hung renewal must not eat the release deadline: cancel what the
    // current step is waiting for, but never the release that follows it.
    std::lock_guard lock(step_mutex_);
    if (in_step_) lease_transport_->cancel_inflight();
  }
  const bool started = runner_.joinable();
  if (runner_.joinable()) runner_.join();
  if (watcher_.joinable()) watcher_.join();
  {
    // Withdraw this replica's member Lease (it goes stale after its TTL if not).
    const auto left = std::chrono::nanoseconds(deadline_ns - host_.now_ns());
    members_->stop(std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(left),
                              std::chrono::milliseconds(0), std::chrono::milliseconds(1000)));
  }
  if (events_) {
    const auto left = std::chrono::nanoseconds(deadline_ns - host_.now_ns());
    events_->stop(std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(left),
                             std::chrono::milliseconds(0), std::chrono::milliseconds(1000)));
  }
  if (!started) return true;  // never campaigned: nothing held
  const ReleaseOutcome outcome = released_.get_future().get();
  host_
      .counter("kube_lease_releases_total", "Lease releases at shutdown, by outcome.",
               R"({"outcome":")" + std::string(release_outcome_name(outcome)) + R"("})")
      .add();
  if (release && outcome == ReleaseOutcome::kFailed) {
    log(2,
        "the Lease could not be released before the deadline; other replicas take over when "
        "it expires");
    return false;
  }
  return true;
}

void KubernetesBackend::member_publish(const pgdc::sdk::Member& self) {
  if (!self.identity.empty() && self.identity != options_.identity) {
    throw pgdc::sdk::ConfigError("kubernetes: member_publish: identity \"" + self.identity +
                                 "\" is not this replica's (\"" + options_.identity + "\")");
  }
  for (const std::string* f : {&self.address, &self.version, &self.backend}) {
    if (f->size() > kMaxMemberField) {
      throw pgdc::sdk::ConfigError("kubernetes: member_publish: a field longer than " +
                                   std::to_string(kMaxMemberField) + " bytes");
    }
  }
  pgdc::sdk::Member m = self;
  m.identity = options_.identity;
  // The gate first: from here on this replica does not acquire.
  elector_->set_eligible(m.eligible);
  members_->publish(m);
}

std::vector<pgdc::sdk::Member> KubernetesBackend::members_list(std::int64_t deadline_ns) {
  return members_->list(deadline_ns);
}

std::optional<pgdc::sdk::StateObject> KubernetesBackend::state_read(std::string_view key,
                                                                    std::int64_t deadline_ns) {
  return store_->read(key, deadline_ns);
}

std::optional<std::string> KubernetesBackend::state_write(std::string_view key,
                                                          std::string_view value,
                                                          std::string_view expected_version,
                                                          std::int64_t deadline_ns) {
  return store_->write(key, value, expected_version, deadline_ns);
}

}  // namespace pgdc::kube
