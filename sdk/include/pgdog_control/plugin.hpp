// C++ helpers for plugin authors. Header-only, C++17 or newer; depends only
// on the C ABI in plugin.h and the standard library. Everything here is in
// namespace pgdc::sdk (the daemon's own types live in pgdc, so both can be
// used in one file).
//
// A plugin is one class derived from pgdc::sdk::Backend, constructible from
// (pgdc::sdk::Host, std::string_view config_json), and one macro:
//
//   class MyBackend final : public pgdc::sdk::Backend {
//    public:
//     MyBackend(pgdc::sdk::Host host, std::string_view config_json);
//     void start() override;
//     bool stop(bool release, std::int64_t deadline_ns) override;
//   };
//   PGDC_PLUGIN(MyBackend, "my-backend", "1.0.0", "Leases in my store")
//
// The macro emits the exported entry point and no-throw trampolines: an
// exception escaping the constructor, start() or stop() becomes an error
// status with the exception's message. pgdc::sdk::ConfigError maps to
// PGDC_ERR_CONFIG, pgdc::sdk::UnavailableError to PGDC_ERR_UNAVAILABLE, anything
// else to PGDC_ERR_INTERNAL.
//
// The life cycle is plugin.h's ("Call order"): constructor = create(),
// start(), stop(), destructor = destroy(). The destructor may run without
// start() or stop() having run (`pgdog-control --check`, a failed start()).
// config_json is the object described at pgdc_vtable.create; the SDK has no
// JSON parser, read it with any JSON library (docs/plugins.md shows one).
#ifndef PGDOG_CONTROL_PLUGIN_HPP
#define PGDOG_CONTROL_PLUGIN_HPP

#if __cplusplus < 201703L
#error "pgdog_control/plugin.hpp needs C++17 or newer"
#endif

#include <pgdog_control/plugin.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace pgdc::sdk {

enum class LogLevel : std::uint32_t {
  kDebug = PGDC_LOG_DEBUG,
  kInfo = PGDC_LOG_INFO,
  kWarn = PGDC_LOG_WARN,
  kError = PGDC_LOG_ERROR,
};

enum class Role : std::uint32_t {
  kFollower = PGDC_ROLE_FOLLOWER,
  kLeader = PGDC_ROLE_LEADER,
};

// One leadership observation; see pgdc_leadership for the invariants.
struct Leadership {
  Role role = Role::kFollower;
  std::string holder;
  std::string epoch_scope;
  std::uint64_t epoch = 0;
  std::int64_t valid_until_ns = 0;
  std::string holder_address;  // ABI 1.1: the holder's advertise_address, "" if unknown
};

// The configuration is invalid: PGDC_ERR_CONFIG.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The backend cannot work here (credentials, reachability): PGDC_ERR_UNAVAILABLE.
class UnavailableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ABI 1.4, transfer: not leading, or the backend refused the target:
// PGDC_ERR_CONFLICT.
class ConflictError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline pgdc_str to_c(std::string_view s) noexcept { return pgdc_str{s.data(), s.size()}; }
inline std::string_view from_c(pgdc_str s) noexcept {
  return s.data == nullptr ? std::string_view{} : std::string_view{s.data, s.len};
}

// A metric series defined through the host. Cheap to copy; a series the host
// refused (handle -1) silently ignores updates.
class Metric {
 public:
  Metric() = default;
  Metric(const pgdc_host* host, std::int64_t handle) : host_(host), handle_(handle) {}
  bool valid() const noexcept { return host_ != nullptr && handle_ >= 0; }
  void add(double v = 1.0) const noexcept { record(PGDC_METRIC_ADD, v); }
  void set(double v) const noexcept { record(PGDC_METRIC_SET, v); }
  void observe(double v) const noexcept { record(PGDC_METRIC_OBSERVE, v); }

 private:
  void record(std::uint32_t op, double v) const noexcept {
    if (valid()) host_->metric_record(host_->ctx, handle_, op, v);
  }
  const pgdc_host* host_ = nullptr;
  std::int64_t handle_ = -1;
};

// The host services, as a value type; all members are thread-safe. When they
// may be called (plugin.h, "When the plugin may call the host"): in the
// backend's constructor, on its thread, log(), now_ns() and the metric
// functions; from start() until stop() returns, everything, from any thread;
// never in the destructor or after stop() returns.
class Host {
 public:
  explicit Host(const pgdc_host* host) noexcept : host_(host) {}

