// What the daemon needs from the coordination plugin about members: publish
// this replica, list every replica, hand the leadership to one. Implemented
// over the plugin (plugin_member_backend.h) and faked in unit tests.
//
// A backend call may block up to its deadline. The caller (MemberService)
// serialises every call, and never calls after the plugin was stopped.
#pragma once

#include <string>
#include <vector>

#include "leadership/leadership_state.h"
#include "members/member.h"

namespace pgdc::members {

struct CallResult {
  enum class Status {
    kOk,
    kConflict,     // not leading, or the backend refused the target (PGDC_ERR_CONFLICT)
    kUnavailable,  // the backend did not answer; a transfer's outcome is unknown
    kFailed,       // any other error (internal, not offered, not running)
  };
  Status status = Status::kFailed;
  std::string error;  // one line when not kOk
  bool ok() const { return status == Status::kOk; }
};

struct ListResult : CallResult {
  std::vector<Member> members;
};

class MemberBackend {
 public:
  virtual ~MemberBackend() = default;
  virtual bool offers_publish() const = 0;
  virtual bool offers_list() const = 0;
  virtual bool offers_transfer() const = 0;
  // Returns at once; the backend keeps publishing it as a heartbeat.
  virtual CallResult publish(const Member& self) = 0;
  virtual ListResult list(LeaseTime deadline) = 0;
  // Returns kOk once the handover write succeeded (plugin.h, transfer).
  virtual CallResult transfer(const std::string& to, LeaseTime deadline) = 0;
};

}  // namespace pgdc::members
