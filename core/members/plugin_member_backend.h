// MemberBackend over a running PluginInstance (ABI 1.4 member_publish,
// members_list, transfer). A plugin without one of them simply does not
// offer it. The plugin must outlive this object.
#pragma once

#include "members/member_backend.h"
#include "plugin/plugin_instance.h"

namespace pgdc::members {

class PluginMemberBackend : public MemberBackend {
 public:
  explicit PluginMemberBackend(const PluginInstance& plugin) : plugin_(plugin) {}

  bool offers_publish() const override { return plugin_.has_member_publish(); }
  bool offers_list() const override { return plugin_.has_members_list(); }
  bool offers_transfer() const override { return plugin_.has_transfer(); }
  CallResult publish(const Member& self) override;
  ListResult list(LeaseTime deadline) override;
  CallResult transfer(const std::string& to, LeaseTime deadline) override;

 private:
  const PluginInstance& plugin_;
};

}  // namespace pgdc::members
