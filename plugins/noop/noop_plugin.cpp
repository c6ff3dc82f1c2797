// The no-op coordination backend: for `leader.enabled: false`, exactly one
// replica. It grants leadership at once, with epoch 1, and never expires.
// Running two replicas with it would give two leaders, so it says so loudly.
//
// Members (ABI 1.4): it lists itself, as the host last published it, with a
// heartbeat that is always fresh (it is this process). It offers no
// transfer: there is nobody to hand over to.
//
// The epoch scope is new at every start ("noop-<16 random hex digits>"): the
// daemon keeps no state across a restart, so command numbers restart at 1,
// and a PgDog node that polls with its last epoch and after_seq must see that
// the term changed and poll from 0 again (a fixed scope made a restarted
// control plane's new commands invisible to it).
#include <pgdog_control/plugin.hpp>

#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

class NoopBackend final : public pgdc::sdk::Backend, public pgdc::sdk::Members {
 public:
  NoopBackend(pgdc::sdk::Host host, std::string_view config_json)
      : host_(host),
        identity_(string_field(config_json, "identity", true)),
        address_(string_field(config_json, "advertise_address", false)),
        scope_("noop-" + random_hex(16)) {}

  void start() override {
    host_.log(pgdc::sdk::LogLevel::kWarn,
              "leader election is disabled (noop backend): this replica leads at once and "
              "forever. Run exactly one replica; set leader.enabled: true for more.");
    pgdc::sdk::Leadership l;
    l.role = pgdc::sdk::Role::kLeader;
    l.holder = identity_;
    l.holder_address = address_;
    l.epoch_scope = scope_;
    l.epoch = 1;
    l.valid_until_ns = PGDC_NEVER;
    host_.report(l);
  }

  bool stop(bool /*release*/, std::int64_t /*deadline_ns*/) override {
    // Nothing is held outside this process; the host already stopped leader
    // work and reads "not leading" from shutdown. No call after this returns.
    return true;
  }

  void member_publish(const pgdc::sdk::Member& self) override {
    std::lock_guard lock(mutex_);
    self_ = self;
    self_->heartbeat_age_ms = 0;
    self_->stale = false;
  }

  std::vector<pgdc::sdk::Member> members_list(std::int64_t /*deadline_ns*/) override {
    std::lock_guard lock(mutex_);
    if (!self_) return {};
    return {*self_};
  }

 private:
  static std::string random_hex(std::size_t digits) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::random_device rd;
    std::string out;
    for (std::size_t i = 0; i < digits; ++i) out.push_back(kHex[rd() % 16]);
    return out;
  }

  static std::string string_field(std::string_view config_json, const char* key, bool required) {
    const auto config = nlohmann::json::parse(config_json, nullptr, /*allow_exceptions=*/false);
    if (!config.is_object())
      throw pgdc::sdk::ConfigError("noop: the host config is not a JSON object");
    const auto it = config.find(key);
    if (it == config.end() && !required) return "";
    if (it == config.end() || !it->is_string() || (required && it->get<std::string>().empty())) {
      throw pgdc::sdk::ConfigError(std::string("noop: ") + key + " must be a" +
                                   (required ? " non-empty" : "") + " string");
    }
    return it->get<std::string>();
  }

  pgdc::sdk::Host host_;
  std::string identity_;
  std::string address_;  // advertise_address: where this (the only) replica serves
  std::string scope_;    // this start's epoch scope
  std::mutex mutex_;
  std::optional<pgdc::sdk::Member> self_;  // as last published
};

}  // namespace

PGDC_PLUGIN(NoopBackend, "noop", "1.0.0", "Single replica: always the leader, no election")
