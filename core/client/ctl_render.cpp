#include "client/ctl_render.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "text/text.h"

namespace pgdc::client {

namespace {

using Json = nlohmann::json;

// The string at j[key], or `fallback` when j is no object or the field is
// absent or not a string. Server text is made one-line before printing.
std::string str(const Json& j, const char* key, const std::string& fallback = "") {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? text::one_line(it->get<std::string>()) : fallback;
}

bool has(const Json& j, const char* key) { return j.is_object() && j.contains(key); }

std::string yes_no(const Json& j, const char* key) {
  if (!has(j, key) || !j[key].is_boolean()) return "?";
  return j[key].get<bool>() ? "yes" : "no";
}

std::string number(const Json& j) {
  if (j.is_number_integer() || j.is_number_unsigned()) return j.dump();
  if (j.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", j.get<double>());
    return buf;
  }
  if (j.is_string()) return text::one_line(j.get<std::string>());
  return "?";
}

// {"scope": s, "term": t} -> "s/t" or "t" (as the daemon logs epochs); a
// string stays as it is.
std::string epoch(const Json& e) {
  if (e.is_string()) return text::one_line(e.get<std::string>());
  if (!e.is_object() || !e.contains("term")) return "?";
  const std::string scope = str(e, "scope");
  const std::string term = number(e["term"]);
  return scope.empty() ? term : scope + "/" + term;
}

void line(std::string& out, const std::string& key, const std::string& value) {
  std::string k = key + ":";
  k.resize(std::max<std::size_t>(k.size() + 1, 11), ' ');
  out += k + value + "\n";
}

std::string plugin_line(const Json& reply) {
  const Json& b = has(reply, "backend") ? reply["backend"] : Json();
  std::string p = str(b, "name", "?");
  const std::string v = str(b, "version");
  if (!v.empty()) p += " " + v;
  return p;
}

std::string lease_line(const Json& lease) {
  if (!lease.is_object()) return {};
  if (lease.contains("enabled") && lease["enabled"].is_boolean() && !lease["enabled"].get<bool>()) {
    return "leader election off (single replica)";
  }
  std::string l = str(lease, "namespace");
  const std::string name = str(lease, "name");
  l = l.empty() ? name : l + "/" + name;
  if (lease.contains("duration_secs")) l += ", duration " + number(lease["duration_secs"]) + "s";
  if (lease.contains("release_timeout_secs")) {
    l += ", release timeout " + number(lease["release_timeout_secs"]) + "s";
  }
  return l;
}

std::string state_line(const Json& s) {
  if (!s.is_object()) return "not reported";
  std::string out;
  const bool durable =
      s.contains("durable") && s["durable"].is_boolean() && s["durable"].get<bool>();
  const std::string backend = str(s, "backend");
  if (durable) {
    out = "durable";
    if (!backend.empty()) out += " (" + backend + ")";
    const std::string term = str(s, "loaded_term");
    out += term.empty() ? ", nothing loaded" : ", loaded term " + term;
    if (s.contains("fenced") && s["fenced"].is_boolean() && s["fenced"].get<bool>()) {
      out += ", FENCED (another term wrote)";
    }
  } else {
    // backend then says why there is none, e.g. "none (memory only)".
    out = "memory only: lost at a restart or when leadership moves";
    if (!backend.empty() && backend.rfind("none", 0) != 0) out += " (" + backend + ")";
  }
  const std::string err = str(s, "last_error");
  if (!err.empty()) out += "; last error: " + err;
  return out;
}

// Left-aligned columns, two spaces apart; the last column is not padded.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (std::size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string l;
    for (std::size_t c = 0; c < r.size(); ++c) {
      l += r[c];
      if (c + 1 < r.size()) l += std::string(width[c] - r[c].size() + 2, ' ');
    }
    out += l + "\n";
  }
  return out;
}

}  // namespace

std::string heartbeat_age(long long ms) {
  if (ms < 0) return "unknown";
  char buf[48];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", ms);
  } else if (ms < 60'000) {
    std::snprintf(buf, sizeof buf, "%lld.%llds", ms / 1000, (ms % 1000) / 100);
  } else if (ms < 3'600'000) {
    std::snprintf(buf, sizeof buf, "%lldm%llds", ms / 60'000, (ms % 60'000) / 1000);
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%lldm", ms / 3'600'000, (ms % 3'600'000) / 60'000);
  }
  return buf;
}

