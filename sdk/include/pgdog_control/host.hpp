// Host-side C++ helpers: check a plugin descriptor, and own one plugin
// instance. Header-only; depends only on the C ABI in plugin.h and the
// standard library (no Boost, no dlopen: loading the shared object is the
// caller's job).
//
//   std::string problem = pgdc::sdk::host::check_descriptor(d, "plugin \"/x/a.so\"");
//   if (!problem.empty()) { ... refuse it ... }
//   std::string error;
//   auto instance = pgdc::sdk::host::Instance::create(d, &host, config_json, &error);
//   if (!instance || !instance->start(&error)) { ... }
//   ...
//   instance->stop(/*release=*/true, deadline_ns, &error);
//   instance.reset();  // destroy()
//
// Instance enforces the call order of pgdc_vtable (create, start, stop,
// destroy, each once), turns every error status into a one-line message
// ("create failed: config error: <the plugin's message>"), and catches a C++
// exception that a broken plugin lets escape across the C ABI, so it becomes
// an error instead of std::terminate.
//
// Thread-safety: an Instance is used from one thread at a time (the host
// calls create, start, stop and destroy from one thread).
#ifndef PGDOG_CONTROL_HOST_HPP
#define PGDOG_CONTROL_HOST_HPP

#if __cplusplus < 201703L
#error "pgdog_control/host.hpp needs C++17 or newer"
#endif

#include <pgdog_control/plugin.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pgdc::sdk::host {

// The smallest struct sizes a plugin built against ABI 1.0 can have. Later
// minors only append, so a plugin's sizes are never below these.
inline constexpr std::size_t kDescriptorMinSize =
    offsetof(pgdc_plugin_descriptor, vtable) + sizeof(const pgdc_vtable*);
inline constexpr std::size_t kVtableMinSize =
    offsetof(pgdc_vtable, destroy) + sizeof(void (*)(pgdc_instance*));
inline constexpr std::size_t kLeadershipMinSize =
    offsetof(pgdc_leadership, valid_until_ns) + sizeof(std::int64_t);
inline constexpr std::size_t kHostMinSize =
    offsetof(pgdc_host, metric_record) +
    sizeof(void (*)(void*, std::int64_t, std::uint32_t, double));

// How long the destructor lets a still-running instance stop (host clock).
inline constexpr std::int64_t kImplicitStopTimeoutNs = 5'000'000'000;

// Replaces control characters (newlines included) with spaces and drops
// trailing spaces, so plugin-provided text stays on one line.
inline std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// True for the names the ABI allows: [a-z0-9-]+, at most 64 characters.
inline bool valid_plugin_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// "name version" when the descriptor's size covers both fields and both are
// set; "" otherwise. Safe on any descriptor whose magic matched.
inline std::string describe(const pgdc_plugin_descriptor* d) {
  constexpr std::size_t kNeed = offsetof(pgdc_plugin_descriptor, version) + sizeof(const char*);
  if (d == nullptr || d->size < kNeed || d->name == nullptr || d->version == nullptr) return {};
  std::string name = one_line(std::string_view(d->name).substr(0, 64));
  std::string version = one_line(std::string_view(d->version).substr(0, 64));
  if (name.empty()) return {};
  return version.empty() ? name : name + " " + version;
}

// What an error status means, for messages: "config error", "unavailable"...
inline std::string status_text(std::int32_t status) {
  switch (status) {
    case PGDC_OK:
      return "ok";
    case PGDC_ERR_CONFIG:
      return "config error";
    case PGDC_ERR_UNAVAILABLE:
      return "unavailable";
    case PGDC_ERR_INTERNAL:
      return "internal error";
    case PGDC_ERR_CONFLICT:
      return "conflict";
    default:
      return "unknown status " + std::to_string(status);
  }
}

