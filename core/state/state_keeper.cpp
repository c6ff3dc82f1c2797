#include "state/state_keeper.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "fleet/sha256.h"
#include "log/logger.h"

namespace pgdc::state {
namespace {

using Json = nlohmann::json;
using fleet::DurablePart;
using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kLog = "state";
constexpr DurablePart kParts[] = {DurablePart::kNodes, DurablePart::kCommands};
constexpr int kClaimAttempts = 10;

std::string millis(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

// The term that wrote an object (its "writer" field); nullopt when absent or
// not of the expected types (a damaged object never throws here).
struct Writer {
  std::string scope;
  std::uint64_t epoch = 0;
  std::string holder;
};
std::optional<Writer> writer_of(const std::string& value) {
  const Json j = Json::parse(value, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto w = j.find("writer");
  if (w == j.end() || !w->is_object()) return std::nullopt;
  auto scope = w->find("scope"), epoch = w->find("epoch"), holder = w->find("holder");
  if (scope == w->end() || !scope->is_string() || epoch == w->end() ||
      !epoch->is_number_unsigned() || holder == w->end() || !holder->is_string()) {
    return std::nullopt;
  }
  return Writer{scope->get<std::string>(), epoch->get<std::uint64_t>(), holder->get<std::string>()};
}

}  // namespace

StateKeeper::StateKeeper(std::unique_ptr<StateBackend> backend, fleet::FleetStore& store,
                         LeadershipState& leadership, std::vector<std::string> deployments,
                         std::string identity, KeeperOptions options)
    : backend_(std::move(backend)),
      store_(store),
      leadership_(leadership),
      deployments_(std::move(deployments)),
      identity_(std::move(identity)),
      options_(options) {
  status_.durable = backend_ != nullptr;
  status_.backend = backend_ ? backend_->describe() : std::string("none (memory only)");
}

StateKeeper::~StateKeeper() { stop(); }

std::string StateKeeper::key(const std::string& deployment, DurablePart part) {
  return "fleet-" + fleet::sha256_hex(deployment).substr(0, 12) + "-" +
         std::string(fleet::durable_part_name(part));
}

void StateKeeper::start() {
  if (!backend_ || thread_.joinable()) return;
  leadership_.set_ready_gate([this](const Epoch& epoch) { return serving(epoch); });
  running_ = true;
  {
    std::lock_guard lock(waker_->mutex);
    waker_->keeper = this;
  }
  leadership_.add_listener([waker = waker_](const LeadershipSnapshot&) {
    std::lock_guard lock(waker->mutex);
    if (waker->keeper == nullptr) return;
    {
      std::lock_guard keeper_lock(waker->keeper->mutex_);
      waker->keeper->poked_ = true;
    }
    waker->keeper->wake_.notify_all();
  });
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void StateKeeper::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(waker_->mutex);
    waker_->keeper = nullptr;
  }
  // Closed for good, first: no request is accepted that the keeper may not
  // write (and the gate must not call into a keeper that is gone).
  leadership_.set_ready_gate([](const Epoch&) { return false; });
  leadership_.gate_changed();
  {
    std::lock_guard lock(mutex_);
    running_ = false;
  }
  thread_.request_stop();
  wake_.notify_all();
  thread_.join();
  {
    std::lock_guard lock(mutex_);
    loaded_.reset();
  }
  // The thread may have written them before it stopped: outcome unknown.
  complete([](const Waiter&) { return true; },
           {Durability::Kind::kUnavailable,
            "this replica is shutting down; the change was not confirmed written"});
}

bool StateKeeper::serving(const Epoch& epoch) const {
  if (!backend_) return true;
  std::lock_guard lock(mutex_);
  return loaded_ && *loaded_ == epoch && !fenced_;
}

KeeperStatus StateKeeper::status() const {
  std::lock_guard lock(mutex_);
  KeeperStatus s = status_;
  s.term = loaded_ ? loaded_->str() : std::string();
  s.fenced = fenced_;
  return s;
}

std::string StateKeeper::wedged_reason(std::chrono::milliseconds fence_timeout) const {
  std::lock_guard lock(mutex_);
  if (!fenced_ || SteadyClock::now() - fenced_since_ < fence_timeout) return {};
  return "deposed by another term's state write, yet still holding term " +
         (loaded_ ? loaded_->str() : std::string("?")) + ": " + status_.last_error;
}

void StateKeeper::after_durable(const std::string& deployment, DurablePart part,
                                std::uint64_t generation, bool urgent, Done done) {
  if (!backend_ || store_.generations(deployment, part).second >= generation) {
    done(Durability{});
    return;
  }
  {
    std::lock_guard lock(mutex_);
    if (running_) {
      // The first waiter of a batch starts its clock (the keeper notes when
      // it saw the change); later ones ride along.
      if (waiters_.empty()) poked_ = true;
      waiters_.push_back(Waiter{deployment, part, generation, urgent,
                                SteadyClock::now() + options_.answer_timeout, std::move(done)});
      if (urgent) urgent_.insert(deployment);
      if (urgent || poked_) wake_.notify_all();
      return;
    }
  }
  done(Durability{Durability::Kind::kNotLeader, "this replica is shutting down"});
}

bool StateKeeper::flush(std::chrono::milliseconds timeout) {
  if (!backend_ || !running_) return true;
  const auto deadline = SteadyClock::now() + timeout;
  {
    std::lock_guard lock(mutex_);
    flushing_ = true;
  }
  wake_.notify_all();
  bool clean = false;
  while (SteadyClock::now() < deadline) {
    clean = true;
    for (const auto& d : deployments_) {
      for (DurablePart p : kParts) {
        const auto [changed, durable] = store_.generations(d, p);
        clean = clean && changed <= durable;
      }
    }
    {
      std::lock_guard lock(mutex_);
      if (!loaded_ || fenced_) break;  // nothing this replica may write
    }
    if (clean) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::lock_guard lock(mutex_);
  flushing_ = false;
  return clean;
}

void StateKeeper::complete(const std::function<bool(const Waiter&)>& pick,
                           const Durability& outcome) {
  std::vector<Waiter> picked;
  {
    std::lock_guard lock(mutex_);
    auto it = std::stable_partition(waiters_.begin(), waiters_.end(),
                                    [&](const Waiter& w) { return !pick(w); });
    picked.assign(std::make_move_iterator(it), std::make_move_iterator(waiters_.end()));
    waiters_.erase(it, waiters_.end());
  }
  for (Waiter& w : picked) w.done(outcome);
}

std::string StateKeeper::writer_json(const Epoch& epoch) const {
  return Json{{"scope", epoch.scope}, {"epoch", epoch.term}, {"holder", identity_}}.dump(
      -1, ' ', false, Json::error_handler_t::replace);
}

bool StateKeeper::written_by(const std::string& value, const Epoch& epoch) const {
  const auto w = writer_of(value);
  return w && w->scope == epoch.scope && w->epoch == epoch.term && w->holder == identity_;
}

void StateKeeper::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    std::chrono::milliseconds wait = options_.batch / 2;
    try {
      wait = step();
    } catch (const std::exception& e) {
      // A bug or a damaged object that got past the checks: log, keep the
      // replica up (not serving what it cannot write), try again.
      log::error(kLog, std::string("state keeper: ") + e.what());
      std::lock_guard lock(mutex_);
      status_.last_error = e.what();
      wait = options_.retry;
    }
    if (gate_dirty_) {  // after run_in_term returned: gate_changed takes the transition lock
      gate_dirty_ = false;
      leadership_.gate_changed();
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, stop, wait, [&] { return !urgent_.empty() || poked_; });
    poked_ = false;
  }
}

std::chrono::milliseconds StateKeeper::step() {
  std::chrono::milliseconds wait = options_.batch / 2;
  const auto term = leadership_.leading_term();
  bool loaded = false, fenced = false;
  {
    std::lock_guard lock(mutex_);
    loaded = term && loaded_ && *loaded_ == term->epoch;
    fenced = fenced_;
  }
  if (!term) {
    end_term("this replica is not the leader");
    return wait;
  }
  if (!loaded) {
    end_term("a new term started");
    bool ok = false;
    const auto started = SteadyClock::now();
    leadership_.run_in_term(term->epoch,
                            [&](std::stop_token s) { ok = load_term(term->epoch, s); });
    if (!ok) return options_.retry;
    {
      std::lock_guard lock(mutex_);
      loaded_ = term->epoch;
      fenced_ = false;
      ++status_.loads;
    }
    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started);
    log::info(kLog, "state of term " + term->epoch.str() + " loaded and claimed in " +
                        millis(took) + " (" + backend_->describe() + ")");
    gate_dirty_ = true;
    return std::chrono::milliseconds(0);
  }
  if (fenced) return wait;
  bool all = false;
  {
    std::lock_guard lock(mutex_);
    all = flushing_;
  }
  leadership_.run_in_term(term->epoch, [&](std::stop_token s) { flush_due(term->epoch, all, s); });
  expire_waiters();
  // Sleep until the oldest pending change is due, or a failed write may be
  // tried again (or an issue arrives).
  const auto now = SteadyClock::now();
  for (const auto& [k, since] : dirty_since_) {
    auto due = since + options_.batch;
    if (auto retry = next_attempt_.find(k); retry != next_attempt_.end()) {
      due = std::max(due, retry->second);
    }
    wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                              due > now ? due - now : SteadyClock::duration::zero()) +
                              std::chrono::milliseconds(1));
  }
  std::lock_guard lock(mutex_);
  if ((!urgent_.empty() || flushing_) && next_attempt_.empty()) wait = std::chrono::milliseconds(1);
  return wait;
}

