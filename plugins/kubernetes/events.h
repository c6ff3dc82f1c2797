// Kubernetes Events on leadership changes, best effort: posted from their own
// thread so they never delay a renewal, dropped when the queue is full, and
// switched off after the first 403 (logged once as a warning with the RBAC
// rule that would allow them).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "client/api_transport.h"

namespace pgdc::kube {

class EventRecorder {
 public:
  using Log = std::function<void(int level, const std::string& message)>;

  EventRecorder(ApiTransport& transport, std::string ns, std::string lease_name,
                std::string identity, Log log);
  ~EventRecorder();  // stops the thread; queued events are dropped

  void start();
  // Waits up to `flush` for queued events to be posted, then stops.
  void stop(std::chrono::milliseconds flush);

  // reason: "LeaderElection"; message e.g. "pod-a_1f2e became leader".
  void record(std::string reason, std::string message, std::string lease_uid);

 private:
  struct Pending {
    std::string reason;
    std::string message;
    std::string uid;
  };
  void run(std::stop_token stop);
  void post(const Pending& event);

  ApiTransport& transport_;
  const std::string ns_;
  const std::string lease_name_;
  const std::string identity_;
  Log log_;
  std::mutex mutex_;
  std::condition_variable_any cv_;
  std::condition_variable_any idle_cv_;  // queue drained and nothing being posted
  bool posting_ = false;
  std::deque<Pending> queue_;
  bool disabled_ = false;
  std::jthread thread_;
};

}  // namespace pgdc::kube