// Checks a descriptor the way the host does before it calls anything in it:
// magic, ABI version, struct sizes, name and version, the function table.
// Returns "" when the host can use it, else one line starting with `who`
// (e.g. `plugin "/x/a.so"`), followed by " (name version)" once those can be
// read, what was found and what to do.
inline std::string check_descriptor(const pgdc_plugin_descriptor* d, std::string_view who) {
  const std::string w(who);
  if (d == nullptr) {
    return w + ": entry point " PGDC_ENTRY_SYMBOL
               " returned no descriptor (null); the plugin is broken, rebuild it against the SDK";
  }
  if (d->magic != PGDC_PLUGIN_MAGIC) {
    char found[16];
    char expected[16];
    std::snprintf(found, sizeof(found), "0x%08x", static_cast<unsigned>(d->magic));
    std::snprintf(expected, sizeof(expected), "0x%08x", static_cast<unsigned>(PGDC_PLUGIN_MAGIC));
    return w + ": bad magic " + found + "; expected " + expected +
           ": not a pgdog-control plugin descriptor";
  }
  const std::string min_size = std::to_string(kDescriptorMinSize);
  const std::string minimum =
      " is smaller than the ABI " + std::to_string(PGDC_ABI_MAJOR) + ".0 minimum ";
  // The header (magic, size, abi_major, abi_minor) is the same in every ABI.
  constexpr std::size_t kHeader =
      offsetof(pgdc_plugin_descriptor, abi_minor) + sizeof(std::uint16_t);
  if (d->size < kHeader) {
    return w + ": descriptor size " + std::to_string(d->size) + minimum + min_size +
           "; rebuild it against the SDK";
  }
  const std::string label = describe(d);
  const std::string named = label.empty() ? w : w + " (" + label + ")";
  const std::string host_major = std::to_string(PGDC_ABI_MAJOR);
  const std::string found =
      "ABI " + std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor);
  const std::string accepts = ", host accepts " + host_major + ".0 to " + host_major + "." +
                              std::to_string(PGDC_ABI_MINOR) + "; ";
  if (d->abi_major != PGDC_ABI_MAJOR) {
    return named + ": " + found + accepts + "rebuild the plugin against an SDK with plugin ABI " +
           host_major;
  }
  if (d->abi_minor > PGDC_ABI_MINOR) {
    return named + ": " + found + accepts +
           "upgrade pgdog-control, or rebuild the plugin against an SDK with plugin ABI " +
           host_major + "." + std::to_string(PGDC_ABI_MINOR);
  }
  if (d->size < kDescriptorMinSize) {
    return named + ": descriptor size " + std::to_string(d->size) + minimum + min_size +
           "; rebuild it against the SDK";
  }
  const std::string broken = "; the plugin is broken, rebuild it against the SDK";
  if (d->name == nullptr || !valid_plugin_name(d->name)) {
    const std::string shown = d->name == nullptr ? "(null)" : "\"" + one_line(d->name) + "\"";
    return named + ": descriptor name " + shown + " is not [a-z0-9-]+ (at most 64 characters)" +
           broken;
  }
  if (d->version == nullptr || d->version[0] == '\0') {
    return named + ": descriptor has no version" + broken;
  }
  const pgdc_vtable* vt = d->vtable;
  if (vt == nullptr) return named + ": descriptor has no function table (vtable is null)" + broken;
  if (vt->size < kVtableMinSize) {
    return named + ": function table size " + std::to_string(vt->size) + minimum +
           std::to_string(kVtableMinSize) + "; rebuild it against the SDK";
  }
  const char* missing = vt->create == nullptr    ? "create"
                        : vt->start == nullptr   ? "start"
                        : vt->stop == nullptr    ? "stop"
                        : vt->destroy == nullptr ? "destroy"
                                                 : nullptr;
  if (missing != nullptr) {
    return named + ": required function " + missing + " is null in the function table" + broken;
  }
  return {};
}

// Checks the host's own table (a host bug if this fails). "" when usable.
inline std::string check_host(const pgdc_host* h) {
  if (h == nullptr) return "host services table is null";
  if (h->size < kHostMinSize) return "host services table is too small";
  if (h->abi_major != PGDC_ABI_MAJOR) return "host services table has another ABI major";
  if (h->log == nullptr || h->monotonic_now_ns == nullptr || h->on_leadership == nullptr ||
      h->report_progress == nullptr || h->metric_define == nullptr || h->metric_record == nullptr) {
    return "host services table has a null required function";
  }
  return {};
}

namespace detail {

// A caller-owned error buffer, always NUL-terminated after the call.
class ErrorBuffer {
 public:
  pgdc_errbuf c() noexcept { return pgdc_errbuf{buf_, sizeof(buf_)}; }
  std::string message() noexcept {
    buf_[sizeof(buf_) - 1] = '\0';
    return one_line(buf_);
  }

