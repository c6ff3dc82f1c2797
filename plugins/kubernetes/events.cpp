#include "events.h"

#include <chrono>
#include <ctime>

#include <nlohmann/json.hpp>

#include "election/lease_api.h"

namespace pgdc::kube {
namespace {

constexpr std::size_t kMaxQueued = 16;

std::string rfc3339_seconds(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

EventRecorder::EventRecorder(ApiTransport& transport, std::string ns, std::string lease_name,
                             std::string identity, Log log)
    : transport_(transport),
      ns_(std::move(ns)),
      lease_name_(std::move(lease_name)),
      identity_(std::move(identity)),
      log_(std::move(log)) {}

EventRecorder::~EventRecorder() { stop(std::chrono::milliseconds(0)); }

void EventRecorder::start() {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void EventRecorder::stop(std::chrono::milliseconds flush) {
  if (thread_.joinable()) {
    {
      // Give queued events (the "stopped leading" of a shutdown) a bounded
      // chance to go out; each post has its own timeout.
      std::unique_lock lock(mutex_);
      idle_cv_.wait_for(lock, flush, [this] { return queue_.empty() && !posting_; });
    }
    thread_.request_stop();
    cv_.notify_all();
    thread_.join();
  }
}

void EventRecorder::record(std::string reason, std::string message, std::string lease_uid) {
  {
    std::lock_guard lock(mutex_);
    if (disabled_ || queue_.size() >= kMaxQueued) return;
    queue_.push_back(Pending{std::move(reason), std::move(message), std::move(lease_uid)});
  }
  cv_.notify_all();
}

void EventRecorder::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    Pending next;
    {
      std::unique_lock lock(mutex_);
      if (!cv_.wait(lock, stop, [this] { return !queue_.empty(); })) return;
      next = std::move(queue_.front());
      queue_.pop_front();
      posting_ = true;
    }
    post(next);
    {
      std::lock_guard lock(mutex_);
      posting_ = false;
    }
    idle_cv_.notify_all();
  }
}

void EventRecorder::post(const Pending& e) {
  const std::string now = rfc3339_seconds(std::chrono::system_clock::now());
  nlohmann::json involved{{"apiVersion", "coordination.k8s.io/v1"},
                          {"kind", "Lease"},
                          {"name", lease_name_},
                          {"namespace", ns_}};
  if (!e.uid.empty()) involved["uid"] = e.uid;
  const nlohmann::json event{
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"generateName", lease_name_ + "."}, {"namespace", ns_}}},
      {"involvedObject", involved},
      {"reason", e.reason},
      {"message", e.message},
      {"type", "Normal"},
      {"source", {{"component", "pgdog-control"}}},
      {"reportingComponent", "pgdog-control"},
      {"reportingInstance", identity_},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1}};
  const ApiResponse r =
      transport_.send(ApiRequest{"POST", "/api/v1/namespaces/" + ns_ + "/events", event.dump(),
                                 "application/json", std::chrono::milliseconds(5000)});
  if (r.status >= 200 && r.status < 300) return;
  if (r.status == 403) {
    {
      std::lock_guard lock(mutex_);
      disabled_ = true;
      queue_.clear();
    }
    log_(2, "events: 403 Forbidden creating events in namespace \"" + ns_ +
                "\"; leadership events are switched off (leader election is not affected). "
                "To get them, grant " +
                rbac_hint("create", "events", ns_, ""));
    return;
  }
  log_(1, "events: could not post a \"" + e.reason + "\" event (HTTP " + std::to_string(r.status) +
              (r.transport_error.empty() ? "" : ", " + r.transport_error) + ")");
}

}  // namespace pgdc::kube
