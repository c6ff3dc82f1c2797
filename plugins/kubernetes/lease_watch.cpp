#include "lease_watch.h"

#include <nlohmann/json.hpp>

namespace pgdc::kube {

void ElectionInbox::push(Event event) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
  }
  cv_.notify_all();
}

void ElectionInbox::set_healthy(bool healthy) {
  std::lock_guard lock(mutex_);
  healthy_ = healthy;
}

void ElectionInbox::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  cv_.notify_all();
}

std::vector<ElectionInbox::Event> ElectionInbox::wait(LeaseTime until, const std::stop_token& stop,
                                                      bool* healthy) {
  std::unique_lock lock(mutex_);
  cv_.wait_until(lock, stop, until, [this] { return !events_.empty() || woken_; });
  woken_ = false;
  std::vector<Event> out(std::make_move_iterator(events_.begin()),
                         std::make_move_iterator(events_.end()));
  events_.clear();
  *healthy = healthy_;
  return out;
}

LeaseWatch::LeaseWatch(ApiTransport& transport, std::string collection_path,
                       std::string object_path, std::string lease_name, ElectionInbox& inbox,
                       std::chrono::milliseconds retry_period, std::chrono::seconds watch_timeout,
                       Log log)
    : transport_(transport),
      collection_path_(std::move(collection_path)),
      object_path_(std::move(object_path)),
      lease_name_(std::move(lease_name)),
      inbox_(inbox),
      retry_period_(retry_period),
      watch_timeout_(watch_timeout),
      log_(std::move(log)) {}

void LeaseWatch::pause(const std::stop_token& stop) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  cv.wait_for(lock, stop, retry_period_, [] { return false; });
}

bool LeaseWatch::list(std::string* rv, const std::stop_token& stop) {
  // The object itself (verb get) gives the version to watch from; only when
  // it does not exist do we need the collection's (verb list).
  ++requests_;
  ApiResponse r = transport_.send(
      ApiRequest{"GET", object_path_, "", "application/json", std::chrono::milliseconds(5000)});
  if (stop.stop_requested()) return false;
  if (r.status == 200) {
    std::string why;
    auto lease = Lease::parse(r.body, &why);
    if (!lease) {
      last_error_ = "watch: malformed Lease: " + why;
      log_(2, last_error_);
      return false;
    }
    *rv = lease->resource_version();
    inbox_.push(ElectionInbox::Event{false, std::move(lease)});
    return true;
  }
  if (r.status == 404) {
    ++requests_;
    r = transport_.send(ApiRequest{
        "GET", collection_path_ + "?fieldSelector=metadata.name%3D" + lease_name_ + "&limit=1", "",
        "application/json", std::chrono::milliseconds(5000)});
    if (r.status == 200) {
      const auto j = nlohmann::json::parse(r.body, nullptr, false);
      if (j.is_object() && j.contains("metadata") && j["metadata"].is_object() &&
          j["metadata"].value("resourceVersion", "") != "") {
        *rv = j["metadata"]["resourceVersion"].get<std::string>();
        return true;
      }
    }
  }
  const std::string error = "watch: cannot read the Lease to start watching (HTTP " +
                            std::to_string(r.status) +
                            (r.transport_error.empty() ? "" : ", " + r.transport_error) +
                            "); polling every retry period meanwhile";
  if (error != last_error_) log_(2, error);
  last_error_ = error;
  return false;
}

bool LeaseWatch::handle_line(std::string_view line, std::string* rv, bool* gone) {
  const auto event = nlohmann::json::parse(line, nullptr, false);
  if (!event.is_object() || !event.contains("type") || !event["type"].is_string() ||
      !event.contains("object")) {
    log_(2, "watch: ignoring a malformed event line");
    return true;
  }
  const std::string type = event["type"].get<std::string>();
  const nlohmann::json& object = event["object"];
  if (type == "ERROR") {
    const int code = object.is_object() ? object.value("code", 0) : 0;
    if (code == 410) {
      *gone = true;
      return false;
    }
    log_(2, "watch: error event: " + object.dump());
    return false;
  }
  if (object.is_object() && object.contains("metadata") && object["metadata"].is_object()) {
    const std::string v = object["metadata"].value("resourceVersion", "");
    if (!v.empty()) *rv = v;
  }
  if (type == "BOOKMARK") return true;
  if (type == "DELETED") {
    inbox_.push(ElectionInbox::Event{true, std::nullopt});
    return true;
  }
  if (type == "ADDED" || type == "MODIFIED") {
    std::string why;
    auto lease = Lease::from_json(object, &why);
    if (!lease) {
      log_(2, "watch: ignoring a malformed Lease: " + why);
      return true;
    }
    if (lease->name() == lease_name_) {
      inbox_.push(ElectionInbox::Event{false, std::move(lease)});
    }
  }
  return true;
}

void LeaseWatch::run(std::stop_token stop) {
  std::string rv;
  while (!stop.stop_requested()) {
    if (rv.empty() && !list(&rv, stop)) {
      inbox_.set_healthy(false);
      pause(stop);
      continue;
    }
    const std::string path = collection_path_ + "?fieldSelector=metadata.name%3D" + lease_name_ +
                             "&watch=true&allowWatchBookmarks=true&resourceVersion=" + rv +
                             "&timeoutSeconds=" + std::to_string(watch_timeout_.count());
    bool gone = false;
    inbox_.set_healthy(true);
    ++requests_;
    const auto opened = std::chrono::steady_clock::now();
    const WatchResult w = transport_.watch(
        path, watch_timeout_ + std::chrono::seconds(30),
        [&](std::string_view line) { return handle_line(line, &rv, &gone); }, stop);
    if (w.stopped || stop.stop_requested()) break;
    if (gone || w.status == 410) {
      rv.clear();  // too old: read again, then watch from the new version
      continue;
    }
    if (w.status == 200 && w.transport_error.empty()) {
      last_error_.clear();
      // The server ended the watch at timeoutSeconds: watch again. A server
      // that ends streams at once must not turn this into a busy loop.
      if (std::chrono::steady_clock::now() - opened < std::chrono::seconds(1)) pause(stop);
      continue;
    }
    inbox_.set_healthy(false);
    const std::string error =
        "watch: " + (w.status == 0 ? w.transport_error : "HTTP " + std::to_string(w.status)) +
        "; polling every retry period until it works again";
    if (error != last_error_) log_(2, error);
    last_error_ = error;
    if (w.status == 403) rv.clear();
    pause(stop);
  }
  inbox_.set_healthy(false);
}

}  // namespace pgdc::kube