 private:
  char buf_[2048] = {};
};

inline std::string failure(std::string_view what, std::int32_t status, std::string message) {
  if (message.empty()) message = "(the plugin gave no message)";
  return std::string(what) + " failed: " + status_text(status) + ": " + message;
}

inline std::string escaped(std::string_view what) {
  std::string text = "unknown exception";
  try {
    throw;
  } catch (const std::exception& e) {
    text = one_line(e.what());
  } catch (...) {
  }
  return std::string(what) + " failed: internal error: a C++ exception escaped the plugin (" +
         text + "); this is a plugin bug";
}

inline void set(std::string* error, std::string text) {
  if (error != nullptr) *error = std::move(text);
}

}  // namespace detail

// One plugin instance, owned: destroy() runs in the destructor, after stop()
// (the destructor stops a still-running instance first, without release).
class Instance {
 public:
  // Validates the descriptor and the host table, then calls create(). On
  // failure returns null and sets *error to one line without a "plugin ..."
  // prefix, e.g. "create failed: config error: <the plugin's message>"
  // ("create refused: ..." for a descriptor check_descriptor rejects).
  // `host` must stay valid until the Instance is destroyed.
  static std::unique_ptr<Instance> create(const pgdc_plugin_descriptor* d, const pgdc_host* host,
                                          std::string_view config_json, std::string* error) {
    std::string problem = check_descriptor(d, "plugin");
    if (!problem.empty()) {
      detail::set(error, "create refused: " + problem);
      return nullptr;
    }
    problem = check_host(host);
    if (!problem.empty()) {
      detail::set(error, "create failed: " + problem + " (a host bug)");
      return nullptr;
    }
    detail::ErrorBuffer err;
    pgdc_instance* raw = nullptr;
    std::int32_t status = PGDC_ERR_INTERNAL;
    try {
      status =
          d->vtable->create(host, pgdc_str{config_json.data(), config_json.size()}, &raw, err.c());
    } catch (...) {
      detail::set(error, detail::escaped("create"));
      return nullptr;
    }
    if (status != PGDC_OK) {
      // A plugin that failed owns nothing; destroy() is not called.
      detail::set(error, detail::failure("create", status, err.message()));
      return nullptr;
    }
    if (raw == nullptr) {
      detail::set(error, "create failed: internal error: create() returned OK without an instance");
      return nullptr;
    }
    return std::unique_ptr<Instance>(new Instance(d, host, raw));
  }

  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  ~Instance() {
    if (state_ == State::kRunning) {
      std::int64_t deadline = kImplicitStopTimeoutNs;
      try {
        deadline += host_->monotonic_now_ns(host_->ctx);
      } catch (...) {
      }
      stop(false, deadline, nullptr);
    }
    try {
      descriptor_->vtable->destroy(instance_);
    } catch (...) {
      // A plugin bug; nothing sensible to do in a destructor.
    }
  }

  // Calls start() once. On failure sets *error ("start failed: ...");
  // destroy() is still called by the destructor, and stop() is not.
  bool start(std::string* error) {
    if (state_ != State::kCreated) {
      detail::set(error,
                  "start failed: internal error: start() may be called once, after create()");
      return false;
    }
    detail::ErrorBuffer err;
    std::int32_t status = PGDC_ERR_INTERNAL;
    try {
      status = descriptor_->vtable->start(instance_, err.c());
    } catch (...) {
      state_ = State::kStartFailed;
      detail::set(error, detail::escaped("start"));
      return false;
    }
    if (status != PGDC_OK) {
      state_ = State::kStartFailed;
      detail::set(error, detail::failure("start", status, err.message()));
      return false;
    }
    state_ = State::kRunning;
    return true;
  }

  // Calls stop() once after a successful start(); a no-op (true) otherwise.
  // The plugin makes no host call after this returns, even when it fails.
  bool stop(bool release, std::int64_t deadline_ns, std::string* error) {
    if (state_ != State::kRunning) return true;
    state_ = State::kStopped;
    detail::ErrorBuffer err;
    std::int32_t status = PGDC_ERR_INTERNAL;
    try {
      status = descriptor_->vtable->stop(instance_, release ? 1 : 0, deadline_ns, err.c());
    } catch (...) {
      detail::set(error, detail::escaped("stop"));
      return false;
    }
    if (status != PGDC_OK) {
      detail::set(error, detail::failure("stop", status, err.message()));
      return false;
    }
    return true;
  }

  bool running() const noexcept { return state_ == State::kRunning; }