void StateKeeper::end_term(const std::string& why) {
  bool had = false;
  {
    std::lock_guard lock(mutex_);
    had = loaded_.has_value();
    loaded_.reset();
    fenced_ = false;
    urgent_.clear();
  }
  versions_.clear();
  dirty_since_.clear();
  next_attempt_.clear();
  // A write covering them may have reached the store (a timeout, or a write
  // in flight when the term ended): the outcome is unknown, never "not kept".
  complete([](const Waiter&) { return true; },
           {Durability::Kind::kUnavailable,
            "the term ended (" + why + ") before the change was confirmed written"});
  if (had) log::info(kLog, "stopped writing state: " + why);
}

bool StateKeeper::load_term(const Epoch& epoch, std::stop_token stop) {
  for (const auto& d : deployments_) {
    if (!load_deployment(epoch, d, stop)) return false;
  }
  return true;
}

bool StateKeeper::load_deployment(const Epoch& epoch, const std::string& deployment,
                                  std::stop_token stop) {
  auto fail = [&](const std::string& why) {
    log::error(kLog, "cannot load the state of deployment \"" + deployment + "\": " + why +
                         "; this replica does not serve until it can (retrying)");
    std::lock_guard lock(mutex_);
    status_.last_error = why;
    return false;
  };
  const std::string keys[] = {key(deployment, DurablePart::kNodes),
                              key(deployment, DurablePart::kCommands)};
  for (int attempt = 0; attempt < kClaimAttempts; ++attempt) {
    ReadResult read[2];
    for (int i = 0; i < 2; ++i) {
      if (stop.stop_requested()) return false;  // the term ended: nothing more to claim
      read[i] = backend_->read(keys[i], options_.store_timeout);
      if (read[i].status != StoreStatus::kOk) {
        return fail("reading \"" + keys[i] + "\": " + read[i].error);
      }
      if (read[i].found) {
        const auto w = writer_of(read[i].value);
        if (w && w->scope == epoch.scope && w->epoch > epoch.term) {
          // This term is stale (its lease ran out while another term began):
          // it must not claim; the election will tell it soon.
          return fail("\"" + keys[i] + "\" was written by a newer term (" +
                      std::to_string(w->epoch) + ")");
        }
      }
    }
    const std::string problem = store_.load(deployment, read[0].found ? read[0].value : "",
                                            read[1].found ? read[1].value : "");
    if (!problem.empty()) {
      return fail("it is malformed (" + problem +
                  "); repair or delete the objects, which loses what they hold");
    }
    bool conflict = false;
    for (int i = 0; i < 2 && !conflict; ++i) {
      if (stop.stop_requested()) return false;
      const auto part = kParts[i];
      const fleet::EncodedPart encoded = store_.encode(deployment, part, writer_json(epoch));
      const WriteResult w =
          backend_->write(keys[i], encoded.value, read[i].found ? read[i].version : std::string(),
                          options_.store_timeout);
      if (w.status == StoreStatus::kConflict) {
        conflict = true;  // the previous term wrote in between: read it all again
        std::lock_guard lock(mutex_);
        ++status_.conflicts;
        continue;
      }
      if (w.status != StoreStatus::kOk) return fail("claiming \"" + keys[i] + "\": " + w.error);
      written(deployment, part, encoded, w.version);
    }
    if (!conflict) return true;
  }
  return fail("every claim of its objects met a concurrent write (" +
              std::to_string(kClaimAttempts) + " attempts)");
}

