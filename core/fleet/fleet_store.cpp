#include "fleet/fleet_store.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <random>

namespace pgdc::fleet {
namespace {

using Json = nlohmann::json;

struct Delivery {
  std::string node;
  DeliveryState state = DeliveryState::kPending;
  std::int64_t delivered_at_ms = 0;
  std::int64_t acked_at_ms = 0;
  std::uint32_t deliveries = 0;
  std::string result_status;  // "ok" | "error" once final
  std::string result_message;
};

struct Command {
  std::string id;
  std::uint64_t seq = 0;
  std::string epoch;
  std::string name;
  std::string target;
  std::string args_json;
  std::int64_t issued_at_ms = 0;
  std::vector<Delivery> nodes;  // sorted by node id
};

struct Node {
  NodeInfo info;
  std::int64_t registered_at_ms = 0;
  std::int64_t last_seen_ms = 0;
  FleetSteadyTime last_seen{};
  std::vector<MetricPoint> ring;  // grows to capacity, then wraps at head
  std::size_t head = 0;           // next slot to overwrite once full
  std::string uploads[3];         // latest of each UploadKind, compact JSON arrays
  std::int64_t upload_ms[3] = {0, 0, 0};
  std::vector<std::uint64_t> open;  // seqs of commands this node has not acked

  const MetricPoint* latest() const {
    if (ring.empty()) return nullptr;
    return &ring[(head + ring.size() - 1) % ring.size()];
  }
  template <typename F>
  void each_point(F f) const {  // oldest first
    for (std::size_t i = 0; i < ring.size(); ++i) f(ring[(head + i) % ring.size()]);
  }
};

bool is_final(DeliveryState s) {
  return s == DeliveryState::kAcknowledged || s == DeliveryState::kFailed;
}

Delivery* find_delivery(Command& c, std::string_view node) {
  auto it = std::lower_bound(c.nodes.begin(), c.nodes.end(), node,
                             [](const Delivery& d, std::string_view n) { return d.node < n; });
  return it != c.nodes.end() && it->node == node ? &*it : nullptr;
}

// A float as the shortest double that prints like it (0.1f -> 0.1, not
// 0.10000000149011612).
double tidy(float f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7g", static_cast<double>(f));
  return std::strtod(buf, nullptr);
}

Json point_json(const MetricPoint& p) {
  return Json{{"ts_ms", p.ts_ms},     {"clients", p.clients},
              {"servers", p.servers}, {"pools", p.pools},
              {"qps", tidy(p.qps)},   {"tps", tidy(p.tps)},
              {"cpu", tidy(p.cpu)},   {"memory_bytes", p.memory_bytes}};
}

Json delivery_json(const Delivery& d) {
  Json result = nullptr;
  if (is_final(d.state)) result = Json{{"status", d.result_status}, {"message", d.result_message}};
  return Json{{"node", d.node},
              {"state", std::string(delivery_state_name(d.state))},
              {"delivered_at_ms", d.delivered_at_ms ? Json(d.delivered_at_ms) : Json(nullptr)},
              {"acked_at_ms", d.acked_at_ms ? Json(d.acked_at_ms) : Json(nullptr)},
              {"deliveries", d.deliveries},
              {"result", result}};
}

// pending < delivered < final; "failed" if any failed once all are final;
// "expired" when issued in another term and still open somewhere.
std::string overall_state(const Command& c, const std::string& current_epoch) {
  bool all_final = true, all_delivered = true, any_failed = false;
  for (const Delivery& d : c.nodes) {
    all_final = all_final && is_final(d.state);
    all_delivered = all_delivered && d.state != DeliveryState::kPending;
    any_failed = any_failed || d.state == DeliveryState::kFailed;
  }
  if (all_final) return any_failed ? "failed" : "acknowledged";
  if (c.epoch != current_epoch) return "expired";
  return all_delivered ? "delivered" : "pending";
}

Json command_json_of(const Command& c, const std::string& current_epoch) {
  Json nodes = Json::array();
  for (const Delivery& d : c.nodes) nodes.push_back(delivery_json(d));
  Json args = Json::parse(c.args_json, nullptr, false);
  if (args.is_discarded()) args = Json::object();
  return Json{{"id", c.id},
              {"seq", c.seq},
              {"epoch", c.epoch},
              {"name", c.name},
              {"target", c.target},
              {"args", std::move(args)},
              {"issued_at_ms", c.issued_at_ms},
              {"state", overall_state(c, current_epoch)},
              {"nodes", std::move(nodes)}};
}

std::string random_hex8() {
  std::random_device device;
  std::uint32_t bits = device();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(8, '0');
  for (char& ch : out) {
    ch = kHex[bits & 0xf];
    bits >>= 4;
  }
  return out;
}

}  // namespace

struct FleetStore::Deployment {
  std::string name;
  mutable std::mutex mutex;
  std::map<std::string, Node, std::less<>> nodes;
  std::deque<Command> commands;  // consecutive seqs, oldest first
  std::uint64_t next_seq = 1;

