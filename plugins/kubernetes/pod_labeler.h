// Leader-label routing: the leader puts `<key>: "true"` on its own Pod and
// removes it when it stops leading, so a Service selecting that label sends
// traffic to the leader while pod readiness only means "healthy" (and rolling
// updates can proceed). A new leader also strips the label from any other
// Pod that still carries it (a paused or partitioned old leader).
//
// The same patch sets controller.kubernetes.io/pod-deletion-cost to
// kLeaderDeletionCost on the leader's Pod and removes it from the others
// (default cost 0), so a Deployment rollout or scale-down deletes followers
// before the leader (ReplicaSet honours the annotation since Kubernetes 1.22).
// It needs no permission beyond the label's: patch on pods.
//
// Reconciling, not fire-and-forget: the runner calls reconcile() after every
// step, so a label that could not be written (API down, 403) is retried until
// the Pod matches the desired state. Runner thread only.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "client/api_transport.h"

namespace pgdc::kube {

inline constexpr const char* kPodDeletionCostAnnotation =
    "controller.kubernetes.io/pod-deletion-cost";
inline constexpr const char* kLeaderDeletionCost = "100";

class PodLabeler {
 public:
  using Log = std::function<void(int level, const std::string& message)>;

  PodLabeler(ApiTransport& transport, std::string ns, std::string pod, std::string key, Log log);

  void set_leading(bool leading) { desired_ = leading; }
  bool in_sync() const { return applied_ && *applied_ == desired_; }

  // Brings the Pod to the desired state; each request bounded by `timeout`.
  // Returns in_sync().
  bool reconcile(std::chrono::milliseconds timeout);

  // Valid label key: [prefix/]name, prefix a DNS-1123 subdomain, name up to
  // 63 characters of [A-Za-z0-9_.-] starting and ending alphanumeric.
  static bool valid_key(const std::string& key);

 private:
  bool patch(const std::string& pod, bool set, std::chrono::milliseconds timeout);
  void strip_others(std::chrono::milliseconds timeout);
  void report(int level, const std::string& message);

  ApiTransport& transport_;
  const std::string ns_;
  const std::string pod_;
  const std::string key_;
  Log log_;
  bool desired_ = false;
  std::optional<bool> applied_;  // unknown until the first successful write
  std::string last_error_;       // logged once until it changes
};

}  // namespace pgdc::kube