void StateKeeper::flush_due(const Epoch& epoch, bool all, std::stop_token stop) {
  const auto now = SteadyClock::now();
  std::set<std::string> urgent;
  {
    std::lock_guard lock(mutex_);
    urgent.swap(urgent_);
  }
  for (const auto& d : deployments_) {
    for (DurablePart part : kParts) {
      if (stop.stop_requested()) return;
      const std::string k = key(d, part);
      const auto [changed, durable] = store_.generations(d, part);
      if (changed <= durable) {
        dirty_since_.erase(k);
        continue;
      }
      auto since = dirty_since_.emplace(k, now).first->second;
      if (auto retry = next_attempt_.find(k); retry != next_attempt_.end()) {
        if (now < retry->second) break;  // a failed write: back off (the commands wait too)
        next_attempt_.erase(retry);
      }
      // An issue writes its deployment's commands at once, and the nodes
      // first when they changed (a command may target a node registered a
      // moment ago: the registry must be durable no later than the command).
      const bool due = all || urgent.count(d) || now - since >= options_.batch;
      if (!due) continue;
      const WriteOutcome outcome = write_part(epoch, d, part, stop);
      if (outcome == WriteOutcome::kWritten) {
        dirty_since_.erase(k);
        continue;
      }
      {
        std::lock_guard lock(mutex_);
        if (fenced_) return;
      }
      next_attempt_[k] = SteadyClock::now() + options_.retry;
      if (outcome == WriteOutcome::kFailed) break;  // the commands wait for the nodes
      // kFull (the registry cannot grow): the commands are still written;
      // their new targets are all in the durable registry or in memory only
      // (not yet answered), and a reload drops what it cannot name.
    }
  }
}