  // ABI 1.3: whether the plugin offers the state store (both functions,
  // within the size of its function table).
  bool has_state_store() const noexcept {
    const pgdc_vtable* vt = descriptor_->vtable;
    return vt->size >= offsetof(pgdc_vtable, state_write) + sizeof(vt->state_write) &&
           vt->state_read != nullptr && vt->state_write != nullptr;
  }

  // The outcome of a state call: status is PGDC_OK, PGDC_ERR_CONFLICT (write
  // only) or an error with a one-line message.
  struct StateResult {
    std::int32_t status = PGDC_ERR_INTERNAL;
    bool found = false;   // read: the object exists
    std::string value;    // read: its value
    std::string version;  // read: its version; write: the new version
    std::string error;

    static void sink(void* ctx, pgdc_str value, pgdc_str version) noexcept {
      auto* r = static_cast<StateResult*>(ctx);
      r->found = true;
      r->value.assign(value.data == nullptr ? "" : value.data,
                      value.data == nullptr ? 0 : value.len);
      r->version.assign(version.data == nullptr ? "" : version.data,
                        version.data == nullptr ? 0 : version.len);
    }
  };

  // Only while running and when has_state_store(); concurrent calls for
  // different keys are allowed (plugin.h), but none may overlap stop(): the
  // caller ends its state calls before it stops the instance.
  StateResult state_read(std::string_view key, std::int64_t deadline_ns) const {
    StateResult out;
    if (!ready_for_state(out)) return out;
    detail::ErrorBuffer err;
    try {
      out.status = descriptor_->vtable->state_read(instance_, pgdc_str{key.data(), key.size()},
                                                   &StateResult::sink, &out, deadline_ns, err.c());
    } catch (...) {
      out.status = PGDC_ERR_INTERNAL;
      out.error = detail::escaped("state_read");
      return out;
    }
    if (out.status != PGDC_OK) out.error = detail::failure("state_read", out.status, err.message());
    return out;
  }

  StateResult state_write(std::string_view key, std::string_view value,
                          std::string_view expected_version, std::int64_t deadline_ns) const {
    StateResult out;
    if (!ready_for_state(out)) return out;
    detail::ErrorBuffer err;
    try {
      out.status = descriptor_->vtable->state_write(
          instance_, pgdc_str{key.data(), key.size()}, pgdc_str{value.data(), value.size()},
          pgdc_str{expected_version.data(), expected_version.size()}, &StateResult::sink, &out,
          deadline_ns, err.c());
    } catch (...) {
      out.status = PGDC_ERR_INTERNAL;
      out.error = detail::escaped("state_write");
      return out;
    }
    out.found = false;
    out.value.clear();
    if (out.status != PGDC_OK) {
      out.error = detail::failure("state_write", out.status, err.message());
    } else if (out.version.empty()) {
      out.status = PGDC_ERR_INTERNAL;
      out.error = "state_write failed: internal error: OK without a new version";
    }
    return out;
  }
  // ABI 1.4 (plugin.h, "Members and handover"): each function on its own.
  bool has_member_publish() const noexcept {
    return offers(offsetof(pgdc_vtable, member_publish), descriptor_->vtable->member_publish);
  }
  bool has_members_list() const noexcept {
    return offers(offsetof(pgdc_vtable, members_list), descriptor_->vtable->members_list);
  }
  bool has_transfer() const noexcept {
    return offers(offsetof(pgdc_vtable, transfer), descriptor_->vtable->transfer);
  }

  // One member as the host keeps it (a copy of pgdc_member).
  struct Member {
    std::string identity;
    std::string address;
    std::string version;
    std::string backend;
    bool eligible = false;
    std::int64_t heartbeat_age_ms = -1;
    bool stale = false;
  };
  struct CallResult {
    std::int32_t status = PGDC_ERR_INTERNAL;
    std::string error;  // one line when status != PGDC_OK
  };
  struct MembersResult : CallResult {
    std::vector<Member> members;
  };