Rendered render_status(const Json& reply) {
  if (!reply.is_object() || !reply.contains("role") || !reply["role"].is_string()) {
    return {{}, "the reply is not a status: it has no \"role\""};
  }
  std::string out;
  line(out, "identity", str(reply, "identity", "?"));
  std::string role = str(reply, "role");
  if (has(reply, "shutting_down") && reply["shutting_down"].is_boolean() &&
      reply["shutting_down"].get<bool>()) {
    role += " (shutting down)";
  }
  line(out, "role", role);
  line(out, "ready", yes_no(reply, "ready"));
  const std::string holder = str(reply, "holder");
  const std::string address = str(reply, "holder_address");
  line(out, "leader",
       holder.empty()    ? "none known"
       : address.empty() ? holder
                         : holder + " at " + address);
  if (has(reply, "epoch")) line(out, "epoch", epoch(reply["epoch"]));
  const std::string version = str(reply, "version");
  if (!version.empty()) line(out, "version", version);
  line(out, "plugin", plugin_line(reply));
  if (has(reply, "lease")) {
    const std::string l = lease_line(reply["lease"]);
    if (!l.empty()) line(out, "lease", l);
  }
  line(out, "state", state_line(has(reply, "state") ? reply["state"] : Json()));
  return {out, {}};
}

Rendered render_members(const Json& reply) {
  if (!reply.is_object() || !reply.contains("members") || !reply["members"].is_array()) {
    return {{}, "the reply is not a member list: it has no \"members\" array"};
  }
  std::vector<std::vector<std::string>> rows{
      {"IDENTITY", "ROLE", "ADDRESS", "VERSION", "ELIGIBLE", "HEARTBEAT"}};
  std::size_t stale = 0;
  bool marked_self = false;
  for (const Json& m : reply["members"]) {
    if (!m.is_object() || !m.contains("identity") || !m["identity"].is_string()) {
      return {{}, "a member in the reply has no \"identity\""};
    }
    const bool is_self = m.contains("self") && m["self"].is_boolean() && m["self"].get<bool>();
    const bool is_stale = m.contains("stale") && m["stale"].is_boolean() && m["stale"].get<bool>();
    marked_self = marked_self || is_self;
    stale += is_stale ? 1 : 0;
    long long age = -1;
    if (m.contains("heartbeat_age_ms") && m["heartbeat_age_ms"].is_number()) {
      age = m["heartbeat_age_ms"].get<long long>();
    }
    std::string hb = heartbeat_age(age);
    if (is_stale) hb += " STALE";
    rows.push_back({str(m, "identity") + (is_self ? " *" : ""), str(m, "role", "?"),
                    str(m, "address", "-"), str(m, "version", "?"), yes_no(m, "eligible"), hb});
  }
  std::string out = table(rows);
  if (reply["members"].empty()) out += "(no members listed)\n";
  const std::string leader = str(reply, "leader");
  out += "\nleader: " + (leader.empty() ? std::string("none known") : leader);
  if (marked_self) out += "; * marks the replica that answered (" + str(reply, "self") + ")";
  out += "\n";
  if (stale > 0) {
    out += std::to_string(stale) + (stale == 1 ? " member is" : " members are") +
           " STALE: no heartbeat within the backend's TTL (stopped, partitioned or hung); a "
           "stale member is never chosen for a switchover\n";
  }
  const auto off = [&](const char* key) {
    return reply.contains(key) && reply[key].is_boolean() && !reply[key].get<bool>();
  };
  if (off("members_supported")) {
    out +=
        "the coordination plugin does not list members: only the replica that answered is "
        "shown\n";
  }
  if (off("switchover_supported")) {
    out += "the coordination plugin cannot hand leadership over: no switchover\n";
  }
  return {out, {}};
}

Rendered render_switchover(const Json& reply) {
  const std::string from = str(reply, "from");
  const std::string to = str(reply, "to");
  if (from.empty() || to.empty()) {
    return {{}, "the reply is not a switchover result: it lacks \"from\" or \"to\""};
  }
  std::string out = "switched over from " + from + " to " + to;
  const std::string e = has(reply, "epoch") ? epoch(reply["epoch"]) : "";
  if (!e.empty() && e != "?") out += " (the old leader's epoch was " + e + ")";
  return {out + "\n", {}};
}

std::string describe_error(int status, const std::string& body) {
  std::string out = "HTTP " + std::to_string(status);
  const Json j = Json::parse(body, nullptr, false);
  const std::string code = str(j, "error");
  const std::string message = str(j, "message");
  if (!code.empty() || !message.empty()) {
    if (!code.empty()) out += " " + code;
    if (!message.empty()) out += ": " + message;
    return out;
  }
  std::string first(text::trim(body));
  first = first.substr(0, std::min(first.find('\n'), std::size_t{200}));
  if (!first.empty()) out += ": " + text::one_line(first);
  return out;
}

}  // namespace pgdc::client
