// This replica's member Lease (member_object.h) kept fresh, and the list of
// every member, for the host's Members mixin (plugin.h, "Members and handover").
//
// Publishing is asynchronous, on the registry's own thread and over the
// transport it is given (never the lease transport), so a slow or failing
// API server never delays a renewal:
//   publish()   stores what to publish and wakes the thread; a change (an
//               eligibility change above all) is written at once;
//   heartbeat   every heartbeat period (and after every publish): PUT with the
//               last resourceVersion; the first is a POST; a 409 re-reads the
//               object and retries once with its version (a previous process
//               of the same identity); a 404 creates it again;
//   stop()      joins the thread, then DELETEs the member Lease with a
//               resourceVersion precondition (so a newer process of the same
//               identity keeps its own).
// list() LISTs the member Leases by label, at most once per cache period
// (concurrent callers share one request), skips malformed objects (debug log)
// and computes each heartbeat's age from renewTime and the wall clock.
// Member Leases whose heartbeat is older than kGarbageTtls TTLs (a replica
// that vanished without a clean stop, outside a Pod with an ownerReference)
// are deleted by the heartbeat thread, each with a resourceVersion
// precondition, so one that came back is never deleted.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <pgdog_control/plugin.hpp>

#include "client/api_transport.h"
#include "member_object.h"

namespace pgdc::kube {

struct MemberTimings {
  std::chrono::milliseconds heartbeat{5000};
  std::int32_t ttl_secs = 15;
  std::chrono::milliseconds cache_for{1000};

  // The heartbeat period (options.member_heartbeat_secs, 30 s by default:
  // members are informational, so a replica's write rate stays low however
  // short the election's interval); the TTL: three heartbeats, whole seconds.
  static MemberTimings for_heartbeat(std::chrono::milliseconds heartbeat);
};

class MemberRegistry {
 public:
  using Log = std::function<void(int level, const std::string& message)>;
  using WallClock = std::function<WallTime()>;
  static constexpr int kGarbageTtls = 10;

  // now_ns: the host's monotonic clock, the clock of every deadline_ns.
  MemberRegistry(ApiTransport& transport, std::string ns, std::string lease_name, PodRef pod,
                 MemberTimings timings, WallClock wall, std::function<std::int64_t()> now_ns,
                 Log log);
  ~MemberRegistry();  // joins the thread; withdraws nothing
  MemberRegistry(const MemberRegistry&) = delete;
  MemberRegistry& operator=(const MemberRegistry&) = delete;

  void start();
  void publish(const pgdc::sdk::Member& self);
  // Joins the thread, then withdraws the member Lease within `timeout`.
  // Returns true when nothing of ours is left (deleted, or never written).
  bool stop(std::chrono::milliseconds timeout);

  // Every member, sorted by identity. Throws pgdc::sdk::UnavailableError
  // when the server did not answer by deadline_ns.
  std::vector<pgdc::sdk::Member> list(std::int64_t deadline_ns);

  // One heartbeat write now (the thread's work; public for tests). True
  // when it was written.
  bool heartbeat(std::chrono::milliseconds timeout);
  // Deletes the member Leases list() found long dead (the thread's work).
  void collect_garbage(std::chrono::milliseconds timeout);

  std::string object_name() const;
  std::string collection_path() const;

 private:
  void run(std::stop_token stop);
  std::string object_path(const std::string& name) const;
  ApiResponse fetch_version(const std::string& name, std::chrono::milliseconds timeout,
                            std::string* version);
  bool remove(const std::string& name, const std::string& version,
              std::chrono::milliseconds timeout, bool* gone);
  void report_failure(const std::string& verb, const std::string& name, const ApiResponse& r);

  ApiTransport& transport_;
  const std::string ns_;
  const std::string lease_name_;
  const std::string label_value_;
  const PodRef pod_;
  const MemberTimings timings_;
  WallClock wall_;
  std::function<std::int64_t()> now_ns_;
  Log log_;

  mutable std::mutex mutex_;  // guards the fields below
  std::condition_variable_any wake_;
  std::optional<pgdc::sdk::Member> desired_;
  bool dirty_ = false;            // desired_ changed since the last write
  std::string resource_version_;  // of our last write; "" when none
  std::string written_name_;      // the object name of that write
  bool failing_ = false;          // the last write failed (logged once until it works)
  std::vector<std::pair<std::string, std::string>> garbage_;  // name, resourceVersion
  std::uint64_t generation_ = 0;  // bumped by each write: invalidates the cache

  // One LIST at a time; the holder of listing_ owns the cache. (A flag and a
  // condition variable, not std::timed_mutex: GCC 12's ThreadSanitizer does
  // not see timed locks and reports every unlock.)
  std::mutex list_mutex_;
  std::condition_variable list_cv_;
  bool listing_ = false;
  struct Cache {
    std::vector<MemberRecord> records;
    std::int64_t fetched_ns = 0;
    std::uint64_t generation = 0;
  };
  std::optional<Cache> cache_;

  std::jthread thread_;
};

}  // namespace pgdc::kube
