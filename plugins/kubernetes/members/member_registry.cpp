#include "member_registry.h"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "client/text.h"
#include "election/lease_api.h"

namespace pgdc::kube {
namespace {

using std::chrono::milliseconds;
using json = nlohmann::json;

constexpr const char* kLeasesApi = "/apis/coordination.k8s.io/v1/namespaces/";

std::string version_of(const std::string& body) {
  const json o = json::parse(body, nullptr, false);
  if (!o.is_object() || !o.contains("metadata") || !o["metadata"].is_object()) return "";
  const json v = o["metadata"].value("resourceVersion", json());
  return v.is_string() ? v.get<std::string>() : "";
}

std::string describe(const ApiResponse& r) {
  if (r.status == 0) return r.timed_out ? "no answer in time" : "no response: " + r.transport_error;
  return "HTTP " + std::to_string(r.status) + ": " + api_status_message(r.body);
}

}  // namespace

MemberTimings MemberTimings::for_heartbeat(milliseconds heartbeat) {
  MemberTimings t;
  t.heartbeat = std::max(heartbeat, milliseconds(5000));
  const auto ttl_ms = 3 * t.heartbeat.count();
  t.ttl_secs = static_cast<std::int32_t>((ttl_ms + 999) / 1000);
  return t;
}

MemberRegistry::MemberRegistry(ApiTransport& transport, std::string ns, std::string lease_name,
                               PodRef pod, MemberTimings timings, WallClock wall,
                               std::function<std::int64_t()> now_ns, Log log)
    : transport_(transport),
      ns_(std::move(ns)),
      lease_name_(std::move(lease_name)),
      label_value_(member_label_value(lease_name_)),
      pod_(std::move(pod)),
      timings_(timings),
      wall_(std::move(wall)),
      now_ns_(std::move(now_ns)),
      log_(std::move(log)) {}

MemberRegistry::~MemberRegistry() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

std::string MemberRegistry::collection_path() const { return kLeasesApi + ns_ + "/leases"; }

std::string MemberRegistry::object_path(const std::string& name) const {
  return collection_path() + "/" + name;
}

std::string MemberRegistry::object_name() const {
  std::lock_guard lock(mutex_);
  return desired_ ? member_lease_name(lease_name_, desired_->identity) : "";
}

void MemberRegistry::start() {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void MemberRegistry::publish(const pgdc::sdk::Member& self) {
  {
    std::lock_guard lock(mutex_);
    desired_ = self;
    desired_->heartbeat_age_ms = 0;
    desired_->stale = false;
    dirty_ = true;
  }
  wake_.notify_all();
}

void MemberRegistry::run(std::stop_token stop) {
  auto next = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    if (!desired_) {  // nothing published yet
      wake_.wait(lock, stop, [this] { return dirty_; });
      continue;
    }
    if (!dirty_ && std::chrono::steady_clock::now() < next) {
      wake_.wait_until(lock, stop, next, [this] { return dirty_; });
      continue;
    }
    dirty_ = false;
    lock.unlock();
    // Each request well inside a heartbeat, so a hung server delays the next
    // heartbeat by at most one timeout.
    const milliseconds timeout = std::min(timings_.heartbeat, milliseconds(5000));
    heartbeat(timeout);
    collect_garbage(timeout);
    lock.lock();
    next = std::chrono::steady_clock::now() + timings_.heartbeat;
  }
}

ApiResponse MemberRegistry::fetch_version(const std::string& name, milliseconds timeout,
                                          std::string* version) {
  ApiResponse r =
      transport_.send(ApiRequest{"GET", object_path(name), "", "application/json", timeout});
  if (r.status == 200) *version = version_of(r.body);
  return r;
}

void MemberRegistry::report_failure(const std::string& verb, const std::string& name,
                                    const ApiResponse& r) {
  std::string why = describe(r);
  if (r.status == 403) {
    why += "; grant " + verb +
           " on leases (any name: member Leases are named after each replica) with " +
           rbac_hint(verb, "leases", ns_, "");
  }
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    first = !failing_;
    failing_ = true;
  }
  if (log_) {
    log_(first ? 2 : 0, "members: cannot " + verb + " member lease " + ns_ + "/" + name + ": " +
                            why + "; the election is not affected, retrying every heartbeat");
  }
}

