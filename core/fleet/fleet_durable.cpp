// The fleet store's durable form: what a state store keeps of a deployment
// (fleet_store.h, "Durable form"), and loading it back at the start of a term.
//
// Shapes (format 1):
//   nodes:    {"format":1,"kind":"nodes","deployment":D,"writer":W,
//              "next_number":N,"nodes":[[number,id,version,host,registered_at_ms],...]}
//   commands: {"format":1,"kind":"commands","deployment":D,"writer":W,
//              "next_seq":S,"trimmed_total":T,
//              "trimmed":[[id,seq,epoch,name,issued_at_ms,trimmed_at_ms,open_nodes],...],
//              "gone":[[number,id],...],
//              "commands":[{"id","seq","epoch","name","target","args","issued_at_ms",
//                           "t":R,"d":R,"a":R,"r":[[number,"ok"|"error",message,acked_at_ms],...]}]}
// R is a list of [first,last] ranges of node numbers: t the targets, d those
// delivered and not final, a those acknowledged "ok" without a message; r the
// other final results. A target in none of them is pending. "gone" names the
// evicted nodes that kept commands still reference. Per-delivery times are
// kept only in r (acked_at_ms); the rest reads back as unknown (0).
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "fleet/fleet_store.h"
#include "fleet/fleet_store_internal.h"