  void log(LogLevel level, std::string_view message) const noexcept {
    host_->log(host_->ctx, static_cast<std::uint32_t>(level), to_c(message));
  }
  std::int64_t now_ns() const noexcept { return host_->monotonic_now_ns(host_->ctx); }
  void report(const Leadership& l) const noexcept {
    pgdc_leadership c{};
    c.size = sizeof(c);
    c.role = static_cast<std::uint32_t>(l.role);
    c.holder = to_c(l.holder);
    c.epoch_scope = to_c(l.epoch_scope);
    c.epoch = l.epoch;
    c.valid_until_ns = l.valid_until_ns;
    c.holder_address = to_c(l.holder_address);
    host_->on_leadership(host_->ctx, &c);
  }
  void progress() const noexcept { host_->report_progress(host_->ctx); }

  Metric counter(std::string_view name, std::string_view help,
                 std::string_view labels_json = {}) const noexcept {
    return define(PGDC_METRIC_COUNTER, name, help, labels_json, {});
  }
  Metric gauge(std::string_view name, std::string_view help,
               std::string_view labels_json = {}) const noexcept {
    return define(PGDC_METRIC_GAUGE, name, help, labels_json, {});
  }
  Metric histogram(std::string_view name, std::string_view help, std::string_view labels_json,
                   std::initializer_list<double> buckets = {}) const noexcept {
    return define(PGDC_METRIC_HISTOGRAM, name, help, labels_json, buckets);
  }

  const pgdc_host* raw() const noexcept { return host_; }

 private:
  Metric define(std::uint32_t kind, std::string_view name, std::string_view help,
                std::string_view labels, std::initializer_list<double> buckets) const noexcept {
    const std::int64_t h =
        host_->metric_define(host_->ctx, kind, to_c(name), to_c(help), to_c(labels),
                             buckets.size() == 0 ? nullptr : buckets.begin(), buckets.size());
    return Metric(host_, h);
  }
  const pgdc_host* host_;
};

// What a plugin author implements. Constructor, start(), stop() and the
// destructor are called from one host thread; see pgdc_vtable for their
// contracts.
class Backend {
 public:
  // Frees; makes no host call. Runs after stop(), after a failed start(), or
  // without either for an instance never started.
  virtual ~Backend() = default;
  // Begin campaigning without blocking on I/O. Throw to fail; a failed
  // start() leaves no thread running (no stop() follows).
  virtual void start() = 0;
  // Stop by deadline_ns (host monotonic clock); release if asked and held.
  // Return true when stopped and, if release was asked, released or nothing
  // was held (a follower returns true). Return false (after logging why)
  // when a requested release did not happen or may not have: the host logs
  // a warning and the leadership expires by itself. After return, no host
  // service may be called, whatever the result.
  virtual bool stop(bool release, std::int64_t deadline_ns) = 0;
};

// ABI 1.3, optional: a plugin that keeps the host's control state derives
// from StateStore as well as Backend (plugin.h, "The state store"). The
// PGDC_PLUGIN macro then fills in state_read and state_write. Both are called
// between start() and stop(), possibly from several host threads at once for
// different keys; each returns by deadline_ns (host monotonic clock).
struct StateObject {
  std::string value;
  std::string version;  // opaque; the host compares it for equality only
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  // The object, or nullopt when it does not exist. Throw UnavailableError
  // when the store did not answer.
  virtual std::optional<StateObject> state_read(std::string_view key, std::int64_t deadline_ns) = 0;
  // Compare-and-swap performed by the store: write value if the object's
  // version equals expected_version ("" : if it does not exist). Returns the
  // new version, or nullopt on a conflict (nothing written). Throw
  // UnavailableError when the store refused or did not answer (the outcome
  // may be unknown), ConfigError for a value the store cannot hold.
  virtual std::optional<std::string> state_write(std::string_view key, std::string_view value,
                                                 std::string_view expected_version,
                                                 std::int64_t deadline_ns) = 0;
};