  // Only while running and when has_member_publish().
  CallResult member_publish(const Member& self) const {
    CallResult out;
    if (!ready_for("member_publish", has_member_publish(), out)) return out;
    pgdc_member c{};
    c.size = sizeof(c);
    c.eligible = self.eligible ? 1 : 0;
    c.identity = pgdc_str{self.identity.data(), self.identity.size()};
    c.address = pgdc_str{self.address.data(), self.address.size()};
    c.version = pgdc_str{self.version.data(), self.version.size()};
    c.backend = pgdc_str{self.backend.data(), self.backend.size()};
    c.heartbeat_age_ms = 0;
    detail::ErrorBuffer err;
    call("member_publish", out, err,
         [&] { return descriptor_->vtable->member_publish(instance_, &c, err.c()); });
    return out;
  }

  // Only while running and when has_members_list().
  MembersResult members_list(std::int64_t deadline_ns) const {
    MembersResult out;
    if (!ready_for("members_list", has_members_list(), out)) return out;
    detail::ErrorBuffer err;
    call("members_list", out, err, [&] {
      return descriptor_->vtable->members_list(instance_, &member_sink, &out.members, deadline_ns,
                                               err.c());
    });
    if (out.status != PGDC_OK) out.members.clear();
    return out;
  }

  // Only while running and when has_transfer(); never concurrently with
  // stop() or another transfer (the caller serialises them).
  CallResult transfer(std::string_view to, std::int64_t deadline_ns) const {
    CallResult out;
    if (!ready_for("transfer", has_transfer(), out)) return out;
    detail::ErrorBuffer err;
    call("transfer", out, err, [&] {
      return descriptor_->vtable->transfer(instance_, pgdc_str{to.data(), to.size()}, deadline_ns,
                                           err.c());
    });
    return out;
  }

  const pgdc_plugin_descriptor* descriptor() const noexcept { return descriptor_; }
  std::string_view name() const noexcept { return descriptor_->name; }
  std::string_view version() const noexcept { return descriptor_->version; }
  std::string_view description() const noexcept {
    return descriptor_->description == nullptr ? std::string_view{} : descriptor_->description;
  }

 private:
  enum class State { kCreated, kRunning, kStartFailed, kStopped };

  template <typename Fn>
  bool offers(std::size_t offset, Fn fn) const noexcept {
    return descriptor_->vtable->size >= offset + sizeof(fn) && fn != nullptr;
  }
  bool ready_for(const char* what, bool offered, CallResult& out) const {
    if (!offered) {
      out.error = std::string(what) + " failed: the plugin does not offer it";
      return false;
    }
    if (state_ != State::kRunning) {
      out.error = std::string(what) + " failed: the plugin is not running";
      return false;
    }
    return true;
  }
  template <typename F>
  void call(const char* what, CallResult& out, detail::ErrorBuffer& err, F&& f) const {
    try {
      out.status = f();
    } catch (...) {
      out.status = PGDC_ERR_INTERNAL;
      out.error = detail::escaped(what);
      return;
    }
    if (out.status != PGDC_OK) out.error = detail::failure(what, out.status, err.message());
  }
  static void member_sink(void* ctx, const pgdc_member* m) noexcept {
    if (m == nullptr || m->size < offsetof(pgdc_member, backend) + sizeof(pgdc_str)) return;
    const auto str = [](pgdc_str v) {
      return v.data == nullptr ? std::string() : std::string(v.data, v.len);
    };
    try {
      Member out;
      out.identity = str(m->identity);
      out.address = str(m->address);
      out.version = str(m->version);
      out.backend = str(m->backend);
      out.eligible = m->eligible != 0;
      if (m->size >= offsetof(pgdc_member, stale) + sizeof(m->stale)) {
        out.heartbeat_age_ms = m->heartbeat_age_ms;
        out.stale = m->stale != 0;
      }
      static_cast<std::vector<Member>*>(ctx)->push_back(std::move(out));
    } catch (...) {
      // Out of memory: the member is dropped; nothing may escape into the plugin.
    }
  }

  bool ready_for_state(StateResult& out) const {
    if (!has_state_store()) {
      out.error = "the plugin has no state store";
      return false;
    }
    if (state_ != State::kRunning) {
      out.error = "the plugin is not running";
      return false;
    }
    return true;
  }

  Instance(const pgdc_plugin_descriptor* d, const pgdc_host* host, pgdc_instance* instance)
      : descriptor_(d), host_(host), instance_(instance) {}

  const pgdc_plugin_descriptor* descriptor_;
  const pgdc_host* host_;
  pgdc_instance* instance_;
  State state_ = State::kCreated;
};

}  // namespace pgdc::sdk::host

#endif  // PGDOG_CONTROL_HOST_HPP