bool MemberRegistry::heartbeat(milliseconds timeout) {
  pgdc::sdk::Member self;
  std::string version;
  {
    std::lock_guard lock(mutex_);
    if (!desired_) return false;
    self = *desired_;
    version = resource_version_;
  }
  const std::string name = member_lease_name(lease_name_, self.identity);
  MemberWrite w{ns_, lease_name_, self, timings_.ttl_secs, wall_(), pod_, version};
  // At most three requests: a write, a re-read after a conflict, the write again.
  for (int attempt = 0; attempt < 2; ++attempt) {
    w.resource_version = version;
    const bool create = version.empty();
    const std::string verb = create ? "create" : "update";
    const ApiResponse r =
        create ? transport_.send(ApiRequest{"POST", collection_path(), member_lease_body(w),
                                            "application/json", timeout})
               : transport_.send(ApiRequest{"PUT", object_path(name), member_lease_body(w),
                                            "application/json", timeout});
    if (r.status == 200 || r.status == 201) {
      bool recovered = false;
      {
        std::lock_guard lock(mutex_);
        resource_version_ = version_of(r.body);
        written_name_ = name;
        recovered = failing_;
        failing_ = false;
        ++generation_;
      }
      if (recovered && log_) log_(1, "members: publishing member lease " + ns_ + "/" + name);
      return true;
    }
    if (!create && r.status == 404) {  // deleted (by hand, or as garbage): create it again
      version.clear();
      continue;
    }
    if (r.status == 409) {  // it exists (create) or moved (update): take it over
      std::string current;
      const ApiResponse g = fetch_version(name, timeout, &current);
      if (g.status == 404) {
        version.clear();
        continue;
      }
      if (g.status != 200 || current.empty()) {
        report_failure("get", name, g);
        return false;
      }
      version = current;
      continue;
    }
    report_failure(verb, name, r);
    return false;
  }
  std::lock_guard lock(mutex_);
  resource_version_.clear();  // start over with a fresh read next time
  return false;
}

bool MemberRegistry::remove(const std::string& name, const std::string& version,
                            milliseconds timeout, bool* gone) {
  const json options{{"apiVersion", "v1"},
                     {"kind", "DeleteOptions"},
                     {"preconditions", {{"resourceVersion", version}}}};
  const ApiResponse r = transport_.send(
      ApiRequest{"DELETE", object_path(name), options.dump(), "application/json", timeout});
  *gone = r.status == 200 || r.status == 202 || r.status == 404;
  if (*gone) return true;
  if (r.status == 409) return false;  // written since: not ours to delete
  report_failure("delete", name, r);
  return false;
}

void MemberRegistry::collect_garbage(milliseconds timeout) {
  std::vector<std::pair<std::string, std::string>> garbage;
  {
    std::lock_guard lock(mutex_);
    garbage.swap(garbage_);
  }
  for (const auto& [name, version] : garbage) {
    bool gone = false;
    if (remove(name, version, timeout, &gone) && log_) {
      log_(1, "members: deleted member lease " + ns_ + "/" + name + " (no heartbeat for over " +
                  std::to_string(kGarbageTtls) + " TTLs)");
    }
  }
}

bool MemberRegistry::stop(milliseconds timeout) {
  thread_.request_stop();
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::string name, version;
  {
    std::lock_guard lock(mutex_);
    name = written_name_;
    version = resource_version_;
    desired_.reset();
  }
  if (name.empty() || version.empty()) return true;
  if (timeout < milliseconds(1)) return false;
  bool gone = false;
  remove(name, version, timeout, &gone);
  if (gone && log_) log_(1, "members: withdrew member lease " + ns_ + "/" + name);
  if (!gone && log_) {
    log_(1, "members: left member lease " + ns_ + "/" + name +
                " in place (rewritten since, or the delete failed); it goes stale after " +
                std::to_string(timings_.ttl_secs) + " s");
  }
  std::lock_guard lock(mutex_);
  resource_version_.clear();
  written_name_.clear();
  return gone;
}

