#include "state/plugin_state_backend.h"

#include "leadership/leadership_state.h"

namespace pgdc::state {
namespace {

std::int64_t deadline_ns(std::chrono::milliseconds timeout) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             (LeaseClock::now() + timeout).time_since_epoch())
      .count();
}

}  // namespace

std::unique_ptr<PluginStateBackend> PluginStateBackend::of(PluginInstance& plugin) {
  if (!plugin.has_state_store()) return nullptr;
  return std::unique_ptr<PluginStateBackend>(new PluginStateBackend(plugin));
}

std::string PluginStateBackend::describe() const {
  return "the state store of plugin " + plugin_.name() + " " + plugin_.version();
}

ReadResult PluginStateBackend::read(const std::string& key, std::chrono::milliseconds timeout) {
  const auto r = plugin_.state_read(key, deadline_ns(timeout));
  ReadResult out;
  out.status = r.status == PGDC_OK ? StoreStatus::kOk : StoreStatus::kUnavailable;
  out.found = r.status == PGDC_OK && r.found;
  out.value = r.value;
  out.version = r.version;
  out.error = r.error;
  return out;
}

WriteResult PluginStateBackend::write(const std::string& key, std::string_view value,
                                      const std::string& expected_version,
                                      std::chrono::milliseconds timeout) {
  const auto r = plugin_.state_write(key, value, expected_version, deadline_ns(timeout));
  WriteResult out;
  out.status = r.status == PGDC_OK             ? StoreStatus::kOk
               : r.status == PGDC_ERR_CONFLICT ? StoreStatus::kConflict
                                               : StoreStatus::kUnavailable;
  out.version = r.version;
  out.error = r.error;
  return out;
}

}  // namespace pgdc::state
