// A coordination plugin whose behaviour the test sets through leader.options,
// to drive the real daemon through paths the real backends take rarely:
//   lead (bool, default true)       report leadership at start
//   valid_ms (int, default 0)       leadership validity; 0 = never expires
//   renew_ms (int, default 0)       if > 0, re-report leadership this often
//   renew_epoch (int, default 1)    the epoch of those re-reports (the first is 1;
//                                   0 makes every renewal a fencing violation)
//   progress (bool, default false)  report progress once at start, then never
//                                   (the elector looks wedged afterwards)
//   fail_create (string)            create() fails with this config error
//   fail_start (string)             start() fails with this message
//   stop_sleep_ms (int, default 0)  stop() sleeps this long, ignoring its deadline
//   release_fails (bool)            stop() reports a failed release
//   follow_holder (string)          with lead false: report a follower whose
//   follow_address (string)         leader is this identity at this address
// Logs "scripted: stop release=<0|1> deadline_in_ms=<n>" so tests can check
// what the daemon asked for.
//
// Built a second time with SCRIPTED_MEMBERS as scripted-members.so (ABI 1.4
// members and handover; the plain build offers neither):
//   members (list of {identity, address, version, eligible, stale,
//            heartbeat_age_ms})  the other replicas members_list reports,
//                                besides this one as last published
//   transfer_fails (string)      "conflict" or "unavailable": transfer fails so
// transfer(to) reports FOLLOWER (no holder) first, as the ABI asks, then logs
// "scripted: transfer to=<to>" and returns.
#include <pgdog_control/plugin.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

class ScriptedBackend final : public pgdc::sdk::Backend
#ifdef SCRIPTED_MEMBERS
    ,
                              public pgdc::sdk::Members,
                              public pgdc::sdk::Handover
#endif
{
 public:
  ScriptedBackend(pgdc::sdk::Host host, std::string_view config_json) : host_(host) {
    const auto c = nlohmann::json::parse(config_json, nullptr, false);
    if (!c.is_object()) throw pgdc::sdk::ConfigError("scripted: config is not a JSON object");
    identity_ = c.value("identity", "scripted");
    address_ = c.value("advertise_address", "");
    const auto o = c.value("options", nlohmann::json::object());
    if (!o.is_object()) throw pgdc::sdk::ConfigError("scripted: options must be a map");
    if (o.contains("fail_create")) throw pgdc::sdk::ConfigError(o.value("fail_create", ""));
    lead_ = o.value("lead", true);
    valid_ms_ = o.value("valid_ms", 0);
    renew_ms_ = o.value("renew_ms", 0);
    renew_epoch_ = o.value("renew_epoch", 1);
    progress_ = o.value("progress", false);
    fail_start_ = o.value("fail_start", "");
    stop_sleep_ms_ = o.value("stop_sleep_ms", 0);
    release_fails_ = o.value("release_fails", false);
    follow_holder_ = o.value("follow_holder", "");
    follow_address_ = o.value("follow_address", "");
#ifdef SCRIPTED_MEMBERS
    for (const auto& m : o.value("members", nlohmann::json::array())) {
      pgdc::sdk::Member x;
      x.identity = m.value("identity", "");
      x.address = m.value("address", "");
      x.version = m.value("version", "0.0.0");
      x.backend = "scripted 1.0.0";
      x.eligible = m.value("eligible", true);
      x.stale = m.value("stale", false);
      x.heartbeat_age_ms = m.value("heartbeat_age_ms", 100);
      others_.push_back(std::move(x));
    }
    transfer_fails_ = o.value("transfer_fails", "");
#endif
  }

#ifdef SCRIPTED_MEMBERS
  void member_publish(const pgdc::sdk::Member& self) override {
    std::lock_guard lock(mutex_);
    self_ = self;
    self_.heartbeat_age_ms = 0;
    host_.log(pgdc::sdk::LogLevel::kInfo,
              std::string("scripted: publish eligible=") + (self.eligible ? "1" : "0"));
  }
  std::vector<pgdc::sdk::Member> members_list(std::int64_t) override {
    std::lock_guard lock(mutex_);
    std::vector<pgdc::sdk::Member> out = others_;
    if (!self_.identity.empty()) out.push_back(self_);
    return out;
  }
  void transfer(std::string_view to, std::int64_t) override {
    if (transfer_fails_ == "conflict") throw pgdc::sdk::ConflictError("scripted: not leading");
    if (transfer_fails_ == "unavailable") {
      throw pgdc::sdk::UnavailableError("scripted: the handover write timed out");
    }
    join();                   // no renewal after the term is given up
    pgdc::sdk::Leadership l;  // FOLLOWER, no holder known yet
    host_.report(l);
    host_.log(pgdc::sdk::LogLevel::kInfo, "scripted: transfer to=" + std::string(to));
  }
#endif

  ~ScriptedBackend() override { join(); }

  void start() override {
    if (!fail_start_.empty()) throw pgdc::sdk::UnavailableError(fail_start_);
    if (progress_) host_.progress();
    if (lead_) report();
    if (!lead_ && !follow_holder_.empty()) {
      pgdc::sdk::Leadership l;
      l.holder = follow_holder_;
      l.holder_address = follow_address_;
      host_.report(l);
    }
    if (lead_ && renew_ms_ > 0) {
      renewer_ = std::thread([this] {
        std::unique_lock lock(mutex_);
        while (
            !cv_.wait_for(lock, std::chrono::milliseconds(renew_ms_), [this] { return stop_; })) {
          report(renew_epoch_);
        }
      });
    }
  }

  bool stop(bool release, std::int64_t deadline_ns) override {
    join();
    host_.log(pgdc::sdk::LogLevel::kInfo,
              "scripted: stop release=" + std::to_string(release ? 1 : 0) +
                  " deadline_in_ms=" + std::to_string((deadline_ns - host_.now_ns()) / 1000000));
    if (stop_sleep_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(stop_sleep_ms_));
    return !release_fails_;
  }

 private:
  void report(int epoch = 1) {
    pgdc::sdk::Leadership l;
    l.role = pgdc::sdk::Role::kLeader;
    l.holder = identity_;
    l.holder_address = address_;
    l.epoch_scope = "scripted";
    l.epoch = static_cast<std::uint64_t>(epoch);
    l.valid_until_ns =
        valid_ms_ > 0 ? host_.now_ns() + std::int64_t{valid_ms_} * 1000000 : PGDC_NEVER;
    host_.report(l);
  }
  void join() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    if (renewer_.joinable()) renewer_.join();
  }

  pgdc::sdk::Host host_;
  std::string identity_;
  std::string address_;
  std::string follow_holder_;
  std::string follow_address_;
  bool lead_ = true;
  int valid_ms_ = 0;
  int renew_ms_ = 0;
  int renew_epoch_ = 1;
  bool progress_ = false;
  std::string fail_start_;
  int stop_sleep_ms_ = 0;
  bool release_fails_ = false;
  std::thread renewer_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
#ifdef SCRIPTED_MEMBERS
  pgdc::sdk::Member self_;  // as last published; under mutex_
  std::vector<pgdc::sdk::Member> others_;
  std::string transfer_fails_;
#endif
};

}  // namespace

#ifdef SCRIPTED_MEMBERS
PGDC_PLUGIN(ScriptedBackend, "scripted-members", "1.0.0",
            "Test backend driven by leader.options, with members and handover")
#else
PGDC_PLUGIN(ScriptedBackend, "scripted", "1.0.0", "Test backend driven by leader.options")
#endif
