// The state keeper: makes the fleet store's registry and command log durable
// in a StateBackend, term by term, so that nothing a caller was told is
// accepted is lost at a handover, a failover or a restart.
//
// Protocol (docs/architecture.md, "Durable state"):
//  1. Load and claim. When this replica starts a term, the keeper reads both
//     objects of every deployment (nodes, commands), loads them into the
//     store, and writes each back with this term as its writer: a
//     compare-and-swap against the version it read. From then on a deposed
//     leader's write, made against an older version, is refused by the store.
//     A conflict during the claim (the previous leader wrote in between)
//     reads everything again. Until every deployment is claimed the replica
//     is not ready (the leadership ready gate): no request is served.
//  2. Write back. Changes are written as compare-and-swap on the version this
//     term last wrote. A command's issue asks for an immediate write; acks,
//     registrations, deliveries and evictions are batched (batch interval).
//     A request that changed state is answered only once a write covering
//     its change succeeded (after_durable).
//  3. Conflicts. A write refused with a conflict reads the object: if this
//     term is still its writer (an admin edited it, only the version moved),
//     the keeper writes again over it; if another term wrote it, this replica
//     was deposed: it stops serving at once (fenced) and never writes again
//     in this term.
//  4. Unknown outcome (a timeout): the next write reads the object first. A
//     request whose change was not confirmed within answer_timeout, or when
//     the term ended or was fenced first, is answered "state unavailable"
//     (never "not kept": a write covering it may have landed); a command
//     never confirmed is dropped from memory before any node was given it
//     (it may still have reached the store, see docs/api.md). A failed write
//     is tried again after `retry`.
//  5. Size: an object may hold kMaxValueBytes. The commands object gives up
//     its oldest history (recorded as trimmed when still open) to fit.
// Without a backend the keeper does nothing: every change counts as durable
// at once and the store stays in memory only (the daemon says so loudly).
//
// Thread-safety: every member from any thread. One keeper thread performs
// all store calls, so calls for one key never overlap. Callbacks (Done) run
// on the keeper thread (or the caller's, when already durable), never under
// a lock of this class.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fleet/fleet_store.h"
#include "leadership/leadership_state.h"
#include "state/state_backend.h"

namespace pgdc::state {

struct KeeperOptions {
  std::chrono::milliseconds batch{250};           // state.batch_ms
  std::chrono::milliseconds store_timeout{2000};  // each store call
  std::chrono::milliseconds answer_timeout{5000};
  std::chrono::milliseconds retry{500};  // after a failed load or write
};

// How a change ended up.
struct Durability {
  enum class Kind {
    kDurable,      // written; answer the request
    kNotLeader,    // the term ended (or was fenced) before it was written
    kUnavailable,  // not confirmed within answer_timeout
    kFull,         // the object would exceed kMaxValueBytes
  };
  Kind kind = Kind::kDurable;
  std::string message;  // one line when not kDurable
};

struct KeeperStatus {
  bool durable = false;  // a backend keeps state
  std::string backend;   // its description, or why there is none
  std::string term;      // the epoch whose state is loaded ("" : none)
  bool fenced = false;   // that term was deposed (another term wrote)
  std::string last_error;
  std::uint64_t loads = 0, writes = 0, write_failures = 0, conflicts = 0;
  std::map<std::string, std::size_t> bytes;  // "<key>" -> size of its last write
};

class StateKeeper {
 public:
  using Done = std::function<void(const Durability&)>;

  // backend: null for memory only. store (with FleetOptions::durable set when
  // backend is not null) and leadership must outlive the keeper. identity:
  // this replica, recorded as the writer of every object.
  StateKeeper(std::unique_ptr<StateBackend> backend, fleet::FleetStore& store,
              LeadershipState& leadership, std::vector<std::string> deployments,
              std::string identity, KeeperOptions options = {});
  ~StateKeeper();  // stop()
  StateKeeper(const StateKeeper&) = delete;
  StateKeeper& operator=(const StateKeeper&) = delete;

  bool durable() const { return backend_ != nullptr; }

  // Installs the ready gate and starts the keeper thread (durable only).
  void start();
  // Writes what is pending (bounded by timeout) while the term lasts; for the
  // shutdown path, before the term ends. True when nothing is left pending.
  bool flush(std::chrono::milliseconds timeout);
  // Ends the thread; pending requests are answered kNotLeader.
  void stop();

