#include "api/long_poll.h"

#include <algorithm>

namespace pgdc::api {

LongPollHub::LongPollHub(std::size_t max_per_node, Answer on_timeout, Answer on_stop)
    : max_per_node_(std::max<std::size_t>(1, max_per_node)),
      on_timeout_(std::move(on_timeout)),
      on_stop_(std::move(on_stop)) {}

LongPollHub::~LongPollHub() { stop(); }

std::string LongPollHub::key(const std::string& deployment, const std::string& node) {
  std::string k;
  k.reserve(deployment.size() + node.size() + 1);
  k += deployment;
  k += '\n';
  k += node;
  return k;
}

void LongPollHub::start() {
  std::lock_guard lock(mutex_);
  if (timer_.joinable() || stopped_) return;
  timer_ = std::thread([this] { timer_loop(); });
}

void LongPollHub::unlink_locked(const std::shared_ptr<PollWaiter>& w) {
  w->parked = false;
  --count_;
  auto it = by_node_.find(key(w->deployment, w->node_id));
  if (it == by_node_.end()) return;
  auto& list = it->second;
  list.erase(std::remove(list.begin(), list.end(), w), list.end());
  if (list.empty()) by_node_.erase(it);
}

bool LongPollHub::park(std::shared_ptr<PollWaiter> w) {
  std::shared_ptr<PollWaiter> evicted;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return false;
    auto& list = by_node_[key(w->deployment, w->node_id)];
    if (list.size() >= max_per_node_) {
      evicted = list.front();
      evicted->parked = false;
      list.erase(list.begin());
      --count_;
    }
    w->parked = true;
    list.push_back(w);
    ++count_;
    const bool earliest = deadlines_.empty() || w->deadline < deadlines_.begin()->first;
    deadlines_.emplace(w->deadline, w);
    if (earliest) cv_.notify_one();
  }
  if (evicted) evicted->respond(on_timeout_(*evicted));
  return true;
}

std::vector<std::shared_ptr<PollWaiter>> LongPollHub::take(const std::string& deployment,
                                                           const std::vector<std::string>& nodes) {
  std::vector<std::shared_ptr<PollWaiter>> out;
  std::lock_guard lock(mutex_);
  if (by_node_.empty()) return out;
  for (const auto& node : nodes) {
    auto it = by_node_.find(key(deployment, node));
    if (it == by_node_.end()) continue;
    for (auto& w : it->second) {
      w->parked = false;
      --count_;
      out.push_back(std::move(w));
    }
    by_node_.erase(it);
  }
  return out;
}

std::vector<std::shared_ptr<PollWaiter>> LongPollHub::take_all() {
  std::vector<std::shared_ptr<PollWaiter>> out;
  std::lock_guard lock(mutex_);
  for (auto& [k, list] : by_node_) {
    for (auto& w : list) {
      w->parked = false;
      out.push_back(std::move(w));
    }
  }
  by_node_.clear();
  deadlines_.clear();
  count_ = 0;
  return out;
}

void LongPollHub::stop() {
  std::vector<std::shared_ptr<PollWaiter>> left;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    cv_.notify_all();
  }
  if (timer_.joinable()) timer_.join();
  left = take_all();
  for (auto& w : left) w->respond(on_stop_(*w));
}

std::size_t LongPollHub::parked() const {
  std::lock_guard lock(mutex_);
  return count_;
}

void LongPollHub::timer_loop() {
  std::unique_lock lock(mutex_);
  while (!stopped_) {
    if (deadlines_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const auto next = deadlines_.begin()->first;
    if (std::chrono::steady_clock::now() < next) {
      cv_.wait_until(lock, next);
      continue;
    }
    std::vector<std::shared_ptr<PollWaiter>> due;
    const auto now = std::chrono::steady_clock::now();
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      if (auto w = deadlines_.begin()->second.lock(); w && w->parked) {
        unlink_locked(w);
        due.push_back(std::move(w));
      }
      deadlines_.erase(deadlines_.begin());
    }
    lock.unlock();
    for (auto& w : due) w->respond(on_timeout_(*w));
    lock.lock();
  }
}

}  // namespace pgdc::api
