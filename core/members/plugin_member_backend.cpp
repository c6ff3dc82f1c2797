#include "members/plugin_member_backend.h"

#include <utility>

#include "plugin/host_services.h"

namespace pgdc::members {
namespace {

CallResult result_of(const sdk::host::Instance::CallResult& r) {
  CallResult out;
  switch (r.status) {
    case PGDC_OK:
      out.status = CallResult::Status::kOk;
      break;
    case PGDC_ERR_CONFLICT:
      out.status = CallResult::Status::kConflict;
      break;
    case PGDC_ERR_UNAVAILABLE:
      out.status = CallResult::Status::kUnavailable;
      break;
    default:
      out.status = CallResult::Status::kFailed;
  }
  if (!out.ok()) out.error = r.error;
  return out;
}

}  // namespace

CallResult PluginMemberBackend::publish(const Member& self) {
  PluginInstance::Member m;
  m.identity = self.identity;
  m.address = self.address;
  m.version = self.version;
  m.backend = self.backend;
  m.eligible = self.eligible;
  return result_of(plugin_.member_publish(m));
}

ListResult PluginMemberBackend::list(LeaseTime deadline) {
  auto r = plugin_.members_list(HostServices::to_ns(deadline));
  ListResult out;
  static_cast<CallResult&>(out) = result_of(r);
  if (!out.ok()) return out;
  out.members.reserve(r.members.size());
  for (auto& m : r.members) {
    out.members.push_back(Member{std::move(m.identity), std::move(m.address), std::move(m.version),
                                 std::move(m.backend), m.eligible, m.heartbeat_age_ms, m.stale});
  }
  return out;
}

CallResult PluginMemberBackend::transfer(const std::string& to, LeaseTime deadline) {
  return result_of(plugin_.transfer(to, HostServices::to_ns(deadline)));
}

}  // namespace pgdc::members
