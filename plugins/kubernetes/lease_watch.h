// Followers learn of Lease changes from a watch rather than by polling:
// a released Lease is taken about one round trip later, and an idle follower
// costs about one request per watch_timeout instead of one per retry period.
//
// LeaseWatch runs on its own thread and hands what it sees to the runner
// through an ElectionInbox; the elector itself stays single-threaded.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "client/api_transport.h"
#include "election/elector.h"
#include "election/lease.h"

namespace pgdc::kube {

// Watch events for the runner, plus "wake up now" and the watch's health.
class ElectionInbox {
 public:
  struct Event {
    bool deleted = false;
    std::optional<Lease> lease;  // set unless deleted
  };

  void push(Event event);
  void set_healthy(bool healthy);
  void wake();  // stop requests, releases: re-check at once

  // Waits until `until`, an event, a wake() or a stop request. Returns the
  // events received (possibly none) and the watch health.
  std::vector<Event> wait(LeaseTime until, const std::stop_token& stop, bool* healthy);

 private:
  std::mutex mutex_;
  std::condition_variable_any cv_;
  std::deque<Event> events_;
  bool healthy_ = false;
  bool woken_ = false;
};

class LeaseWatch {
 public:
  using Log = std::function<void(int level, const std::string& message)>;

  LeaseWatch(ApiTransport& transport, std::string collection_path, std::string object_path,
             std::string lease_name, ElectionInbox& inbox, std::chrono::milliseconds retry_period,
             std::chrono::seconds watch_timeout, Log log);

  // Until `stop`: read the Lease's resourceVersion, watch from it, re-list
  // on 410 Gone, back off by the retry period when the watch fails (the
  // elector polls meanwhile).
  void run(std::stop_token stop);

  // Requests made, for tests and metrics.
  std::uint64_t requests() const { return requests_; }

 private:
  bool list(std::string* resource_version, const std::stop_token& stop);
  // Parses one watch line; false ends the stream (410 in an ERROR event).
  bool handle_line(std::string_view line, std::string* resource_version, bool* gone);
  void pause(const std::stop_token& stop);

  ApiTransport& transport_;
  const std::string collection_path_;
  const std::string object_path_;
  const std::string lease_name_;
  ElectionInbox& inbox_;
  const std::chrono::milliseconds retry_period_;
  const std::chrono::seconds watch_timeout_;
  Log log_;
  std::uint64_t requests_ = 0;
  std::string last_error_;  // logged once until it changes
};

}  // namespace pgdc::kube