StateKeeper::WriteOutcome StateKeeper::write_part(const Epoch& epoch, const std::string& deployment,
                                                  DurablePart part, std::stop_token stop) {
  const std::string k = key(deployment, part);
  auto record_failure = [&](const std::string& why) {
    log::warn(kLog, "writing \"" + k + "\" failed: " + why);
    std::lock_guard lock(mutex_);
    ++status_.write_failures;
    status_.last_error = why;
  };
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (stop.stop_requested()) return WriteOutcome::kFailed;
    auto& version = versions_[k];
    if (!version) {  // the last outcome is unknown: read before writing
      const ReadResult r = backend_->read(k, options_.store_timeout);
      if (r.status != StoreStatus::kOk) {
        record_failure(r.error);
        return WriteOutcome::kFailed;
      }
      if (r.found && !written_by(r.value, epoch)) {
        fence("\"" + k + "\" was written by another term");
        return WriteOutcome::kFailed;
      }
      version = r.found ? r.version : std::string();
    }
    fleet::EncodedPart encoded = store_.encode(deployment, part, writer_json(epoch));
    // Too large for one object: the commands give up their oldest history
    // (recorded as trimmed when still open), then, when only new commands
    // are left, those (answered 507). The registry cannot shrink here.
    std::size_t trimmed = 0;
    while (encoded.value.size() > kMaxValueBytes) {
      const std::string why = "the " + std::string(fleet::durable_part_name(part)) +
                              " object of deployment \"" + deployment + "\" would be " +
                              std::to_string(encoded.value.size()) + " bytes, above the " +
                              std::to_string(kMaxValueBytes) + " a state object may hold";
      if (part == DurablePart::kCommands) {
        if (const auto n = store_.trim_history(deployment, 8); n > 0) {
          trimmed += n;
        } else if (store_.drop_undurable(deployment) > 0) {
          record_failure(why);
          complete(
              [&](const Waiter& w) {
                return w.deployment == deployment && w.urgent && w.part == part;
              },
              {Durability::Kind::kFull, why});
        } else {
          record_failure(why);
          complete([&](const Waiter& w) { return w.deployment == deployment && w.part == part; },
                   {Durability::Kind::kFull, why});
          return WriteOutcome::kFull;
        }
        encoded = store_.encode(deployment, part, writer_json(epoch));
        continue;
      }
      record_failure(why);
      complete([&](const Waiter& w) { return w.deployment == deployment && w.part == part; },
               {Durability::Kind::kFull, why});
      return WriteOutcome::kFull;
    }
    if (trimmed > 0) {
      log::warn(kLog, "dropped the oldest " + std::to_string(trimmed) +
                          " command(s) of deployment \"" + deployment +
                          "\" from the history so that its commands object fits " +
                          std::to_string(kMaxValueBytes) + " bytes");
    }
    const WriteResult w = backend_->write(k, encoded.value, *version, options_.store_timeout);
    if (w.status == StoreStatus::kOk) {
      written(deployment, part, encoded, w.version);
      const std::uint64_t done = encoded.generation;
      complete(
          [&](const Waiter& x) {
            return x.deployment == deployment && x.part == part && x.generation <= done;
          },
          Durability{});
      return WriteOutcome::kWritten;
    }
    if (w.status == StoreStatus::kConflict) {
      {
        std::lock_guard lock(mutex_);
        ++status_.conflicts;
      }
      version.reset();  // read it: an admin's edit, or another term
      continue;
    }
    version.reset();
    record_failure(w.error);
    return WriteOutcome::kFailed;
  }
  record_failure("the version kept moving (3 conflicts in a row)");
  return WriteOutcome::kFailed;
}