namespace pgdc::fleet {
namespace {

using Json = nlohmann::json;
using internal::Deployment;
using internal::Node;
using Ranges = std::vector<std::pair<std::uint64_t, std::uint64_t>>;

void append_string(std::string& out, std::string_view s) {
  out += Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
}

void append_ranges(std::string& out, std::vector<std::uint64_t>& numbers) {
  std::sort(numbers.begin(), numbers.end());
  out += '[';
  bool first = true;
  for (std::size_t i = 0; i < numbers.size();) {
    std::size_t j = i;
    while (j + 1 < numbers.size() && numbers[j + 1] <= numbers[j] + 1) ++j;
    if (!first) out += ',';
    first = false;
    out += '[' + std::to_string(numbers[i]) + ',' + std::to_string(numbers[j]) + ']';
    i = j + 1;
  }
  out += ']';
}

// "[" each(item) "," ... "]": the one shape every list of the form has.
template <typename Range, typename F>
void append_array(std::string& out, const Range& items, F each) {
  out += '[';
  bool first = true;
  for (const auto& item : items) {
    if (!first) out += ',';
    first = false;
    each(item);
  }
  out += ']';
}

void append_header(std::string& out, std::string_view kind, const std::string& deployment,
                   std::string_view writer_json) {
  out += "{\"format\":1,\"kind\":";
  append_string(out, kind);
  out += ",\"deployment\":";
  append_string(out, deployment);
  out += ",\"writer\":";
  out += writer_json.empty() ? std::string_view("null") : writer_json;
}

std::string encode_nodes(const Deployment& d, std::string_view writer_json) {
  std::string out;
  out.reserve(64 + d.nodes.size() * 64);
  append_header(out, "nodes", d.name, writer_json);
  out += ",\"next_number\":" + std::to_string(d.next_number) + ",\"nodes\":";
  append_array(out, d.nodes, [&](const auto& entry) {
    const Node& n = entry.second;
    out += '[' + std::to_string(n.number) + ',';
    append_string(out, n.info.node_id);
    out += ',';
    append_string(out, n.info.version);
    out += ',';
    append_string(out, n.info.host);
    out += ',' + std::to_string(n.registered_at_ms) + ']';
  });
  out += '}';
  return out;
}

std::string encode_commands(const Deployment& d, std::string_view writer_json) {
  std::string out;
  append_header(out, "commands", d.name, writer_json);
  out += ",\"next_seq\":" + std::to_string(d.next_seq);
  out += ",\"trimmed_total\":" + std::to_string(d.trimmed_total) + ",\"trimmed\":";
  append_array(out, d.trimmed, [&](const TrimmedCommand& t) {
    out += '[';
    append_string(out, t.id);
    out += ',' + std::to_string(t.seq) + ',';
    append_string(out, t.epoch);
    out += ',';
    append_string(out, t.name);
    out += ',' + std::to_string(t.issued_at_ms) + ',' + std::to_string(t.trimmed_at_ms) + ',' +
           std::to_string(t.open_nodes) + ']';
  });
  // Evicted nodes the kept commands still name.
  std::map<std::uint64_t, const std::string*> gone;
  std::unordered_set<std::uint64_t> present;
  present.reserve(d.nodes.size());
  for (const auto& [id, n] : d.nodes) present.insert(n.number);
  for (const Command& c : d.commands) {
    for (const Delivery& del : c.nodes) {
      if (!present.count(del.node_number)) gone.emplace(del.node_number, &del.node);
    }
  }
  out += ",\"gone\":";
  append_array(out, gone, [&](const auto& entry) {
    out += '[' + std::to_string(entry.first) + ',';
    append_string(out, *entry.second);
    out += ']';
  });
  out += ",\"commands\":";
  std::vector<std::uint64_t> targets, delivered, acked;
  append_array(out, d.commands, [&](const Command& c) {
    out += "{\"id\":";
    append_string(out, c.id);
    out += ",\"seq\":" + std::to_string(c.seq) + ",\"epoch\":";
    append_string(out, c.epoch);
    out += ",\"name\":";
    append_string(out, c.name);
    out += ",\"target\":";
    append_string(out, c.target);
    out += ",\"args\":";
    out += c.args_json.empty() ? std::string_view("{}") : std::string_view(c.args_json);
    out += ",\"issued_at_ms\":" + std::to_string(c.issued_at_ms);
    targets.clear();
    delivered.clear();
    acked.clear();
    std::string results;
    for (const Delivery& del : c.nodes) {
      targets.push_back(del.node_number);
      if (del.state == DeliveryState::kDelivered) {
        delivered.push_back(del.node_number);
      } else if (del.state == DeliveryState::kAcknowledged && del.result_message.empty()) {
        acked.push_back(del.node_number);
      } else if (is_final(del.state)) {
        if (!results.empty()) results += ',';
        results += '[' + std::to_string(del.node_number) + ',';
        results += del.state == DeliveryState::kAcknowledged ? "\"ok\"," : "\"error\",";
        append_string(results, del.result_message);
        results += ',' + std::to_string(del.acked_at_ms) + ']';
      }
    }
    out += ",\"t\":";
    append_ranges(out, targets);
    out += ",\"d\":";
    append_ranges(out, delivered);
    out += ",\"a\":";
    append_ranges(out, acked);
    out += ",\"r\":[" + results + "]}";
  });
  out += '}';
  return out;
}

// --- decoding ----------------------------------------------------------------

struct DecodeError {
  std::string what;
};

const Json& field(const Json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) throw DecodeError{std::string("missing field \"") + name + "\""};
  return *it;
}

std::uint64_t number_of(const Json& j, const char* what) {
  if (!j.is_number_unsigned()) {
    throw DecodeError{std::string(what) + " must be a non-negative integer"};
  }
  return j.get<std::uint64_t>();
}

std::int64_t time_of(const Json& j, const char* what) {
  if (!j.is_number_integer()) throw DecodeError{std::string(what) + " must be an integer"};
  return j.get<std::int64_t>();
}

std::string string_of(const Json& j, const char* what) {
  if (!j.is_string()) throw DecodeError{std::string(what) + " must be a string"};
  return j.get<std::string>();
}

const Json& array_of(const Json& j, const char* what, std::size_t size = 0) {
  if (!j.is_array() || (size != 0 && j.size() != size)) {
    throw DecodeError{std::string(what) + " must be an array" +
                      (size ? " of " + std::to_string(size) : std::string())};
  }
  return j;
}

Json parse_part(std::string_view value, std::string_view kind, const std::string& deployment) {
  Json j = Json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw DecodeError{"not a JSON object"};
  if (!j.contains("format") || j["format"] != 1) {
    throw DecodeError{"unknown format (this version reads format 1)"};
  }
  if (string_of(field(j, "kind"), "kind") != kind) {
    throw DecodeError{"kind is not \"" + std::string(kind) + "\""};
  }
  if (string_of(field(j, "deployment"), "deployment") != deployment) {
    throw DecodeError{"it belongs to another deployment"};
  }
  return j;
}

Ranges ranges_of(const Json& j, const char* what) {
  Ranges out;
  for (const Json& r : array_of(j, what)) {
    array_of(r, what, 2);
    const auto a = number_of(r[0], what), b = number_of(r[1], what);
    if (b < a) throw DecodeError{std::string(what) + " has a range that ends before it starts"};
    out.emplace_back(a, b);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Iterative (dump() recurses: a hostile nesting would exhaust the stack).
bool nested_deeper_than(const Json& j, std::size_t limit) {
  std::vector<std::pair<const Json*, std::size_t>> stack{{&j, 0}};
  while (!stack.empty()) {
    const auto [p, depth] = stack.back();
    stack.pop_back();
    if (depth > limit) return true;
    if (p->is_structured()) {
      for (const Json& child : *p) stack.emplace_back(&child, depth + 1);
    }
  }
  return false;
}

bool in(const Ranges& ranges, std::uint64_t n) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), std::make_pair(n, UINT64_MAX));
  return it != ranges.begin() && std::prev(it)->second >= n;
}

}  // namespace

