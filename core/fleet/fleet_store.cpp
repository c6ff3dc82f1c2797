#include "fleet/fleet_store.h"

#include "fleet/fleet_store_internal.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>

#include "text/text.h"

namespace pgdc::fleet {

using internal::command_bytes;
using internal::Deployment;
using internal::find_delivery;
using internal::kCommandBytes;
using internal::kDeliveryBytes;
using internal::kNodeBytes;
using internal::kTrimmedKept;
using internal::Node;
using internal::trimmed_bytes;

FleetStore::FleetStore(const std::vector<std::string>& deployments, FleetOptions options,
                       FleetClock clock)
    : options_(options), clock_(std::move(clock)), instance_(text::random_hex(8)) {
  if (!clock_.steady || !clock_.wall_ms) clock_ = FleetClock::system();
  const auto secs = std::max<std::int64_t>(1, options_.retention.count() / 1000);
  ring_capacity_ = static_cast<std::size_t>(secs + secs / 10 + 1);
  for (const auto& name : deployments) {
    auto d = std::make_unique<Deployment>();
    d->name = name;
    d->data_since_ms = clock_.wall_ms();
    deployments_.emplace(name, std::move(d));
  }
}

FleetStore::~FleetStore() = default;

FleetStore::Deployment* FleetStore::find(std::string_view name) const {
  auto it = deployments_.find(name);
  return it == deployments_.end() ? nullptr : it->second.get();
}

bool FleetStore::has_deployment(std::string_view name) const { return find(name) != nullptr; }

std::size_t FleetStore::memory_bytes(std::string_view deployment) const {
  const Deployment* d = find(deployment);
  if (!d) return 0;
  std::lock_guard lock(d->mutex);
  return d->used;
}

std::size_t FleetStore::node_bytes(const NodeInfo& info) const {
  return kNodeBytes + ring_capacity_ * sizeof(MetricPoint) + info.node_id.size() +
         info.version.size() + info.host.size();
}

FleetStatus FleetStore::charge(Deployment& d, std::size_t bytes) {
  if (bytes >
      options_.max_bytes_per_deployment - std::min(d.used, options_.max_bytes_per_deployment)) {
    return FleetStatus::kOverDeploymentBudget;
  }
  std::size_t all = used_.load();
  do {
    if (bytes > options_.max_bytes - std::min(all, options_.max_bytes)) {
      return FleetStatus::kOverGlobalBudget;
    }
  } while (!used_.compare_exchange_weak(all, all + bytes));
  d.used += bytes;
  return FleetStatus::kOk;
}

void FleetStore::force(Deployment& d, std::int64_t bytes) {
  if (bytes >= 0) {
    d.used += static_cast<std::size_t>(bytes);
    used_ += static_cast<std::size_t>(bytes);
  } else {
    const auto release = std::min(d.used, static_cast<std::size_t>(-bytes));
    d.used -= release;
    used_ -= release;
  }
}

FleetStatus FleetStore::register_node(std::string_view deployment, const NodeInfo& info) {
  Deployment* d = find(deployment);
  if (!d) return FleetStatus::kUnknownDeployment;
  const auto steady = clock_.steady();
  const auto wall = clock_.wall_ms();
  std::lock_guard lock(d->mutex);
  auto it = d->nodes.find(info.node_id);
  if (it != d->nodes.end()) {
    const std::int64_t grown =
        static_cast<std::int64_t>(info.version.size() + info.host.size()) -
        static_cast<std::int64_t>(it->second.info.version.size() + it->second.info.host.size());
    force(*d, grown);
    it->second.charged =
        static_cast<std::size_t>(static_cast<std::int64_t>(it->second.charged) + grown);
    if (it->second.info.version != info.version || it->second.info.host != info.host) {
      d->changed(DurablePart::kNodes);
      // Never refused: a node already in the registry stays in it.
      d->registry_bytes = d->registry_bytes - internal::registry_record_bytes(it->second.info) +
                          internal::registry_record_bytes(info);
    }
    it->second.info.version = info.version;
    it->second.info.host = info.host;
    it->second.last_seen = steady;
    it->second.last_seen_ms = wall;
    return FleetStatus::kOk;
  }
  if (d->nodes.size() >= options_.max_nodes_per_deployment) return FleetStatus::kTooManyNodes;
  const std::size_t record = internal::registry_record_bytes(info);
  if (options_.max_registry_bytes != 0 &&
      d->registry_bytes + record > options_.max_registry_bytes) {
    return FleetStatus::kRegistryFull;
  }
  const std::size_t bytes = node_bytes(info);
  if (FleetStatus s = charge(*d, bytes); s != FleetStatus::kOk) return s;
  Node node;
  node.charged = bytes;
  node.number = d->next_number++;
  node.info = info;
  node.registered_at_ms = wall;
  node.last_seen_ms = wall;
  node.last_seen = steady;
  d->nodes.emplace(info.node_id, std::move(node));
  d->registry_bytes += record;
  d->changed(DurablePart::kNodes);
  return FleetStatus::kCreated;
}

FleetStatus FleetStore::record_metrics(std::string_view deployment, std::string_view node_id,
                                       const MetricSample& s) {
  Deployment* d = find(deployment);
  if (!d) return FleetStatus::kUnknownDeployment;
  const auto steady = clock_.steady();
  const auto wall = clock_.wall_ms();
  std::lock_guard lock(d->mutex);
  auto it = d->nodes.find(node_id);
  if (it == d->nodes.end()) return FleetStatus::kUnknownNode;
  Node& n = it->second;
  n.last_seen = steady;
  n.last_seen_ms = wall;
  const MetricPoint p{wall,
                      s.clients,
                      s.servers,
                      s.pools,
                      static_cast<float>(s.qps),
                      static_cast<float>(s.tps),
                      static_cast<float>(s.cpu),
                      s.memory_bytes};
  if (n.ring.size() < ring_capacity_) {
    // Grows by doubling from 64 but never past ring_capacity_, so the ring
    // never holds more than the budget charged for it.
    if (n.ring.size() == n.ring.capacity()) {
      n.ring.reserve(std::min(ring_capacity_, std::max<std::size_t>(64, 2 * n.ring.capacity())));
    }
    n.ring.push_back(p);
  } else {
    n.ring[n.head] = p;
    n.head = (n.head + 1) % n.ring.size();
  }
  return FleetStatus::kOk;
}

FleetStatus FleetStore::record_upload(std::string_view deployment, std::string_view node_id,
                                      UploadKind kind, std::string json_array, std::size_t) {
  Deployment* d = find(deployment);
  if (!d) return FleetStatus::kUnknownDeployment;
  const auto wall = clock_.wall_ms();
  std::string old;  // freed outside the lock
  std::lock_guard lock(d->mutex);
  auto it = d->nodes.find(node_id);
  if (it == d->nodes.end()) return FleetStatus::kUnknownNode;
  const auto k = static_cast<std::size_t>(kind);
  Node& n = it->second;
  const std::size_t before = n.uploads[k].size();
  if (json_array.size() > before) {
    if (FleetStatus s = charge(*d, json_array.size() - before); s != FleetStatus::kOk) return s;
  } else {
    force(*d, -static_cast<std::int64_t>(before - json_array.size()));
  }
  n.charged = n.charged - before + json_array.size();
  old.swap(n.uploads[k]);
  n.uploads[k] = std::move(json_array);
  n.upload_ms[k] = wall;
  return FleetStatus::kOk;
}

IssueOutcome FleetStore::issue(std::string_view deployment, const std::string& name,
                               const std::string& target, std::string args_json,
                               const std::string& epoch) {
  IssueOutcome out;
  Deployment* d = find(deployment);
  if (!d) {
    out.status = FleetStatus::kUnknownDeployment;
    return out;
  }
  const auto wall = clock_.wall_ms();
  std::lock_guard lock(d->mutex);
  if (target != "*" && d->nodes.find(target) == d->nodes.end()) {
    out.status = FleetStatus::kUnknownNode;
    return out;
  }
  Command c;
  c.seq = d->next_seq++;
  // Unique even when a dropped command's seq is reused (drop_undurable).
  c.id = std::to_string(c.seq) + "-" + instance_ + std::to_string(++issued_);
  c.epoch = epoch;
  c.name = name;
  c.target = target;
  c.args_json = std::move(args_json);
  c.issued_at_ms = wall;
  auto add = [&](Node& n) {
    Delivery del;
    del.node = n.info.node_id;
    del.node_number = n.number;
    c.nodes.push_back(std::move(del));
    n.open.push_back(c.seq);
    out.targets.push_back(n.info.node_id);
  };
  // The charge first: a refused command takes no seq and reaches no node.
  std::size_t bytes = command_bytes(c);  // no deliveries yet
  if (target == "*") {
    for (const auto& [id, n] : d->nodes) bytes += kDeliveryBytes + id.size();
  } else {
    bytes += kDeliveryBytes + target.size();
  }
  if (FleetStatus s = charge(*d, bytes); s != FleetStatus::kOk) {
    --d->next_seq;
    out.status = s;
    return out;
  }
  if (target == "*") {
    c.nodes.reserve(d->nodes.size());
    for (auto& [id, n] : d->nodes) add(n);  // map order: sorted by id
  } else {
    add(d->nodes.find(target)->second);
  }
  d->commands.push_back(std::move(c));
  while (d->commands.size() > options_.command_history) trim_front(*d, wall);
  d->changed(DurablePart::kCommands);
  out.command = CommandSnapshot{d->commands.back(), state_of(d->commands.back(), epoch)};
  out.generation = d->parts[static_cast<std::size_t>(DurablePart::kCommands)].changed;
  return out;
}

FleetStatus FleetStore::poll(std::string_view deployment, std::string_view node_id,
                             std::uint64_t after_seq, const std::string& epoch,
                             std::vector<PolledCommand>& out) {
  Deployment* d = find(deployment);
  if (!d) return FleetStatus::kUnknownDeployment;
  const auto wall = clock_.wall_ms();
  std::lock_guard lock(d->mutex);
  auto it = d->nodes.find(node_id);
  if (it == d->nodes.end()) return FleetStatus::kUnknownNode;
  for (std::uint64_t seq : it->second.open) {  // ascending: seqs are appended in order
    if (seq <= after_seq) continue;
    // Durable: only what a write has made durable (a command whose write
    // failed is dropped, and must never have reached a node). In memory:
    // only this term's commands (another term's seqs are another sequence).
    if (options_.durable ? seq >= d->durable_next_seq : false) break;
    Command* c = d->command_by_seq(seq);
    if (!c || (!options_.durable && c->epoch != epoch)) continue;
    Delivery* del = find_delivery(*c, node_id);
    if (!del || is_final(del->state)) continue;
    if (del->state == DeliveryState::kPending) {
      del->state = DeliveryState::kDelivered;
      del->delivered_at_ms = wall;
      d->changed(DurablePart::kCommands);
    }
    ++del->deliveries;
    out.push_back(PolledCommand{c->id, c->seq, c->epoch, c->name, c->args_json, c->issued_at_ms});
  }
  return FleetStatus::kOk;
}

AckOutcome FleetStore::ack(std::string_view deployment, std::string_view command_id,
                           std::string_view node_id, bool ok, std::string message) {
  AckOutcome out;
  Deployment* d = find(deployment);
  if (!d) {
    out.status = FleetStatus::kUnknownDeployment;
    return out;
  }
  // "<seq>-<suffix>": the seq finds the command, the whole id must match (a
  // command of another process or term with the same seq is another command).
  const auto dash = command_id.find('-');
  std::uint64_t seq = 0;
  bool valid = dash != std::string_view::npos && dash > 0 && dash <= 19;
  for (std::size_t i = 0; valid && i < dash; ++i) {
    const char ch = command_id[i];
    valid = ch >= '0' && ch <= '9';
    seq = seq * 10 + static_cast<std::uint64_t>(ch - '0');
  }
  if (!valid) {
    out.status = FleetStatus::kUnknownCommand;
    return out;
  }
  const auto wall = clock_.wall_ms();
  std::lock_guard lock(d->mutex);
  Command* c = d->command_by_seq(seq);
  if (!c || c->id != command_id || (options_.durable && seq >= d->durable_next_seq)) {
    out.status = FleetStatus::kUnknownCommand;
    return out;
  }
  Delivery* del = find_delivery(*c, node_id);
  if (!del) {
    out.status = FleetStatus::kNotTarget;
    return out;
  }
  if (!is_final(del->state)) {
    out.first = true;
    if (del->delivered_at_ms == 0) del->delivered_at_ms = wall;
    del->state = ok ? DeliveryState::kAcknowledged : DeliveryState::kFailed;
    del->acked_at_ms = wall;
    del->result_status = ok ? "ok" : "error";
    force(*d, static_cast<std::int64_t>(message.size()) -
                  static_cast<std::int64_t>(del->result_message.size()));
    del->result_message = std::move(message);
    d->changed(DurablePart::kCommands);
    auto n = d->nodes.find(node_id);
    if (n != d->nodes.end()) {
      auto& open = n->second.open;
      open.erase(std::remove(open.begin(), open.end(), seq), open.end());
    }
  }
  out.command_id = c->id;
  out.delivery = *del;
  out.generation = d->parts[static_cast<std::size_t>(DurablePart::kCommands)].changed;
  return out;
}

std::vector<DeploymentCounts> FleetStore::sweep(std::size_t* evicted) {
  std::vector<DeploymentCounts> out;
  std::size_t gone = 0;
  const auto steady = clock_.steady();
  const auto wall = clock_.wall_ms();
  for (auto& [name, d] : deployments_) {
    DeploymentCounts counts;
    counts.name = name;
    std::vector<Node> dropped;  // destroyed outside the lock
    {
      std::lock_guard lock(d->mutex);
      for (auto it = d->nodes.begin(); it != d->nodes.end();) {
        const auto age = steady - it->second.last_seen;
        if (age >= options_.evict_after) {
          for (std::uint64_t seq : it->second.open) {
            Command* c = d->command_by_seq(seq);
            Delivery* del = c ? find_delivery(*c, it->first) : nullptr;
            if (!del || is_final(del->state)) continue;
            del->state = DeliveryState::kFailed;
            del->acked_at_ms = wall;
            del->result_status = "error";
            const std::string_view why = "node evicted before acknowledging";
            force(*d, static_cast<std::int64_t>(why.size()) -
                          static_cast<std::int64_t>(del->result_message.size()));
            del->result_message = why;
          }
          force(*d, -static_cast<std::int64_t>(it->second.charged));
          d->registry_bytes -=
              std::min(d->registry_bytes, internal::registry_record_bytes(it->second.info));
          d->changed(DurablePart::kNodes);
          d->changed(DurablePart::kCommands);
          dropped.push_back(std::move(it->second));
          it = d->nodes.erase(it);
          ++gone;
          continue;
        }
        ++counts.total;
        if (age < options_.stale_after) {
          ++counts.live;
        } else {
          ++counts.stale;
        }
        ++it;
      }
      counts.memory_bytes = d->used;
    }
    out.push_back(std::move(counts));
  }
  if (evicted) *evicted = gone;
  return out;
}

void FleetStore::trim_front(Deployment& d, std::int64_t wall) {
  Command& old = d.commands.front();
  force(d, -static_cast<std::int64_t>(command_bytes(old)));
  std::size_t open_nodes = 0;
  for (const Delivery& del : old.nodes) {
    if (is_final(del.state)) continue;
    ++open_nodes;
    auto n = d.nodes.find(del.node);
    if (n == d.nodes.end()) continue;
    auto& open = n->second.open;
    open.erase(std::remove(open.begin(), open.end(), old.seq), open.end());
  }
  if (open_nodes > 0) {
    TrimmedCommand t{old.id, old.seq, old.epoch, old.name, old.issued_at_ms, wall, open_nodes};
    force(d, static_cast<std::int64_t>(trimmed_bytes(t)));
    d.trimmed.push_back(std::move(t));
    ++d.trimmed_total;
    if (d.trimmed.size() > kTrimmedKept) {
      force(d, -static_cast<std::int64_t>(trimmed_bytes(d.trimmed.front())));
      d.trimmed.pop_front();
    }
  }
  d.commands.pop_front();
}

CommandState FleetStore::state_of(const Command& c, std::string_view current_epoch) const {
  // Durable: every term delivers every term's commands, so none expires.
  return command_state(c, options_.durable ? std::string_view(c.epoch) : current_epoch);
}

// --- reads ------------------------------------------------------------------

namespace {

NodeSnapshot node_snapshot(const Node& n, FleetSteadyTime now, const FleetOptions& options) {
  NodeSnapshot out;
  out.info = n.info;
  out.live = now - n.last_seen < options.stale_after;
  out.registered_at_ms = n.registered_at_ms;
  out.last_seen_ms = n.last_seen_ms;
  if (const MetricPoint* latest = n.latest()) out.latest = *latest;
  return out;
}

}  // namespace

std::vector<DeploymentCounts> FleetStore::deployments() const {
  const auto now = clock_.steady();
  std::vector<DeploymentCounts> out;
  for (const auto& [name, d] : deployments_) {
    DeploymentCounts counts;
    counts.name = name;
    {
      std::lock_guard lock(d->mutex);
      counts.total = d->nodes.size();
      for (const auto& [id, n] : d->nodes) counts.live += now - n.last_seen < options_.stale_after;
      counts.memory_bytes = d->used;
    }
    counts.stale = counts.total - counts.live;
    out.push_back(std::move(counts));
  }
  return out;
}

FleetStatus FleetStore::nodes(std::string_view deployment, std::vector<NodeSnapshot>& out) const {
  Deployment* d = find(deployment);
  if (!d) return FleetStatus::kUnknownDeployment;
  const auto now = clock_.steady();
  std::lock_guard lock(d->mutex);
  out.reserve(out.size() + d->nodes.size());
  for (const auto& [id, n] : d->nodes) out.push_back(node_snapshot(n, now, options_));
  return FleetStatus::kOk;
}

FleetStatus FleetStore::node(std::string_view deployment, std::string_view node_id,
                             NodeDetail& out) const {
  Deployment* d = find(deployment);
  if (!d) return FleetStatus::kUnknownDeployment;
  const auto now = clock_.steady();
  std::lock_guard lock(d->mutex);
  auto it = d->nodes.find(node_id);
  if (it == d->nodes.end()) return FleetStatus::kUnknownNode;
  out.node = node_snapshot(it->second, now, options_);
  out.uploads = it->second.uploads;
  out.upload_ms = it->second.upload_ms;
  return FleetStatus::kOk;
}

FleetStatus FleetStore::series(std::string_view deployment, std::string_view node_id,
                               std::int64_t since_ms, std::vector<MetricPoint>& out) const {
  Deployment* d = find(deployment);
  if (!d) return FleetStatus::kUnknownDeployment;
  const std::int64_t oldest = clock_.wall_ms() - options_.retention.count();
  const std::int64_t from = std::max(since_ms, oldest);
  std::lock_guard lock(d->mutex);
  auto it = d->nodes.find(node_id);
  if (it == d->nodes.end()) return FleetStatus::kUnknownNode;
  it->second.each_point([&](const MetricPoint& p) {
    if (p.ts_ms >= from) out.push_back(p);
  });
  return FleetStatus::kOk;
}

FleetStatus FleetStore::commands(std::string_view deployment, std::string_view current_epoch,
                                 std::size_t limit, std::vector<CommandSnapshot>& out) const {
  Deployment* d = find(deployment);
  if (!d) return FleetStatus::kUnknownDeployment;
  std::lock_guard lock(d->mutex);
  std::size_t taken = 0;
  for (auto it = d->commands.rbegin(); it != d->commands.rend() && taken < limit; ++it) {
    if (options_.durable && it->seq >= d->durable_next_seq) continue;  // not accepted yet
    out.push_back(CommandSnapshot{*it, state_of(*it, current_epoch)});
    ++taken;
  }
  return FleetStatus::kOk;
}

FleetStatus FleetStore::trimmed(std::string_view deployment, TrimmedView& out) const {
  Deployment* d = find(deployment);
  if (!d) return FleetStatus::kUnknownDeployment;
  std::lock_guard lock(d->mutex);
  out.total = d->trimmed_total;
  out.recent.assign(d->trimmed.rbegin(), d->trimmed.rend());
  return FleetStatus::kOk;
}

FleetStatus FleetStore::command(std::string_view deployment, std::uint64_t seq,
                                std::string_view current_epoch, CommandSnapshot& out) const {
  Deployment* d = find(deployment);
  if (!d) return FleetStatus::kUnknownDeployment;
  std::lock_guard lock(d->mutex);
  const Command* c = d->command_by_seq(seq);
  if (!c) return FleetStatus::kUnknownCommand;
  out = CommandSnapshot{*c, state_of(*c, current_epoch)};
  return FleetStatus::kOk;
}

}  // namespace pgdc::fleet
