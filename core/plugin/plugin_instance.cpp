#include "plugin/plugin_instance.h"

#include <utility>

#include <pgdog_control/host.hpp>

namespace pgdc {
namespace {

std::string make_label(const std::string& path, const pgdc_plugin_descriptor* descriptor) {
  const std::string described = sdk::host::describe(descriptor);
  std::string label = "plugin \"" + path + "\"";
  return described.empty() ? label : label + " (" + described + ")";
}

void prefix(std::string* error, const std::string& label) {
  if (error != nullptr) *error = label + ": " + *error;
}

}  // namespace

std::unique_ptr<PluginInstance> PluginInstance::create(const LoadedPlugin& plugin,
                                                       const pgdc_host* host_services,
                                                       const std::string& config_json,
                                                       std::string* error) {
  std::string message;
  std::unique_ptr<sdk::host::Instance> instance =
      sdk::host::Instance::create(plugin.descriptor, host_services, config_json, &message);
  if (!instance) {
    if (error != nullptr) *error = make_label(plugin.path, plugin.descriptor) + ": " + message;
    return nullptr;
  }
  return std::unique_ptr<PluginInstance>(new PluginInstance(plugin, std::move(instance)));
}

PluginInstance::PluginInstance(LoadedPlugin plugin, std::unique_ptr<sdk::host::Instance> instance)
    : path_(std::move(plugin.path)),
      descriptor_(plugin.descriptor),
      label_(make_label(path_, descriptor_)),
      instance_(std::move(instance)) {}

PluginInstance::~PluginInstance() = default;

bool PluginInstance::start(std::string* error) {
  if (instance_->start(error)) return true;
  prefix(error, label_);
  return false;
}

bool PluginInstance::stop(bool release, std::int64_t deadline_ns, std::string* error) {
  if (instance_->stop(release, deadline_ns, error)) return true;
  prefix(error, label_);
  return false;
}

bool PluginInstance::has_state_store() const { return instance_->has_state_store(); }

sdk::host::Instance::StateResult PluginInstance::state_read(std::string_view key,
                                                            std::int64_t deadline_ns) const {
  return instance_->state_read(key, deadline_ns);
}

sdk::host::Instance::StateResult PluginInstance::state_write(std::string_view key,
                                                             std::string_view value,
                                                             std::string_view expected_version,
                                                             std::int64_t deadline_ns) const {
  return instance_->state_write(key, value, expected_version, deadline_ns);
}

bool PluginInstance::has_member_publish() const { return instance_->has_member_publish(); }
bool PluginInstance::has_members_list() const { return instance_->has_members_list(); }
bool PluginInstance::has_transfer() const { return instance_->has_transfer(); }

sdk::host::Instance::CallResult PluginInstance::member_publish(const Member& self) const {
  return instance_->member_publish(self);
}

sdk::host::Instance::MembersResult PluginInstance::members_list(std::int64_t deadline_ns) const {
  return instance_->members_list(deadline_ns);
}

sdk::host::Instance::CallResult PluginInstance::transfer(std::string_view to,
                                                         std::int64_t deadline_ns) const {
  return instance_->transfer(to, deadline_ns);
}

std::string PluginInstance::name() const { return std::string(instance_->name()); }
std::string PluginInstance::version() const { return std::string(instance_->version()); }
std::string PluginInstance::description() const { return std::string(instance_->description()); }

}  // namespace pgdc