  Command* command_by_seq(std::uint64_t seq) {
    if (commands.empty() || seq < commands.front().seq) return nullptr;
    const std::uint64_t index = seq - commands.front().seq;
    return index < commands.size() ? &commands[index] : nullptr;
  }
};

FleetStore::FleetStore(const std::vector<std::string>& deployments, FleetOptions options,
                       FleetClock clock)
    : options_(options), clock_(std::move(clock)), instance_(random_hex8()) {
  if (!clock_.steady || !clock_.wall_ms) clock_ = FleetClock::system();
  const auto secs = std::max<std::int64_t>(1, options_.retention.count() / 1000);
  ring_capacity_ = static_cast<std::size_t>(secs + secs / 10 + 1);
  for (const auto& name : deployments) {
    auto d = std::make_unique<Deployment>();
    d->name = name;
    deployments_.emplace(name, std::move(d));
  }
}

FleetStore::~FleetStore() = default;

FleetStore::Deployment* FleetStore::find(std::string_view name) const {
  auto it = deployments_.find(name);
  return it == deployments_.end() ? nullptr : it->second.get();
}

bool FleetStore::has_deployment(std::string_view name) const { return find(name) != nullptr; }

FleetStatus FleetStore::register_node(std::string_view deployment, const NodeInfo& info) {
  Deployment* d = find(deployment);
  if (!d) return FleetStatus::kUnknownDeployment;
  const auto steady = clock_.steady();
  const auto wall = clock_.wall_ms();
  std::lock_guard lock(d->mutex);
  auto it = d->nodes.find(info.node_id);
  if (it != d->nodes.end()) {
    it->second.info.version = info.version;
    it->second.info.host = info.host;
    it->second.last_seen = steady;
    it->second.last_seen_ms = wall;
    return FleetStatus::kOk;
  }
  if (d->nodes.size() >= options_.max_nodes_per_deployment) return FleetStatus::kTooManyNodes;
  Node node;
  node.info = info;
  node.registered_at_ms = wall;
  node.last_seen_ms = wall;
  node.last_seen = steady;
  d->nodes.emplace(info.node_id, std::move(node));
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
    if (n.ring.capacity() == 0) n.ring.reserve(std::min<std::size_t>(ring_capacity_, 64));
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
  old.swap(it->second.uploads[k]);
  it->second.uploads[k] = std::move(json_array);
  it->second.upload_ms[k] = wall;
  return FleetStatus::kOk;
}

IssueOutcome FleetStore::issue(std::string_view deployment, const std::string& name,
                               const std::string& target, const Json& args,
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
  c.id = std::to_string(c.seq) + "-" + instance_;
  c.epoch = epoch;
  c.name = name;
  c.target = target;
  c.args_json = args.dump();
  c.issued_at_ms = wall;
  auto add = [&](Node& n) {
    Delivery del;
    del.node = n.info.node_id;
    c.nodes.push_back(std::move(del));
    n.open.push_back(c.seq);
    out.targets.push_back(n.info.node_id);
  };
  if (target == "*") {
    c.nodes.reserve(d->nodes.size());
    for (auto& [id, n] : d->nodes) add(n);  // map order: sorted by id
  } else {
    add(d->nodes.find(target)->second);
  }
  d->commands.push_back(std::move(c));
  while (d->commands.size() > options_.command_history) {
    Command& old = d->commands.front();
    for (const Delivery& del : old.nodes) {
      if (is_final(del.state)) continue;
      auto n = d->nodes.find(del.node);
      if (n == d->nodes.end()) continue;
      auto& open = n->second.open;
      open.erase(std::remove(open.begin(), open.end(), old.seq), open.end());
    }
    d->commands.pop_front();
  }
  out.command = command_json_of(d->commands.back(), epoch);
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
    Command* c = d->command_by_seq(seq);
    if (!c || c->epoch != epoch) continue;  // fenced: another term's command
    Delivery* del = find_delivery(*c, node_id);
    if (!del || is_final(del->state)) continue;
    if (del->state == DeliveryState::kPending) {
      del->state = DeliveryState::kDelivered;
      del->delivered_at_ms = wall;
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
  // "<seq>-<instance>"
  const auto dash = command_id.find('-');
  std::uint64_t seq = 0;
  bool valid = dash != std::string_view::npos && dash > 0 && dash <= 19 &&
               command_id.substr(dash + 1) == instance_;
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
  if (!c) {
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
    del->result_message = std::move(message);
    auto n = d->nodes.find(node_id);
    if (n != d->nodes.end()) {
      auto& open = n->second.open;
      open.erase(std::remove(open.begin(), open.end(), seq), open.end());
    }
  }
  out.delivery = delivery_json(*del);
  out.delivery["id"] = c->id;
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
            del->result_message = "node evicted before acknowledging";
          }
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
    }
    out.push_back(std::move(counts));
  }
  if (evicted) *evicted = gone;
  return out;
}

// --- views ------------------------------------------------------------------