namespace internal {

std::size_t registry_record_bytes(const NodeInfo& info) {
  std::string s;
  append_string(s, info.node_id);
  append_string(s, info.version);
  append_string(s, info.host);
  return s.size() + 2 * 20 + 8;  // two numbers, brackets and commas
}

}  // namespace internal

EncodedPart FleetStore::encode(std::string_view deployment, DurablePart part,
                               std::string_view writer_json) const {
  EncodedPart out;
  const Deployment* d = find(deployment);
  if (!d) return out;
  std::lock_guard lock(d->mutex);
  out.generation = d->parts[static_cast<std::size_t>(part)].changed;
  out.next_seq = d->next_seq;
  out.value = part == DurablePart::kNodes ? encode_nodes(*d, writer_json)
                                          : encode_commands(*d, writer_json);
  return out;
}

std::pair<std::uint64_t, std::uint64_t> FleetStore::generations(std::string_view deployment,
                                                                DurablePart part) const {
  const Deployment* d = find(deployment);
  if (!d) return {0, 0};
  std::lock_guard lock(d->mutex);
  const auto& g = d->parts[static_cast<std::size_t>(part)];
  return {g.changed, g.durable};
}

void FleetStore::mark_durable(std::string_view deployment, DurablePart part,
                              const EncodedPart& written) {
  Deployment* d = find(deployment);
  if (!d) return;
  std::lock_guard lock(d->mutex);
  auto& g = d->parts[static_cast<std::size_t>(part)];
  g.durable = std::max(g.durable, written.generation);
  if (part == DurablePart::kCommands) {
    d->durable_next_seq = std::max(d->durable_next_seq, written.next_seq);
  }
}

std::size_t FleetStore::drop_undurable(std::string_view deployment) {
  Deployment* d = find(deployment);
  if (!d) return 0;
  std::lock_guard lock(d->mutex);
  std::size_t dropped = 0;
  while (!d->commands.empty() && d->commands.back().seq >= d->durable_next_seq) {
    const Command& c = d->commands.back();
    for (const Delivery& del : c.nodes) {
      auto n = d->nodes.find(del.node);
      if (n == d->nodes.end()) continue;
      auto& open = n->second.open;
      open.erase(std::remove(open.begin(), open.end(), c.seq), open.end());
    }
    force(*d, -static_cast<std::int64_t>(internal::command_bytes(c)));
    d->commands.pop_back();
    ++dropped;
  }
  d->next_seq = std::max<std::uint64_t>(d->durable_next_seq, 1);
  return dropped;
}

bool FleetStore::durable_command(std::string_view deployment, std::uint64_t seq,
                                 std::string_view id) const {
  Deployment* d = find(deployment);
  if (!d) return false;
  std::lock_guard lock(d->mutex);
  const Command* c = d->command_by_seq(seq);
  return c && c->id == id && (!options_.durable || seq < d->durable_next_seq);
}

std::size_t FleetStore::trim_history(std::string_view deployment, std::size_t count) {
  Deployment* d = find(deployment);
  if (!d) return 0;
  const auto wall = clock_.wall_ms();
  std::lock_guard lock(d->mutex);
  std::size_t dropped = 0;
  while (dropped < count && !d->commands.empty() && d->commands.front().seq < d->durable_next_seq) {
    trim_front(*d, wall);
    ++dropped;
  }
  if (dropped > 0) d->changed(DurablePart::kCommands);
  return dropped;
}

