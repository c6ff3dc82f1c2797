#include "pod_labeler.h"

#include <cctype>

#include <nlohmann/json.hpp>

#include "client/text.h"
#include "election/lease_api.h"

namespace pgdc::kube {
namespace {

bool alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

}  // namespace

PodLabeler::PodLabeler(ApiTransport& transport, std::string ns, std::string pod, std::string key,
                       Log log)
    : transport_(transport),
      ns_(std::move(ns)),
      pod_(std::move(pod)),
      key_(std::move(key)),
      log_(std::move(log)) {}

bool PodLabeler::valid_key(const std::string& key) {
  std::string name = key;
  if (const auto slash = key.find('/'); slash != std::string::npos) {
    const std::string prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty() || prefix.size() > 253 || !alnum(prefix.front()) || !alnum(prefix.back())) {
      return false;
    }
    for (char c : prefix) {
      if (!(std::islower(static_cast<unsigned char>(c)) ||
            std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.')) {
        return false;
      }
    }
  }
  if (name.empty() || name.size() > 63 || !alnum(name.front()) || !alnum(name.back())) return false;
  for (char c : name) {
    if (!(alnum(c) || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

void PodLabeler::report(int level, const std::string& message) {
  if (message == last_error_) return;
  last_error_ = message;
  if (log_) log_(level, message);
}

bool PodLabeler::patch(const std::string& pod, bool set, std::chrono::milliseconds timeout) {
  // One merge patch for both: the label routes traffic, the deletion cost
  // makes a rollout or scale-down remove followers first; null removes.
  const nlohmann::json body{{"metadata",
                             {{"labels", {{key_, set ? nlohmann::json("true") : nlohmann::json()}}},
                              {"annotations",
                               {{kPodDeletionCostAnnotation,
                                 set ? nlohmann::json(kLeaderDeletionCost) : nlohmann::json()}}}}}};
  const ApiResponse r =
      transport_.send(ApiRequest{"PATCH", "/api/v1/namespaces/" + ns_ + "/pods/" + pod, body.dump(),
                                 "application/merge-patch+json", timeout});
  if (r.status >= 200 && r.status < 300) return true;
  std::string why = r.status == 0 ? r.transport_error : "HTTP " + std::to_string(r.status);
  if (r.status == 403) {
    why += "; grant it with " + rbac_hint("patch", "pods", ns_, "");
  } else if (r.status == 404) {
    why +=
        "; no Pod \"" + pod + "\" in namespace \"" + ns_ + "\" (check POD_NAME/options.pod_name)";
  }
  report(2, std::string("pod label: cannot ") + (set ? "set" : "remove") + " " + key_ + " on pod " +
                ns_ + "/" + pod + ": " + why + "; retrying");
  return false;
}

void PodLabeler::strip_others(std::chrono::milliseconds timeout) {
  const ApiResponse r = transport_.send(ApiRequest{
      "GET", "/api/v1/namespaces/" + ns_ + "/pods?labelSelector=" + url_encode(key_ + "=true"), "",
      "application/json", timeout});
  if (r.status != 200) return;  // best effort; the old leader removes its own label too
  const auto list = nlohmann::json::parse(r.body, nullptr, false);
  if (!list.is_object() || !list.contains("items") || !list["items"].is_array()) return;
  for (const auto& item : list["items"]) {
    if (!item.is_object() || !item.contains("metadata") || !item["metadata"].is_object()) continue;
    const std::string name = item["metadata"].value("name", "");
    if (!name.empty() && name != pod_ && patch(name, false, timeout) && log_) {
      log_(1, "pod label: removed " + key_ + " from pod " + ns_ + "/" + name +
                  " (a previous leader's)");
    }
  }
}

bool PodLabeler::reconcile(std::chrono::milliseconds timeout) {
  if (in_sync()) return true;
  const bool want = desired_;
  if (!patch(pod_, want, timeout)) return false;
  applied_ = want;
  last_error_.clear();
  if (log_) {
    log_(1, std::string("pod label: ") + (want ? "set " : "removed ") + key_ + " on pod " + ns_ +
                "/" + pod_);
  }
  if (want) strip_others(timeout);
  return in_sync();
}

}  // namespace pgdc::kube