std::vector<pgdc::sdk::Member> MemberRegistry::list(std::int64_t deadline_ns) {
  const auto left = [&] { return milliseconds((deadline_ns - now_ns_()) / 1'000'000); };
  {
    std::unique_lock gate(list_mutex_);
    const auto until = std::chrono::steady_clock::now() + left();
    if (left() < milliseconds(1) ||
        !list_cv_.wait_until(gate, until, [this] { return !listing_; })) {
      throw pgdc::sdk::UnavailableError(
          "members: the deadline passed before the member leases could be listed");
    }
    listing_ = true;
  }
  struct Done {
    MemberRegistry* r;
    ~Done() {
      {
        std::lock_guard gate(r->list_mutex_);
        r->listing_ = false;
      }
      r->list_cv_.notify_all();
    }
  } done{this};
  std::uint64_t generation = 0;
  {
    std::lock_guard g(mutex_);
    generation = generation_;
  }
  const std::int64_t now = now_ns_();
  if (!cache_ || cache_->generation != generation ||
      now - cache_->fetched_ns >= timings_.cache_for.count() * 1'000'000) {
    const milliseconds timeout = left();
    if (timeout < milliseconds(1)) {
      throw pgdc::sdk::UnavailableError(
          "members: the deadline passed before the member leases could be listed");
    }
    const std::string path = collection_path() + "?labelSelector=" +
                             url_encode(std::string(kMemberOfLabel) + "=" + label_value_);
    const ApiResponse r = transport_.send(ApiRequest{"GET", path, "", "application/json", timeout});
    const std::string what = "members: list leases in namespace \"" + ns_ + "\" labelled " +
                             kMemberOfLabel + "=" + label_value_ + ": ";
    if (r.status == 403) {
      throw pgdc::sdk::UnavailableError(what + "403 Forbidden; grant it with " +
                                        rbac_hint("list", "leases", ns_, "") +
                                        " (server: " + api_status_message(r.body) + ")");
    }
    if (r.status != 200) {
      throw pgdc::sdk::UnavailableError(what + (r.status == 0 && r.timed_out
                                                    ? "no answer within " + ms_text(timeout)
                                                    : describe(r)));
    }
    std::string why;
    std::vector<std::string> skipped;
    auto records = parse_member_list(r.body, label_value_, wall_(), &why, &skipped);
    if (!records) throw pgdc::sdk::UnavailableError(what + "malformed response: " + why);
    if (log_) {
      for (const std::string& s : skipped) log_(0, "members: skipped " + s);
    }
    std::vector<std::pair<std::string, std::string>> garbage;
    for (const MemberRecord& m : *records) {
      if (m.age_ms > std::int64_t{kGarbageTtls} * m.ttl_secs * 1000 && !m.resource_version.empty())
        garbage.emplace_back(m.name, m.resource_version);
    }
    {
      std::lock_guard g(mutex_);
      garbage_ = std::move(garbage);
    }
    cache_ = Cache{std::move(*records), now_ns_(), generation};
  }
  // A cached answer ages with the time since it was fetched.
  const std::int64_t since_ms = (now_ns_() - cache_->fetched_ns) / 1'000'000;
  std::vector<pgdc::sdk::Member> out;
  out.reserve(cache_->records.size());
  for (const MemberRecord& m : cache_->records) {
    pgdc::sdk::Member member = m.member;
    const std::int64_t age = m.age_ms + since_ms;
    member.heartbeat_age_ms = std::max<std::int64_t>(age, 0);
    member.stale = age > std::int64_t{m.ttl_secs} * 1000;
    out.push_back(std::move(member));
  }
  return out;
}

}  // namespace pgdc::kube