namespace {

Json node_summary(const Node& n, FleetSteadyTime now, const FleetOptions& options) {
  const MetricPoint* latest = n.latest();
  const bool live = now - n.last_seen < options.stale_after;
  return Json{{"id", n.info.node_id},
              {"version", n.info.version},
              {"host", n.info.host},
              {"status", live ? "live" : "stale"},
              {"registered_at_ms", n.registered_at_ms},
              {"last_seen_ms", n.last_seen_ms},
              {"latest", latest ? point_json(*latest) : Json(nullptr)}};
}

}  // namespace

Json FleetStore::deployments_json() const {
  const auto now = clock_.steady();
  Json list = Json::array();
  for (const auto& [name, d] : deployments_) {
    std::size_t total = 0, live = 0;
    {
      std::lock_guard lock(d->mutex);
      total = d->nodes.size();
      for (const auto& [id, n] : d->nodes) live += now - n.last_seen < options_.stale_after;
    }
    list.push_back(Json{{"name", name},
                        {"nodes", {{"total", total}, {"live", live}, {"stale", total - live}}}});
  }
  return Json{{"deployments", std::move(list)}};
}

FleetStatus FleetStore::nodes_json(std::string_view deployment, Json& out) const {
  Deployment* d = find(deployment);
  if (!d) return FleetStatus::kUnknownDeployment;
  const auto now = clock_.steady();
  Json list = Json::array();
  {
    std::lock_guard lock(d->mutex);
    for (const auto& [id, n] : d->nodes) list.push_back(node_summary(n, now, options_));
  }
  out = Json{{"deployment", d->name}, {"nodes", std::move(list)}};
  return FleetStatus::kOk;
}

FleetStatus FleetStore::node_json(std::string_view deployment, std::string_view node_id,
                                  Json& out) const {
  Deployment* d = find(deployment);
  if (!d) return FleetStatus::kUnknownDeployment;
  const auto now = clock_.steady();
  std::string uploads[3];
  std::int64_t upload_ms[3];
  {
    std::lock_guard lock(d->mutex);
    auto it = d->nodes.find(node_id);
    if (it == d->nodes.end()) return FleetStatus::kUnknownNode;
    out = node_summary(it->second, now, options_);
    for (int k = 0; k < 3; ++k) {
      uploads[k] = it->second.uploads[k];
      upload_ms[k] = it->second.upload_ms[k];
    }
  }
  out["deployment"] = d->name;
  for (int k = 0; k < 3; ++k) {  // parsed outside the lock
    const std::string key(upload_kind_name(static_cast<UploadKind>(k)));
    Json list = uploads[k].empty() ? Json::array() : Json::parse(uploads[k], nullptr, false);
    out[key] = list.is_discarded() ? Json::array() : std::move(list);
    out[key + "_at_ms"] = upload_ms[k] ? Json(upload_ms[k]) : Json(nullptr);
  }
  return FleetStatus::kOk;
}

FleetStatus FleetStore::series_json(std::string_view deployment, std::string_view node_id,
                                    std::int64_t since_ms, Json& out) const {
  Deployment* d = find(deployment);
  if (!d) return FleetStatus::kUnknownDeployment;
  const std::int64_t oldest = clock_.wall_ms() - options_.retention.count();
  const std::int64_t from = std::max(since_ms, oldest);
  Json points = Json::array();
  {
    std::lock_guard lock(d->mutex);
    auto it = d->nodes.find(node_id);
    if (it == d->nodes.end()) return FleetStatus::kUnknownNode;
    it->second.each_point([&](const MetricPoint& p) {
      if (p.ts_ms >= from) points.push_back(point_json(p));
    });
  }
  out =
      Json{{"deployment", d->name}, {"node", std::string(node_id)}, {"points", std::move(points)}};
  return FleetStatus::kOk;
}

FleetStatus FleetStore::commands_json(std::string_view deployment, const std::string& current_epoch,
                                      std::size_t limit, Json& out) const {
  Deployment* d = find(deployment);
  if (!d) return FleetStatus::kUnknownDeployment;
  Json list = Json::array();
  {
    std::lock_guard lock(d->mutex);
    for (auto it = d->commands.rbegin(); it != d->commands.rend() && list.size() < limit; ++it) {
      list.push_back(command_json_of(*it, current_epoch));
    }
  }
  out = Json{{"deployment", d->name}, {"commands", std::move(list)}};
  return FleetStatus::kOk;
}

FleetStatus FleetStore::command_json(std::string_view deployment, std::uint64_t seq,
                                     const std::string& current_epoch, Json& out) const {
  Deployment* d = find(deployment);
  if (!d) return FleetStatus::kUnknownDeployment;
  std::lock_guard lock(d->mutex);
  const Command* c = d->command_by_seq(seq);
  if (!c) return FleetStatus::kUnknownCommand;
  out = command_json_of(*c, current_epoch);
  return FleetStatus::kOk;
}

}  // namespace pgdc::fleet