std::int64_t FleetStore::data_since_ms(std::string_view deployment) const {
  const Deployment* d = find(deployment);
  if (!d) return 0;
  std::lock_guard lock(d->mutex);
  return d->data_since_ms;
}

std::string FleetStore::load(std::string_view deployment, std::string_view nodes_value,
                             std::string_view commands_value) {
  Deployment* d = find(deployment);
  if (!d) return "unknown deployment";
  const auto steady = clock_.steady();
  const auto wall = clock_.wall_ms();
  std::map<std::string, Node, std::less<>> nodes;
  std::deque<Command> commands;
  std::deque<TrimmedCommand> trimmed;
  std::uint64_t next_number = 1, next_seq = 1, trimmed_total = 0;
  std::string part = "nodes";
  try {
    std::unordered_map<std::uint64_t, std::string> names;  // number -> id, registry and gone
    if (!nodes_value.empty()) {
      const Json j = parse_part(nodes_value, "nodes", d->name);
      next_number = number_of(field(j, "next_number"), "next_number");
      for (const Json& r : array_of(field(j, "nodes"), "nodes")) {
        array_of(r, "a node", 5);
        Node n;
        n.number = number_of(r[0], "a node's number");
        n.info.node_id = string_of(r[1], "a node's id");
        n.info.version = string_of(r[2], "a node's version");
        n.info.host = string_of(r[3], "a node's host");
        n.registered_at_ms = time_of(r[4], "a node's registered_at_ms");
        if (n.number == 0 || n.number >= next_number) {
          throw DecodeError{"node " + n.info.node_id + " has a number outside 1..next_number"};
        }
        if (!names.emplace(n.number, n.info.node_id).second) {
          throw DecodeError{"two nodes have the number " + std::to_string(n.number)};
        }
        n.last_seen = steady;  // a grace of one stale_after to report again
        n.last_seen_ms = wall;
        n.charged = node_bytes(n.info);
        std::string id = n.info.node_id;
        if (!nodes.emplace(std::move(id), std::move(n)).second) {
          throw DecodeError{"a node id appears twice"};
        }
      }
    }
    part = "commands";
    if (!commands_value.empty()) {
      const Json j = parse_part(commands_value, "commands", d->name);
      next_seq = number_of(field(j, "next_seq"), "next_seq");
      trimmed_total = number_of(field(j, "trimmed_total"), "trimmed_total");
      for (const Json& r : array_of(field(j, "trimmed"), "trimmed")) {
        array_of(r, "a trimmed record", 7);
        trimmed.push_back(
            TrimmedCommand{string_of(r[0], "id"), number_of(r[1], "seq"), string_of(r[2], "epoch"),
                           string_of(r[3], "name"), time_of(r[4], "issued_at_ms"),
                           time_of(r[5], "trimmed_at_ms"), number_of(r[6], "open_nodes")});
      }
      if (field(j, "gone").size() > options_.max_nodes_per_deployment) {
        throw DecodeError{"it names more gone nodes than api.telemetry.max_nodes_per_deployment"};
      }
      for (const Json& g : array_of(field(j, "gone"), "gone")) {
        array_of(g, "a gone node", 2);
        names.emplace(number_of(g[0], "a gone node's number"), string_of(g[1], "a gone node's id"));
      }
      std::vector<std::pair<std::uint64_t, const std::string*>> known;  // by number
      known.reserve(names.size());
      for (const auto& [number, id] : names) known.emplace_back(number, &id);
      std::sort(known.begin(), known.end());
      const Json& list = array_of(field(j, "commands"), "commands");
      // The newest api.commands.history commands (it may have been lowered).
      const std::size_t skip =
          list.size() > options_.command_history ? list.size() - options_.command_history : 0;
      std::size_t index = 0;
      std::size_t loaded_bytes = 0;
      for (const Json& cj : list) {
        if (index++ < skip) continue;
        if (!cj.is_object()) throw DecodeError{"a command must be an object"};
        Command c;
        c.id = string_of(field(cj, "id"), "a command's id");
        c.seq = number_of(field(cj, "seq"), "a command's seq");
        c.epoch = string_of(field(cj, "epoch"), "a command's epoch");
        c.name = string_of(field(cj, "name"), "a command's name");
        c.target = string_of(field(cj, "target"), "a command's target");
        const Json& args = field(cj, "args");
        if (!args.is_object()) throw DecodeError{"a command's args must be an object"};
        if (nested_deeper_than(args, 64)) throw DecodeError{"a command's args nest too deep"};
        c.args_json = args.dump(-1, ' ', false, Json::error_handler_t::replace);
        c.issued_at_ms = time_of(field(cj, "issued_at_ms"), "a command's issued_at_ms");
        if (c.seq == 0 || c.seq >= next_seq ||
            (!commands.empty() && c.seq != commands.back().seq + 1)) {
          throw DecodeError{"command seqs must be consecutive and below next_seq"};
        }
        const Ranges t = ranges_of(field(cj, "t"), "t"), dl = ranges_of(field(cj, "d"), "d"),
                     a = ranges_of(field(cj, "a"), "a");
        std::unordered_map<std::uint64_t, const Json*> results;
        for (const Json& r : array_of(field(cj, "r"), "r")) {
          array_of(r, "a result", 4);
          results.emplace(number_of(r[0], "a result's node"), &r);
        }
        // Walks the known numbers, never the ranges: a hostile range like
        // [1, 2^63] costs nothing.
        for (const auto& [number, id] : known) {
          if (!in(t, number)) continue;
          Delivery del;
          del.node = *id;
          del.node_number = number;
          if (auto r = results.find(number); r != results.end()) {
            const Json& rj = *r->second;
            const std::string status = string_of(rj[1], "a result's status");
            if (status != "ok" && status != "error") {
              throw DecodeError{"a result's status must be \"ok\" or \"error\""};
            }
            del.state = status == "ok" ? DeliveryState::kAcknowledged : DeliveryState::kFailed;
            del.result_status = status;
            del.result_message = string_of(rj[2], "a result's message");
            del.acked_at_ms = time_of(rj[3], "a result's acked_at_ms");
          } else if (in(a, number)) {
            del.state = DeliveryState::kAcknowledged;
            del.result_status = "ok";
          } else if (in(dl, number)) {
            del.state = DeliveryState::kDelivered;
          }
          c.nodes.push_back(std::move(del));
        }
        std::sort(c.nodes.begin(), c.nodes.end(),
                  [](const Delivery& x, const Delivery& y) { return x.node < y.node; });
        // Bounded by the memory budget, as everything the store holds: a
        // hostile object (every command targeting every number) is refused.
        loaded_bytes += internal::command_bytes(c);
        if (loaded_bytes > options_.max_bytes_per_deployment) {
          throw DecodeError{"its commands need more than api.memory.max_bytes_per_deployment (" +
                            std::to_string(options_.max_bytes_per_deployment) + " bytes)"};
        }
        for (const Delivery& del : c.nodes) {
          if (is_final(del.state)) continue;
          auto n = nodes.find(del.node);
          if (n != nodes.end() && n->second.number == del.node_number) {
            n->second.open.push_back(c.seq);
          }
        }
        commands.push_back(std::move(c));
      }
    }
  } catch (const DecodeError& e) {
    return "the " + part + " object: " + e.what;
  } catch (const Json::exception& e) {
    return "the " + part + " object: " + e.what();
  }
  std::lock_guard lock(d->mutex);
  force(*d, -static_cast<std::int64_t>(d->used));
  std::size_t bytes = 0;
  for (const auto& [id, n] : nodes) bytes += n.charged;
  for (const Command& c : commands) bytes += internal::command_bytes(c);
  for (const TrimmedCommand& t : trimmed) bytes += internal::trimmed_bytes(t);
  force(*d, static_cast<std::int64_t>(bytes));  // loaded regardless: it was accepted once
  d->registry_bytes = 0;
  for (const auto& [id, n] : nodes) d->registry_bytes += internal::registry_record_bytes(n.info);
  d->nodes = std::move(nodes);
  d->commands = std::move(commands);
  d->trimmed = std::move(trimmed);
  d->trimmed_total = trimmed_total;
  d->next_seq = next_seq;
  d->next_number = std::max(next_number, d->next_number);
  d->durable_next_seq = next_seq;
  for (auto& g : d->parts) g.durable = g.changed;
  d->data_since_ms = wall;
  return {};
}

}  // namespace pgdc::fleet
