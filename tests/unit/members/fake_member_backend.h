// A MemberBackend for tests: answers from fields, counts calls, and can hold
// a call until released (to prove which calls overlap).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "members/member_backend.h"

namespace pgdc::members::test {

class FakeMemberBackend : public MemberBackend {
 public:
  bool publish_offered = true, list_offered = true, transfer_offered = true;
  std::vector<Member> listed;
  CallResult list_result{CallResult::Status::kOk, ""};
  CallResult transfer_result{CallResult::Status::kOk, ""};
  std::function<void()> on_transfer;  // runs inside transfer (as a plugin's FOLLOWER report)

  std::atomic<int> publishes{0}, lists{0}, transfers{0};
  std::atomic<int> in_call{0}, max_in_call{0};  // overlapping backend calls
  std::vector<Member> published;                // under mutex
  std::vector<std::string> transferred_to;      // under mutex

  // While held, list() and transfer() wait for release() (entered counts them).
  void hold() {
    std::lock_guard l(mutex);
    held = true;
  }
  void release() {
    std::lock_guard l(mutex);
    held = false;
    cv.notify_all();
  }
  std::atomic<int> entered{0};

  bool offers_publish() const override { return publish_offered; }
  bool offers_list() const override { return list_offered; }
  bool offers_transfer() const override { return transfer_offered; }

  CallResult publish(const Member& self) override {
    Enter e(*this);
    ++publishes;
    std::lock_guard l(mutex);
    published.push_back(self);
    return {CallResult::Status::kOk, ""};
  }
  ListResult list(LeaseTime) override {
    Enter e(*this);
    ++lists;
    wait_if_held();
    ListResult r;
    static_cast<CallResult&>(r) = list_result;
    if (r.ok()) r.members = listed;
    return r;
  }
  CallResult transfer(const std::string& to, LeaseTime) override {
    Enter e(*this);
    ++transfers;
    wait_if_held();
    if (on_transfer) on_transfer();
    std::lock_guard l(mutex);
    transferred_to.push_back(to);
    return transfer_result;
  }

  std::mutex mutex;

 private:
  struct Enter {
    explicit Enter(FakeMemberBackend& b) : b_(b) {
      const int now = ++b_.in_call;
      int seen = b_.max_in_call;
      while (now > seen && !b_.max_in_call.compare_exchange_weak(seen, now)) {
      }
      ++b_.entered;
    }
    ~Enter() { --b_.in_call; }
    FakeMemberBackend& b_;
  };
  void wait_if_held() {
    std::unique_lock l(mutex);
    cv.wait(l, [&] { return !held; });
  }
  std::condition_variable cv;
  bool held = false;
};

}  // namespace pgdc::members::test