// True for the keys plugin.h allows: 1-63 characters of [a-z0-9-], starting
// and ending with a letter or digit.
inline bool valid_state_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > 63 || key.front() == '-' || key.back() == '-') return false;
  for (char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// ABI 1.4, optional (plugin.h, "Members and handover"): one replica.
struct Member {
  std::string identity;
  std::string address;
  std::string version;
  std::string backend;
  bool eligible = true;
  std::int64_t heartbeat_age_ms = -1;  // members_list only; -1 unknown
  bool stale = false;                  // members_list only
};

// A plugin that publishes members derives from Members as well as Backend;
// PGDC_PLUGIN then fills in member_publish and members_list. Both may be
// called from any host thread between start() and stop().
class Members {
 public:
  virtual ~Members() = default;
  // Publish `self` as this replica's heartbeat from now on; return at once.
  // Throw ConfigError for a member the backend cannot hold.
  virtual void member_publish(const Member& self) = 0;
  // Every known member. Throw UnavailableError when the backend did not
  // answer by deadline_ns.
  virtual std::vector<Member> members_list(std::int64_t deadline_ns) = 0;
};

// A plugin that can hand its leadership to a chosen member derives from
// Handover; PGDC_PLUGIN then fills in transfer. Returns once the handover
// write succeeded; throw ConflictError (not leading, target refused) or
// UnavailableError (failed or unknown by deadline_ns).
class Handover {
 public:
  virtual ~Handover() = default;
  virtual void transfer(std::string_view to, std::int64_t deadline_ns) = 0;
};

namespace detail {

inline void write_error(pgdc_errbuf err, std::string_view msg) noexcept {
  if (err.buf == nullptr || err.cap == 0) return;
  const std::size_t n = msg.size() < err.cap - 1 ? msg.size() : err.cap - 1;
  std::memcpy(err.buf, msg.data(), n);
  err.buf[n] = '\0';
}

// Runs f, mapping exceptions to status codes and messages. noexcept: nothing
// escapes into the host.
template <typename F>
std::int32_t guarded(pgdc_errbuf err, F&& f) noexcept {
  try {
    return f();
  } catch (const ConfigError& e) {
    write_error(err, e.what());
    return PGDC_ERR_CONFIG;
  } catch (const UnavailableError& e) {
    write_error(err, e.what());
    return PGDC_ERR_UNAVAILABLE;
  } catch (const ConflictError& e) {
    write_error(err, e.what());
    return PGDC_ERR_CONFLICT;
  } catch (const std::exception& e) {
    write_error(err, e.what());
    return PGDC_ERR_INTERNAL;
  } catch (...) {
    write_error(err, "unknown exception");
    return PGDC_ERR_INTERNAL;
  }
}

inline Backend* as_backend(pgdc_instance* i) noexcept { return reinterpret_cast<Backend*>(i); }

template <typename T>
struct Trampolines {
  static_assert(std::is_base_of_v<Backend, T>,
                "PGDC_PLUGIN: the class must derive from pgdc::sdk::Backend");
  static_assert(std::is_constructible_v<T, Host, std::string_view>,
                "PGDC_PLUGIN: the class needs a constructor T(pgdc::sdk::Host, std::string_view "
                "config_json)");

  static std::int32_t create(const pgdc_host* host, pgdc_str config, pgdc_instance** out,
                             pgdc_errbuf err) noexcept {
    return guarded(err, [&]() -> std::int32_t {
      if (host == nullptr || out == nullptr)
        throw std::invalid_argument("null host or out pointer");
      Backend* b = new T(Host(host), from_c(config));
      *out = reinterpret_cast<pgdc_instance*>(b);
      return PGDC_OK;
    });
  }
  static std::int32_t start(pgdc_instance* i, pgdc_errbuf err) noexcept {
    return guarded(err, [&]() -> std::int32_t {
      as_backend(i)->start();
      return PGDC_OK;
    });
  }
  static std::int32_t stop(pgdc_instance* i, std::int32_t release, std::int64_t deadline,
                           pgdc_errbuf err) noexcept {
    return guarded(err, [&]() -> std::int32_t {
      if (as_backend(i)->stop(release != 0, deadline)) return PGDC_OK;
      write_error(err, "stopped, but not cleanly (see the plugin's log)");
      return PGDC_ERR_UNAVAILABLE;
    });
  }
  static void destroy(pgdc_instance* i) noexcept {
    try {
      delete as_backend(i);
    } catch (...) {
    }
  }
  static StateStore* as_store(pgdc_instance* i) noexcept { return as_mixin<StateStore>(i); }
  static std::int32_t state_read(pgdc_instance* i, pgdc_str key, pgdc_state_sink sink,
                                 void* sink_ctx, std::int64_t deadline, pgdc_errbuf err) noexcept {
    return guarded(err, [&]() -> std::int32_t {
      if (!valid_state_key(from_c(key))) throw ConfigError("invalid state key");
      auto object = as_store(i)->state_read(from_c(key), deadline);
      if (object && sink != nullptr) sink(sink_ctx, to_c(object->value), to_c(object->version));
      return PGDC_OK;
    });
  }
  static std::int32_t state_write(pgdc_instance* i, pgdc_str key, pgdc_str value, pgdc_str expected,
                                  pgdc_state_sink sink, void* sink_ctx, std::int64_t deadline,
                                  pgdc_errbuf err) noexcept {
    return guarded(err, [&]() -> std::int32_t {
      if (!valid_state_key(from_c(key))) throw ConfigError("invalid state key");
      if (value.len > PGDC_STATE_MAX_VALUE) throw ConfigError("state value too large");
      auto version =
          as_store(i)->state_write(from_c(key), from_c(value), from_c(expected), deadline);
      if (!version) {
        write_error(err, "conflict: the object's version moved");
        return PGDC_ERR_CONFLICT;
      }
      if (sink != nullptr) sink(sink_ctx, pgdc_str{"", 0}, to_c(*version));
      return PGDC_OK;
    });
  }
  template <typename Mixin>
  static Mixin* as_mixin(pgdc_instance* i) noexcept {
    if constexpr (std::is_base_of_v<Mixin, T>) {
      return static_cast<T*>(as_backend(i));
    } else {
      return nullptr;
    }
  }
  static std::int32_t member_publish(pgdc_instance* i, const pgdc_member* self,
                                     pgdc_errbuf err) noexcept {
    return guarded(err, [&]() -> std::int32_t {
      if (self == nullptr || self->size < offsetof(pgdc_member, backend) + sizeof(pgdc_str)) {
        throw ConfigError("member_publish: a member struct too small for ABI 1.4");
      }
      Member m;
      m.identity.assign(from_c(self->identity));
      m.address.assign(from_c(self->address));
      m.version.assign(from_c(self->version));
      m.backend.assign(from_c(self->backend));
      m.eligible = self->eligible != 0;
      as_mixin<Members>(i)->member_publish(m);
      return PGDC_OK;
    });
  }
  static std::int32_t members_list(pgdc_instance* i, pgdc_member_sink sink, void* sink_ctx,
                                   std::int64_t deadline, pgdc_errbuf err) noexcept {
    return guarded(err, [&]() -> std::int32_t {
      const std::vector<Member> members = as_mixin<Members>(i)->members_list(deadline);
      if (sink == nullptr) return PGDC_OK;
      for (const Member& m : members) {
        pgdc_member c{};
        c.size = sizeof(c);
        c.eligible = m.eligible ? 1 : 0;
        c.identity = to_c(m.identity);
        c.address = to_c(m.address);
        c.version = to_c(m.version);
        c.backend = to_c(m.backend);
        c.heartbeat_age_ms = m.heartbeat_age_ms;
        c.stale = m.stale ? 1 : 0;
        sink(sink_ctx, &c);
      }
      return PGDC_OK;
    });
  }
  static std::int32_t transfer(pgdc_instance* i, pgdc_str to, std::int64_t deadline,
                               pgdc_errbuf err) noexcept {
    return guarded(err, [&]() -> std::int32_t {
      if (to.len == 0) throw ConflictError("transfer: no target");
      as_mixin<Handover>(i)->transfer(from_c(to), deadline);
      return PGDC_OK;
    });
  }
  static constexpr bool kStores = std::is_base_of_v<StateStore, T>;
  static constexpr bool kMembers = std::is_base_of_v<Members, T>;
  static constexpr bool kHandover = std::is_base_of_v<Handover, T>;
  static constexpr pgdc_vtable vtable{sizeof(pgdc_vtable),
                                      &create,
                                      &start,
                                      &stop,
                                      &destroy,
                                      kStores ? &state_read : nullptr,
                                      kStores ? &state_write : nullptr,
                                      kMembers ? &member_publish : nullptr,
                                      kMembers ? &members_list : nullptr,
                                      kHandover ? &transfer : nullptr};
};

}  // namespace detail
}  // namespace pgdc::sdk

#define PGDC_EXPORT extern "C" PGDC_VISIBLE

// Emits the plugin's entry point for class CLASS. NAME: [a-z0-9-]+.
#define PGDC_PLUGIN(CLASS, NAME, VERSION, DESCRIPTION)                      \
  PGDC_EXPORT const pgdc_plugin_descriptor* pgdog_control_plugin_v1(void) { \
    static const pgdc_plugin_descriptor descriptor{                         \
        PGDC_PLUGIN_MAGIC,                                                  \
        sizeof(pgdc_plugin_descriptor),                                     \
        PGDC_ABI_MAJOR,                                                     \
        PGDC_ABI_MINOR,                                                     \
        NAME,                                                               \
        VERSION,                                                            \
        DESCRIPTION,                                                        \
        &::pgdc::sdk::detail::Trampolines<CLASS>::vtable};                  \
    return &descriptor;                                                     \
  }

#endif  // PGDOG_CONTROL_PLUGIN_HPP
