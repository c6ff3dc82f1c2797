// Parked command polls (GET /api/v2/commands with nothing to deliver yet).
//
// A waiter is owned by exactly one party at a time: parked here, or taken out
// (by take/take_all, by the timer, or by the per-node cap) by whoever then
// answers it. So each poll is answered exactly once, and never while the hub's
// lock is held (Respond only posts to the I/O thread, but stay lock-free).
//  - take(): waiters of some nodes (new commands for them);
//  - the timer thread answers a waiter at its deadline with on_timeout();
//  - at most max_per_node waiters per node: parking one more answers the
//    oldest at once with on_timeout() (a node re-polling after its client
//    timed out must not pile up waiters);
//  - stop(): answers every waiter with on_stop() and refuses new ones.
// Memory: O(parked waiters) plus one timer entry per park.
// Thread-safety: every member is safe from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http/http_types.h"

namespace pgdc::api {

struct PollWaiter {
  std::string deployment;
  std::string node_id;
  std::uint64_t after_seq = 0;
  std::string epoch;  // the term the poll was parked in
  std::chrono::steady_clock::time_point deadline;
  Respond respond;
  bool parked = false;  // guarded by the hub's mutex
};

class LongPollHub {
 public:
  using Answer = std::function<HttpResponse(const PollWaiter&)>;

  LongPollHub(std::size_t max_per_node, Answer on_timeout, Answer on_stop);
  ~LongPollHub();  // stop()
  LongPollHub(const LongPollHub&) = delete;
  LongPollHub& operator=(const LongPollHub&) = delete;

  void start();  // the timer thread

  // Parks `w` until its deadline. False after stop() (the caller answers).
  bool park(std::shared_ptr<PollWaiter> w);

  // Removes and returns the parked waiters of these nodes; the caller answers.
  std::vector<std::shared_ptr<PollWaiter>> take(const std::string& deployment,
                                                const std::vector<std::string>& nodes);
  std::vector<std::shared_ptr<PollWaiter>> take_all();

  // Answers every parked waiter with on_stop, refuses new ones, joins the timer.
  void stop();

  std::size_t parked() const;

 private:
  static std::string key(const std::string& deployment, const std::string& node);
  void unlink_locked(const std::shared_ptr<PollWaiter>& w);
  void timer_loop();

  const std::size_t max_per_node_;
  const Answer on_timeout_;
  const Answer on_stop_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::size_t count_ = 0;
  std::unordered_map<std::string, std::vector<std::shared_ptr<PollWaiter>>> by_node_;
  std::multimap<std::chrono::steady_clock::time_point, std::weak_ptr<PollWaiter>> deadlines_;
  std::thread timer_;
};

}  // namespace pgdc::api
