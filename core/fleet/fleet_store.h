// The fleet as the leader sees it: per deployment, its registered nodes with
// their telemetry, and its command log with per-node delivery state.
//
// Bounds (memory stays bounded whatever the fleet sends):
//  - at most max_nodes_per_deployment nodes (register beyond: kTooManyNodes),
//    and, durable, no more than the registry's state object holds
//    (max_registry_bytes; beyond: kRegistryFull);
//  - per node a ring of metric points (one per second of retention, plus a
//    little slack) and the latest upload of each UploadKind (the API caps its
//    size before it gets here);
//  - at most command_history commands per deployment (oldest dropped; one
//    dropped while some target had not acknowledged it is counted and the
//    last 50 such are kept as TrimmedCommand records, so it is never silent);
//  - a memory budget, per deployment and for all of them (FleetOptions
//    max_bytes_per_deployment, max_bytes): what a node, an upload or a command
//    holds is charged when stored and released when dropped. A store that
//    would exceed a budget is refused (kOverDeploymentBudget /
//    kOverGlobalBudget) and changes nothing. Charges are estimates of the heap
//    use (string sizes plus a fixed cost per node, command and delivery; a
//    node is charged its full metric ring when it registers), so the budget
//    holds whatever a deployment token sends. Acknowledgement messages
//    (bounded by the API's string limit) and version/host updates are charged
//    but never refused: losing an ack is worse than exceeding by a little.
// Liveness: a node is live while its last metrics (or registration) is younger
// than stale_after, stale after that, and evicted by sweep() once older than
// evict_after. Deliveries still open for an evicted node become "failed".
//
// Commands: each has a per-deployment sequence number (1, 2, ...) and the
// epoch of the term that issued it. poll() hands a node its unacknowledged
// commands with seq > after_seq. In memory only (no state store), only those
// of the caller's current epoch: a command issued in an earlier term is never
// delivered again (its seq belonged to another sequence). Durable
// (FleetOptions::durable): the registry and the command log are loaded at the
// start of each term (load()) and written back by the state keeper
// (core/state), so seqs and ids continue across terms and every term's
// commands are delivered; a command is delivered or acknowledged only once a
// write made it durable (mark_durable), and one whose write failed is dropped
// (drop_undurable) before anybody saw it. Acknowledging is idempotent: the
// first result sticks.
//
// Durable form (fleet_durable.cpp): per deployment two JSON objects,
// "nodes" (the registry: number, id, version, host, registered_at) and
// "commands" (the log; each command's targets and delivery states as ranges
// of node numbers, results with messages, failures). Telemetry is not in it.
//
// Thread-safety: every member is safe from any thread. Deployments are fixed at
// construction; each has its own mutex, so deployments never contend.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fleet/fleet_snapshots.h"
#include "fleet/fleet_types.h"

namespace pgdc::fleet {

struct IssueOutcome {
  FleetStatus status = FleetStatus::kOk;
  CommandSnapshot command;           // as issued (state as of its own epoch)
  std::vector<std::string> targets;  // node ids to wake
  std::uint64_t generation = 0;      // of DurablePart::kCommands, with this command
};

struct AckOutcome {
  FleetStatus status = FleetStatus::kOk;
  bool first = false;  // false: already acknowledged; nothing changed
  std::string command_id;
  Delivery delivery;             // the node's delivery after the ack
  std::uint64_t generation = 0;  // of DurablePart::kCommands, with this ack
};

// One durable part, encoded for a write (FleetStore::encode).
struct EncodedPart {
  std::uint64_t generation = 0;  // the changes it covers
  std::uint64_t next_seq = 0;    // commands: every seq below is in it
  std::string value;             // a JSON object
};

namespace internal {
struct Deployment;
}

class FleetStore {
 public:
  FleetStore(const std::vector<std::string>& deployments, FleetOptions options,
             FleetClock clock = FleetClock::system());
  ~FleetStore();
  FleetStore(const FleetStore&) = delete;
  FleetStore& operator=(const FleetStore&) = delete;

  bool has_deployment(std::string_view name) const;
  // Bytes charged against the budgets: one deployment's (0 if unknown), all.
  std::size_t memory_bytes(std::string_view deployment) const;
  std::size_t memory_bytes() const { return used_.load(); }
  const FleetOptions& options() const { return options_; }

  // kCreated for a new node, kOk for a known one (version and host updated,
  // registered_at_ms kept). Counts as a sign of life.
  FleetStatus register_node(std::string_view deployment, const NodeInfo& node);
  FleetStatus record_metrics(std::string_view deployment, std::string_view node_id,
                             const MetricSample& sample);
  // json_array: a compact JSON array, already validated and bounded.
  FleetStatus record_upload(std::string_view deployment, std::string_view node_id, UploadKind kind,
                            std::string json_array, std::size_t entries);

