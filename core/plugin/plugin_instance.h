// One running coordination plugin instance, owned by the host (RAII over
// pgdc::sdk::host::Instance from sdk/include/pgdog_control/host.hpp).
//
// Order: create() -> start() -> stop() -> destructor (destroy). The
// destructor stops a still-running instance first (without release, 5 s on
// the host clock), then destroys it. Errors are one line, prefixed with
// `plugin "<path>" (<name> <version>): `.
//
// Thread-safety: one thread at a time (the host's control thread). The plugin
// calls the host services from its own threads until stop() returns.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <pgdog_control/plugin.h>

#include "plugin/plugin_loader.h"

#include <pgdog_control/host.hpp>

namespace pgdc {

class PluginInstance {
 public:
  // Calls the plugin's create() with config_json (the object described at
  // pgdc_vtable.create). `host` must outlive the returned instance. On
  // failure returns null and sets *error, e.g.
  //   plugin "/x/a.so" (name 1.0.0): create failed: config error: <message>
  static std::unique_ptr<PluginInstance> create(const LoadedPlugin& plugin, const pgdc_host* host,
                                                const std::string& config_json, std::string* error);
  ~PluginInstance();
  PluginInstance(const PluginInstance&) = delete;
  PluginInstance& operator=(const PluginInstance&) = delete;

  // Begins campaigning. On failure the instance is only destroyed.
  bool start(std::string* error);
  // Stops by deadline_ns (host monotonic clock); release: give leadership up
  // if held. No host callback arrives after it returns, even on failure.
  // A no-op returning true when not running.
  bool stop(bool release, std::int64_t deadline_ns, std::string* error);

  // ABI 1.3: the plugin's state store (state/plugin_state_backend.h). Only
  // while running; never concurrently with stop().
  bool has_state_store() const;
  sdk::host::Instance::StateResult state_read(std::string_view key, std::int64_t deadline_ns) const;
  sdk::host::Instance::StateResult state_write(std::string_view key, std::string_view value,
                                               std::string_view expected_version,
                                               std::int64_t deadline_ns) const;

  // ABI 1.4: members and handover (plugin.h, "Members and handover"). Each
  // only while running; transfer never concurrently with stop() or another
  // transfer (the caller serialises them).
  using Member = sdk::host::Instance::Member;
  bool has_member_publish() const;
  bool has_members_list() const;
  bool has_transfer() const;
  sdk::host::Instance::CallResult member_publish(const Member& self) const;
  sdk::host::Instance::MembersResult members_list(std::int64_t deadline_ns) const;
  sdk::host::Instance::CallResult transfer(std::string_view to, std::int64_t deadline_ns) const;

  const std::string& path() const { return path_; }
  std::string name() const;
  std::string version() const;
  std::string description() const;
  // `plugin "<path>" (<name> <version>)`, the prefix of every message.
  const std::string& label() const { return label_; }

 private:
  PluginInstance(LoadedPlugin plugin, std::unique_ptr<sdk::host::Instance> instance);

  std::string path_;
  const pgdc_plugin_descriptor* descriptor_;
  std::string label_;
  std::unique_ptr<sdk::host::Instance> instance_;
};

}  // namespace pgdc