  // The ready gate: the state of `epoch` is loaded and not fenced.
  bool serving(const Epoch& epoch) const;

  // done runs once the change with this generation of the part
  // (IssueOutcome/AckOutcome::generation, or FleetStore::generations) is
  // durable, or when it cannot become so. urgent: write now (an issue)
  // instead of at the next batch.
  void after_durable(const std::string& deployment, fleet::DurablePart part,
                     std::uint64_t generation, bool urgent, Done done);

  KeeperStatus status() const;

  // Non-empty when /healthz should fail: this replica was fenced (another
  // term wrote its state) yet still holds its term after fence_timeout. It
  // keeps the lease without serving, so nobody serves: a restart lets the
  // election sort it out.
  std::string wedged_reason(std::chrono::milliseconds fence_timeout) const;

  // The object keys of a deployment: "fleet-<12 hex of sha256(name)>-<part>".
  static std::string key(const std::string& deployment, fleet::DurablePart part);

 private:
  struct Waiter {
    std::string deployment;
    fleet::DurablePart part;
    std::uint64_t generation;
    bool urgent;
    std::chrono::steady_clock::time_point deadline;
    Done done;
  };

  enum class WriteOutcome { kWritten, kFailed, kFull };

  void run(std::stop_token stop);
  // One turn of the keeper thread; returns how long to sleep.
  std::chrono::milliseconds step();
  // The stop token is the term's: each ends early when the term ends.
  bool load_term(const Epoch& epoch, std::stop_token stop);
  bool load_deployment(const Epoch& epoch, const std::string& deployment, std::stop_token stop);
  void flush_due(const Epoch& epoch, bool all, std::stop_token stop);
  WriteOutcome write_part(const Epoch& epoch, const std::string& deployment,
                          fleet::DurablePart part, std::stop_token stop);
  // A write of `encoded` succeeded with `version`: this term's version of the
  // object, the store's durable mark, the status counters.
  void written(const std::string& deployment, fleet::DurablePart part,
               const fleet::EncodedPart& encoded, const std::string& version);
  void fence(const std::string& why);
  void end_term(const std::string& why);
  // Completes the waiters `pick` selects, with `outcome` (outside the lock).
  void complete(const std::function<bool(const Waiter&)>& pick, const Durability& outcome);
  void expire_waiters();
  std::string writer_json(const Epoch& epoch) const;
  bool written_by(const std::string& value, const Epoch& epoch) const;

  std::unique_ptr<StateBackend> backend_;
  fleet::FleetStore& store_;
  LeadershipState& leadership_;
  const std::vector<std::string> deployments_;
  const std::string identity_;
  const KeeperOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable_any wake_;
  std::optional<Epoch> loaded_;  // the term whose state is loaded
  bool fenced_ = false;
  std::chrono::steady_clock::time_point fenced_since_{};
  std::set<std::string> urgent_;  // deployments with an issue waiting
  std::vector<Waiter> waiters_;
  KeeperStatus status_;
  bool flushing_ = false;  // flush() asked for every pending change now
  bool poked_ = false;     // a first waiter arrived: note its change now
  std::atomic<bool> running_{false};
  // Keeper thread only:
  std::map<std::string, std::optional<std::string>> versions_;  // nullopt: unknown, read first
  std::map<std::string, std::chrono::steady_clock::time_point> dirty_since_;
  // After a failed write of a key: not before then (a fast-failing store
  // would otherwise be hammered).
  std::map<std::string, std::chrono::steady_clock::time_point> next_attempt_;
  bool gate_dirty_ = false;  // the ready gate's answer changed: tell the leadership state
  // The leadership listener's way in (listeners live as long as the
  // leadership state; stop() clears the pointer): a new term wakes the
  // keeper at once instead of at its next timer, so a new leader claims its
  // state, and serves, without waiting up to half a batch.
  struct Waker {
    std::mutex mutex;
    StateKeeper* keeper = nullptr;
  };
  std::shared_ptr<Waker> waker_ = std::make_shared<Waker>();
  std::jthread thread_;
};

}  // namespace pgdc::state
