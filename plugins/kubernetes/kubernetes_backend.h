// The Kubernetes Lease backend: glue between the host (pgdc::sdk::Backend) and the
// election (Elector), with its threads:
//   runner  runs Elector::step() at the times it asks for, or at once when
//           the watch reports something that matters; reports progress;
//           on stop, finishes its step, then releases (if asked).
//   watch   LeaseWatch, feeding the runner through an ElectionInbox.
//   events  EventRecorder, best effort.
// Lease traffic has its own transport (connection, timeouts); the watch and
// events share another, so a slow watch never delays a renewal; state store
// requests (ConfigMaps up to 768 KiB) have a third, so a large state write
// never delays a renewal either.
//
// The backend is also the host's state store (ABI 1.3, StateStore): it
// delegates to ConfigMapStore (state/configmap_store.h), which needs no
// thread of its own.
//
// Members (ABI 1.4, Members): MemberRegistry (members/member_registry.h)
// publishes this replica as its own member Lease on its own thread over the
// watch transport (never the lease transport); an eligibility of false also
// gates the elector (Elector::set_eligible).
// Switchover (ABI 1.4, Handover): transfer() hands Elector::handover to the
// runner (the elector is single-threaded) and waits for its outcome.
#pragma once

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <pgdog_control/plugin.hpp>

#include "client/api_transport.h"
#include "election/elector.h"
#include "election/lease_api.h"
#include "events.h"
#include "failpoints.h"
#include "lease_watch.h"
#include "members/member_registry.h"
#include "plugin_options.h"
#include "pod_labeler.h"
#include "state/configmap_store.h"

namespace pgdc::kube {

class KubernetesBackend final : public pgdc::sdk::Backend,
                                public pgdc::sdk::StateStore,
                                public pgdc::sdk::Members,
                                public pgdc::sdk::Handover {
 public:
  KubernetesBackend(pgdc::sdk::Host host, std::string_view config_json);
  ~KubernetesBackend() override;

  void start() override;
  bool stop(bool release, std::int64_t deadline_ns) override;

  std::optional<pgdc::sdk::StateObject> state_read(std::string_view key,
                                                   std::int64_t deadline_ns) override;
  std::optional<std::string> state_write(std::string_view key, std::string_view value,
                                         std::string_view expected_version,
                                         std::int64_t deadline_ns) override;

  void member_publish(const pgdc::sdk::Member& self) override;
  std::vector<pgdc::sdk::Member> members_list(std::int64_t deadline_ns) override;
  // Runs Elector::handover on the runner; waits until deadline_ns. Throws
  // ConflictError (not leading, target refused or not in our term) or
  // UnavailableError (failed, or no outcome by deadline_ns).
  void transfer(std::string_view to, std::int64_t deadline_ns) override;

  // For tests: transports injected instead of built from a cluster config.
  KubernetesBackend(pgdc::sdk::Host host, std::string_view config_json,
                    std::unique_ptr<ApiTransport> lease_transport,
                    std::unique_ptr<ApiTransport> aux_transport,
                    std::unique_ptr<ApiTransport> state_transport, std::string lease_namespace);

 private:
  void init(std::string lease_namespace);
  void run(std::stop_token stop);
  void report(const ElectorState& state);
  void log(int level, const std::string& message);
  void count_request(std::string_view verb, std::string_view resource, int status);

  pgdc::sdk::Host host_;
  PluginOptions options_;
  std::unique_ptr<ApiTransport> lease_transport_;
  std::unique_ptr<ApiTransport> aux_transport_;
  std::unique_ptr<ApiTransport> state_transport_;
  std::unique_ptr<KubeLeaseApi> api_;
  std::unique_ptr<ConfigMapStore> store_;
  SystemElectorClock clock_;
  std::unique_ptr<Elector> elector_;
  ElectionInbox inbox_;
  std::unique_ptr<LeaseWatch> watch_;
  std::unique_ptr<EventRecorder> events_;
  std::unique_ptr<PodLabeler> labeler_;  // leader-label routing, when options.pod_label is set
  std::unique_ptr<MemberRegistry> members_;

  // Switchover hand-off to the runner: at most one pending (the host never
  // overlaps transfers, nor a transfer with stop()). A request the caller
  // gave up on before the runner took it is never run.
  struct HandoverRequest {
    std::string target;
    std::int64_t deadline_ns = 0;
    bool taken = false;  // by the runner; guarded by handover_mutex_
    std::promise<HandoverOutcome> done;
  };
  // Runner thread: runs the pending request, if any; true when it did.
  bool run_pending_handover();
  std::mutex handover_mutex_;
  std::shared_ptr<HandoverRequest> handover_;  // guarded by handover_mutex_

  // Shutdown hand-off to the runner.
  std::atomic<bool> release_requested_{false};
  std::atomic<std::int64_t> release_deadline_ns_{0};
  std::promise<ReleaseOutcome> released_;
  std::mutex step_mutex_;  // guards in_step_: stop() cancels requests only mid-step
  bool in_step_ = false;
  std::jthread runner_;
  std::jthread watcher_;

  // Each distinct warning or error is logged at most once a minute, then
  // with how often it recurred.
  static constexpr std::chrono::seconds kRepeatWindow{60};
  static constexpr std::size_t kMaxRecent = 64;
  struct Recent {
    std::chrono::steady_clock::time_point first_at;
    std::uint64_t repeats = 0;
  };
  std::mutex log_mutex_;
  std::map<std::string, Recent> recent_;

  // Metrics.
  pgdc::sdk::Metric leader_gauge_;
  pgdc::sdk::Metric transitions_;
  pgdc::sdk::Metric conflicts_;
  pgdc::sdk::Metric last_renew_age_;
  pgdc::sdk::Metric acquire_ok_, acquire_failed_, renew_ok_, renew_failed_;
  std::mutex request_metrics_mutex_;
  std::map<std::string, pgdc::sdk::Metric> request_metrics_;  // "verb/resource/code"
  std::int64_t last_renew_ns_ = 0;                            // runner thread only
  bool was_leading_ = false;                                  // runner thread only
  std::string last_uid_;                                      // runner thread only
  std::uint64_t last_epoch_ = 0;                              // runner thread only

  // Test-only fault injection (failpoints.h); null unless PGDC_KUBE_FAILPOINTS.
  std::unique_ptr<Failpoints> failpoints_;
  int renewals_reported_ = 0;  // runner thread only
};

}  // namespace pgdc::kube