void StateKeeper::written(const std::string& deployment, DurablePart part,
                          const fleet::EncodedPart& encoded, const std::string& version) {
  const std::string k = key(deployment, part);
  versions_[k] = version;
  store_.mark_durable(deployment, part, encoded);
  std::lock_guard lock(mutex_);
  ++status_.writes;
  status_.bytes[k] = encoded.value.size();
}

void StateKeeper::fence(const std::string& why) {
  {
    std::lock_guard lock(mutex_);
    if (fenced_) return;
    fenced_ = true;
    fenced_since_ = SteadyClock::now();
    status_.last_error = why;
  }
  log::error(kLog, "deposed: " + why +
                       "; this replica stops serving and writes nothing more in this term");
  // An earlier write of this term with an unknown outcome may hold them.
  complete([](const Waiter&) { return true; },
           {Durability::Kind::kUnavailable,
            "this replica was deposed (" + why + ") before the change was confirmed written"});
  gate_dirty_ = true;  // run() tells the leadership state, outside run_in_term
}

void StateKeeper::expire_waiters() {
  const auto now = SteadyClock::now();
  std::set<std::string> dropped;
  {
    std::lock_guard lock(mutex_);
    for (const Waiter& w : waiters_) {
      if (w.deadline <= now && w.urgent) dropped.insert(w.deployment);
    }
  }
  // A command not confirmed in time is answered "unavailable" and dropped
  // before any node is given it; so is every later one (seqs stay dense).
  for (const auto& d : dropped) store_.drop_undurable(d);
  std::string last;
  {
    std::lock_guard lock(mutex_);
    last = status_.last_error;
  }
  const std::string why = "the state store did not confirm the write within " +
                          millis(options_.answer_timeout) +
                          (last.empty() ? std::string() : " (last error: " + last + ")");
  complete(
      [&](const Waiter& w) {
        return w.deadline <= now || (w.urgent && dropped.count(w.deployment));
      },
      {Durability::Kind::kUnavailable, why});
}

}  // namespace pgdc::state
