// The state store of a coordination plugin (plugin ABI 1.3, plugin.h "The
// state store") as a StateBackend: each call goes to the plugin's
// state_read / state_write with a deadline on the host clock.
#pragma once

#include <memory>
#include <string>

#include "plugin/plugin_instance.h"
#include "state/state_backend.h"

namespace pgdc::state {

class PluginStateBackend final : public StateBackend {
 public:
  // Null when the plugin offers no state store. The instance must outlive the
  // backend, and every call must end before the instance is stopped.
  static std::unique_ptr<PluginStateBackend> of(PluginInstance& plugin);

  std::string describe() const override;
  ReadResult read(const std::string& key, std::chrono::milliseconds timeout) override;
  WriteResult write(const std::string& key, std::string_view value,
                    const std::string& expected_version,
                    std::chrono::milliseconds timeout) override;

 private:
  explicit PluginStateBackend(PluginInstance& plugin) : plugin_(plugin) {}
  PluginInstance& plugin_;
};

}  // namespace pgdc::state