  // target: a node id or "*" (every node registered now). args_json: a
  // compact JSON object, already validated.
  IssueOutcome issue(std::string_view deployment, const std::string& name,
                     const std::string& target, std::string args_json, const std::string& epoch);
  // Appends to `out` the node's open commands with seq > after_seq issued under
  // `epoch`, oldest first, and marks them delivered.
  FleetStatus poll(std::string_view deployment, std::string_view node_id, std::uint64_t after_seq,
                   const std::string& epoch, std::vector<PolledCommand>& out);
  AckOutcome ack(std::string_view deployment, std::string_view command_id, std::string_view node_id,
                 bool ok, std::string message);

  // Evicts nodes silent for evict_after; returns the counts per deployment
  // (for gauges) after eviction. Call about once a second.
  std::vector<DeploymentCounts> sweep(std::size_t* evicted = nullptr);

  // Reads for the web API (rendered by api/fleet_views.h). current_epoch
  // decides which commands are "expired" (issued in an earlier term and still
  // open).
  std::vector<DeploymentCounts> deployments() const;                                     // by name
  FleetStatus nodes(std::string_view deployment, std::vector<NodeSnapshot>& out) const;  // by id
  FleetStatus node(std::string_view deployment, std::string_view node_id, NodeDetail& out) const;
  // The node's metric points no older than since_ms (nor than the
  // retention), oldest first.
  FleetStatus series(std::string_view deployment, std::string_view node_id, std::int64_t since_ms,
                     std::vector<MetricPoint>& out) const;
  // At most `limit` commands, newest first.
  FleetStatus commands(std::string_view deployment, std::string_view current_epoch,
                       std::size_t limit, std::vector<CommandSnapshot>& out) const;
  // Commands dropped from the history while still open for some node.
  FleetStatus trimmed(std::string_view deployment, TrimmedView& out) const;
  // One command by its seq (kUnknownCommand once dropped from the history).
  FleetStatus command(std::string_view deployment, std::uint64_t seq,
                      std::string_view current_epoch, CommandSnapshot& out) const;

  // --- durable state (driven by core/state/state_keeper.h) ---
  // The part's durable form as of now, with writer_json (a JSON object naming
  // the writing term) as its "writer" field. Deployment must exist.
  EncodedPart encode(std::string_view deployment, DurablePart part,
                     std::string_view writer_json) const;
  // (changed, durable) generation counters of a part.
  std::pair<std::uint64_t, std::uint64_t> generations(std::string_view deployment,
                                                      DurablePart part) const;
  // A write of encode()'s result succeeded.
  void mark_durable(std::string_view deployment, DurablePart part, const EncodedPart& written);
  // Replaces the deployment's registry and command log with their durable
  // form ("" for an object that does not exist yet); telemetry starts over
  // (data_since_ms). Both parts count as durable. Returns "" or, when a value
  // cannot be read, why (nothing changed then).
  std::string load(std::string_view deployment, std::string_view nodes_value,
                   std::string_view commands_value);
  // Drops the commands no write has made durable (a write failed; nobody was
  // given them). Returns how many.
  std::size_t drop_undurable(std::string_view deployment);
  // Whether the command `id` (seq `seq`) is in the log and (durable mode)
  // durable: a
  // command dropped by drop_undurable is not, even if a later one took its
  // seq.
  bool durable_command(std::string_view deployment, std::uint64_t seq, std::string_view id) const;
  // Drops the oldest `count` durable commands from the history (recorded as
  // trimmed when still open somewhere), so that the commands object fits
  // its state object. Returns how many were dropped.
  std::size_t trim_history(std::string_view deployment, std::size_t count);
  // Since when telemetry is kept (process start or the last load()).
  std::int64_t data_since_ms(std::string_view deployment) const;

 private:
  using Deployment = internal::Deployment;
  Deployment* find(std::string_view name) const;
  // Under d's mutex. charge: kOk, or the budget it would exceed (nothing
  // charged then). force: charges or releases (negative) regardless.
  FleetStatus charge(Deployment& d, std::size_t bytes);
  void force(Deployment& d, std::int64_t bytes);
  std::size_t node_bytes(const NodeInfo& info) const;
  CommandState state_of(const Command& c, std::string_view current_epoch) const;
  // Under d's mutex: drops the oldest command, recording it when still open.
  void trim_front(Deployment& d, std::int64_t wall);

  FleetOptions options_;
  FleetClock clock_;
  std::size_t ring_capacity_;
  std::string instance_;                  // random suffix of command ids, unique per process
  std::atomic<std::uint64_t> issued_{0};  // issues in this process, in ids
  std::atomic<std::size_t> used_{0};      // sum of every deployment's charge
  std::map<std::string, std::unique_ptr<Deployment>, std::less<>> deployments_;
};

}  // namespace pgdc::fleet
