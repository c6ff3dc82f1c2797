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
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void StateKeeper::stop() {
  if (!thread_.joinable()) return;
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
  // Closed for good: this replica serves nothing it cannot make durable (and
  // the gate must not call into a keeper that is gone).
  leadership_.set_ready_gate([](const Epoch&) { return false; });
  leadership_.gate_changed();
  complete([](const Waiter&) { return true; },
           {Durability::Kind::kNotLeader, "this replica is shutting down"});
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
  const Json j = Json::parse(value, nullptr, false);
  if (!j.is_object()) return false;
  auto w = j.find("writer");
  if (w == j.end() || !w->is_object()) return false;
  return w->value("scope", std::string()) == epoch.scope &&
         w->value("epoch", std::uint64_t{0}) == epoch.term &&
         w->value("holder", std::string()) == identity_;
}

void StateKeeper::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    auto wait = options_.batch / 2;
    const auto term = leadership_.leading_term();
    bool loaded = false, fenced = false;
    {
      std::lock_guard lock(mutex_);
      loaded = term && loaded_ && *loaded_ == term->epoch;
      fenced = fenced_;
    }
    if (!term) {
      end_term("this replica is not the leader");
    } else if (!loaded) {
      end_term("a new term started");
      bool ok = false;
      const auto started = SteadyClock::now();
      leadership_.run_in_term(term->epoch, [&](std::stop_token) { ok = load_term(term->epoch); });
      if (ok) {
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
        leadership_.gate_changed();
        continue;
      }
      wait = options_.retry;
    } else if (!fenced) {
      bool all = false;
      {
        std::lock_guard lock(mutex_);
        all = flushing_;
      }
      leadership_.run_in_term(term->epoch, [&](std::stop_token) { flush_due(term->epoch, all); });
      expire_waiters();
      // Sleep until the oldest pending change is due (or an issue arrives).
      const auto now = SteadyClock::now();
      for (const auto& [k, since] : dirty_since_) {
        const auto due = since + options_.batch;
        wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                                  due > now ? due - now : SteadyClock::duration::zero()) +
                                  std::chrono::milliseconds(1));
      }
      std::lock_guard lock(mutex_);
      if (!urgent_.empty() || flushing_) wait = std::chrono::milliseconds(1);
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, stop, wait, [&] { return !urgent_.empty() || poked_; });
    poked_ = false;
  }
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
  complete([](const Waiter&) { return true; }, {Durability::Kind::kNotLeader, why});
  if (had) log::info(kLog, "stopped writing state: " + why);
}

bool StateKeeper::load_term(const Epoch& epoch) {
  for (const auto& d : deployments_) {
    if (!load_deployment(epoch, d)) return false;
  }
  return true;
}

bool StateKeeper::load_deployment(const Epoch& epoch, const std::string& deployment) {
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
      read[i] = backend_->read(keys[i], options_.store_timeout);
      if (read[i].status != StoreStatus::kOk) {
        return fail("reading \"" + keys[i] + "\": " + read[i].error);
      }
      if (read[i].found) {
        const Json j = Json::parse(read[i].value, nullptr, false);
        const Json* w = j.is_object() && j.contains("writer") ? &j["writer"] : nullptr;
        if (w && w->is_object() && w->value("scope", std::string()) == epoch.scope &&
            w->value("epoch", std::uint64_t{0}) > epoch.term) {
          // This term is stale (its lease ran out while another term began):
          // it must not claim; the election will tell it soon.
          return fail("\"" + keys[i] + "\" was written by a newer term (" +
                      std::to_string(w->value("epoch", std::uint64_t{0})) + ")");
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
      versions_[keys[i]] = w.version;
      store_.mark_durable(deployment, part, encoded);
      std::lock_guard lock(mutex_);
      ++status_.writes;
      status_.bytes[keys[i]] = encoded.value.size();
    }
    if (!conflict) return true;
  }
  return fail("every claim of its objects met a concurrent write (" +
              std::to_string(kClaimAttempts) + " attempts)");
}

void StateKeeper::flush_due(const Epoch& epoch, bool all) {
  const auto now = SteadyClock::now();
  std::set<std::string> urgent;
  {
    std::lock_guard lock(mutex_);
    urgent.swap(urgent_);
  }
  for (const auto& d : deployments_) {
    for (DurablePart part : kParts) {
      const std::string k = key(d, part);
      const auto [changed, durable] = store_.generations(d, part);
      if (changed <= durable) {
        dirty_since_.erase(k);
        continue;
      }
      auto since = dirty_since_.emplace(k, now).first->second;
      // An issue writes its deployment's commands at once, and the nodes
      // first when they changed (a command may target a node registered a
      // moment ago: the registry must be durable no later than the command).
      const bool due = all || urgent.count(d) || now - since >= options_.batch;
      if (!due) continue;
      if (write_part(epoch, d, part)) {
        dirty_since_.erase(k);
      } else {
        std::lock_guard lock(mutex_);
        if (fenced_) return;
        break;  // the commands wait for the nodes
      }
    }
  }
}

bool StateKeeper::write_part(const Epoch& epoch, const std::string& deployment, DurablePart part) {
  const std::string k = key(deployment, part);
  auto record_failure = [&](const std::string& why) {
    log::warn(kLog, "writing \"" + k + "\" failed: " + why);
    std::lock_guard lock(mutex_);
    ++status_.write_failures;
    status_.last_error = why;
  };
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto& version = versions_[k];
    if (!version) {  // the last outcome is unknown: read before writing
      const ReadResult r = backend_->read(k, options_.store_timeout);
      if (r.status != StoreStatus::kOk) {
        record_failure(r.error);
        return false;
      }
      if (r.found && !written_by(r.value, epoch)) {
        fence("\"" + k + "\" was written by another term");
        return false;
      }
      version = r.found ? r.version : std::string();
    }
    const fleet::EncodedPart encoded = store_.encode(deployment, part, writer_json(epoch));
    if (encoded.value.size() > kMaxValueBytes) {
      const std::string why = "the " + std::string(fleet::durable_part_name(part)) +
                              " object of deployment \"" + deployment + "\" would be " +
                              std::to_string(encoded.value.size()) + " bytes, above the " +
                              std::to_string(kMaxValueBytes) + " a state object may hold";
      record_failure(why);
      if (part == DurablePart::kCommands && store_.drop_undurable(deployment) > 0) {
        complete(
            [&](const Waiter& w) {
              return w.deployment == deployment && w.urgent && w.part == part;
            },
            {Durability::Kind::kFull, why});
        continue;  // without the new commands it may fit
      }
      complete([&](const Waiter& w) { return w.deployment == deployment && w.part == part; },
               {Durability::Kind::kFull, why});
      return false;
    }
    const WriteResult w = backend_->write(k, encoded.value, *version, options_.store_timeout);
    if (w.status == StoreStatus::kOk) {
      version = w.version;
      store_.mark_durable(deployment, part, encoded);
      {
        std::lock_guard lock(mutex_);
        ++status_.writes;
        status_.bytes[k] = encoded.value.size();
      }
      const std::uint64_t done = encoded.generation;
      complete(
          [&](const Waiter& x) {
            return x.deployment == deployment && x.part == part && x.generation <= done;
          },
          Durability{});
      return true;
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
    return false;
  }
  record_failure("the version kept moving (3 conflicts in a row)");
  return false;
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
  complete([](const Waiter&) { return true; },
           {Durability::Kind::kNotLeader, "this replica was deposed: " + why});
  leadership_.gate_changed();
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
