#include "api/request_parsers.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>

namespace pgdc::api {
namespace {

using Json = nlohmann::json;

constexpr int kMaxDepth = 32;
constexpr std::size_t kMaxEntryKeys = 32;
constexpr std::size_t kMaxKeyBytes = 64;
constexpr std::size_t kMaxArgsBytes = 16 * 1024;

// Thrown inside this file only; every entry point catches it.
struct Reject {
  ParseError error;
};

[[noreturn]] void bad(std::string message) {
  throw Reject{{400, "bad_request", std::move(message)}};
}
[[noreturn]] void too_large(std::string message) {
  throw Reject{{413, "payload_too_large", std::move(message)}};
}

// A value for messages: short, never the whole input.
std::string shown(const Json& v) {
  std::string text = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 40) + "...";
  return text;
}

std::string quote_text(std::string_view text) {
  std::string t(text.substr(0, 40));
  return Json(t).dump(-1, ' ', false, Json::error_handler_t::replace) +
         (text.size() > 40 ? "..." : "");
}

std::string type_name(const Json& v) {
  if (v.is_number_integer() || v.is_number_unsigned()) return "an integer";
  if (v.is_number_float()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_null()) return "null";
  if (v.is_array()) return "an array";
  return "an object";
}

// Nesting deeper than kMaxDepth is refused before the parser sees it.
void check_depth(std::string_view body) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) {
        bad("JSON nested deeper than " + std::to_string(kMaxDepth) + " levels");
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

Json parse_object(std::string_view body, std::size_t max_bytes) {
  if (body.size() > max_bytes) {
    too_large("request body of " + std::to_string(body.size()) + " bytes is over the limit of " +
              std::to_string(max_bytes) + " bytes");
  }
  if (body.empty()) bad("empty body; expected a JSON object");
  check_depth(body);
  Json j;
  try {
    j = Json::parse(body);
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    const auto at = what.find("] ");
    bad("malformed JSON: " + (at == std::string::npos ? what : what.substr(at + 2)));
  }
  if (!j.is_object()) bad("expected a JSON object, got " + type_name(j));
  return j;
}

void only_fields(const Json& j, std::initializer_list<std::string_view> allowed) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (std::string_view a : allowed) known = known || it.key() == a;
    if (known) continue;
    std::string list;
    for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    bad("unknown field " + quote_text(it.key()) + " (expected: " + list + ")");
  }
}

const Json* field(const Json& j, const char* name, bool required) {
  auto it = j.find(name);
  if (it == j.end()) {
    if (required) bad(std::string(name) + ": missing (required)");
    return nullptr;
  }
  return &*it;
}

std::string string_field(const Json& j, const char* name, bool required, std::size_t max_bytes,
                         bool allow_empty = true) {
  const Json* v = field(j, name, required);
  if (!v) return {};
  if (!v->is_string()) bad(std::string(name) + ": expected a string, got " + type_name(*v));
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() > max_bytes) {
    bad(std::string(name) + ": " + std::to_string(s.size()) + " bytes is over the limit of " +
        std::to_string(max_bytes));
  }
  if (!allow_empty && s.empty()) bad(std::string(name) + ": must not be empty");
  return s;
}

std::string node_id_field(const Json& j) {
  const Json* v = field(j, "node_id", true);
  if (!v->is_string()) bad("node_id: expected a string, got " + type_name(*v));
  const auto& s = v->get_ref<const std::string&>();
  if (std::string problem = node_id_problem(s); !problem.empty()) bad("node_id: " + problem);
  return s;
}

std::uint64_t integer_field(const Json& j, const char* name, std::uint64_t max) {
  const Json* v = field(j, name, true);
  const std::string rule = "expected an integer from 0 to " + std::to_string(max);
  if (v->is_number_unsigned()) {
    const auto n = v->get<std::uint64_t>();
    if (n <= max) return n;
  } else if (v->is_number_integer()) {
    const auto n = v->get<std::int64_t>();
    if (n >= 0 && static_cast<std::uint64_t>(n) <= max) return static_cast<std::uint64_t>(n);
  } else if (v->is_number_float()) {
    const double d = v->get<double>();
    if (d >= 0 && d <= static_cast<double>(max) && std::floor(d) == d) {
      return static_cast<std::uint64_t>(d);
    }
  }
  bad(std::string(name) + ": " + rule + ", got " + shown(*v));
}

double number_field(const Json& j, const char* name, double max) {
  const Json* v = field(j, name, true);
  if (v->is_number()) {
    const double d = v->get<double>();
    if (std::isfinite(d) && d >= 0 && d <= max) return d;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", max);
  bad(std::string(name) + ": expected a number from 0 to " + buf + ", got " + shown(*v));
}

// One flat telemetry entry: an object of at most kMaxEntryKeys scalar fields.
void check_entry(const Json& e, std::size_t index, std::string_view kind, const char* required,
                 const Limits& limits) {
  const std::string at = std::string(kind) + "[" + std::to_string(index) + "]";
  if (!e.is_object()) bad(at + ": expected an object, got " + type_name(e));
  if (e.size() > kMaxEntryKeys) {
    bad(at + ": " + std::to_string(e.size()) + " fields is over the limit of " +
        std::to_string(kMaxEntryKeys));
  }
  for (auto it = e.begin(); it != e.end(); ++it) {
    if (it.key().size() > kMaxKeyBytes || it.key().empty()) {
      bad(at + ": field names must be 1 to " + std::to_string(kMaxKeyBytes) + " bytes");
    }
    const Json& v = *it;
    const std::string where = at + "." + it.key();
    if (v.is_string()) {
      if (v.get_ref<const std::string&>().size() > limits.max_string_bytes) {
        bad(where + ": " + std::to_string(v.get_ref<const std::string&>().size()) +
            " bytes is over the limit of " + std::to_string(limits.max_string_bytes));
      }
    } else if (v.is_number_float()) {
      if (!std::isfinite(v.get<double>())) bad(where + ": expected a finite number");
    } else if (!v.is_number() && !v.is_boolean() && !v.is_null()) {
      bad(where + ": expected a string, number, boolean or null, got " + type_name(v));
    }
  }
  auto it = e.find(required);
  if (it == e.end() || !it->is_string()) {
    bad(at + "." + required + ": missing or not a string (required)");
  }
}

template <typename T, typename F>
Parsed<T> guarded(F f) {
  try {
    return f();
  } catch (const Reject& r) {
    return r.error;
  } catch (const std::exception& e) {
    return ParseError{400, "bad_request", std::string("invalid request: ") + e.what()};
  }
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Digits only, below 2^63.
std::optional<std::int64_t> parse_nonnegative(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

std::size_t small_body_bytes(const Limits& limits) {
  constexpr std::size_t kFixed = 32 * 1024;  // field names, numbers, args (16 KiB)
  return std::min(limits.max_upload_bytes, kFixed + 3 * 6 * limits.max_string_bytes);
}

std::string node_id_problem(std::string_view id) {
  if (id.empty()) return "must not be empty";
  if (id.size() > 253) return std::to_string(id.size()) + " bytes is over the limit of 253";
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-' || c == ':';
    if (!ok) return "may contain only letters, digits, '.', '_', ':' and '-'";
  }
  return {};
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex(text[i + 1]);
      const int lo = hex(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

Parsed<std::optional<std::string>> query_param(std::string_view query, std::string_view name) {
  std::optional<std::string> found;
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view pair = query.substr(start, end - start);
    const std::size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    if (key == name) {
      if (found) {
        return ParseError{400, "bad_request",
                          "query parameter " + std::string(name) + " is given more than once"};
      }
      auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
      if (!value) {
        return ParseError{400, "bad_request",
                          "query parameter " + std::string(name) + " has a bad %-escape"};
      }
      found = std::move(*value);
    }
    start = end + 1;
  }
  return found;
}

Parsed<RegisterRequest> parse_register(std::string_view body, const Limits& limits) {
  return guarded<RegisterRequest>([&] {
    const Json j = parse_object(body, limits.max_upload_bytes);
    only_fields(j, {"node_id", "version", "host"});
    RegisterRequest r;
    r.node_id = node_id_field(j);
    r.version = string_field(j, "version", true, 128);
    r.host = string_field(j, "host", true, 253);
    return r;
  });
}

Parsed<MetricsRequest> parse_metrics(std::string_view body, const Limits& limits) {
  return guarded<MetricsRequest>([&] {
    const Json j = parse_object(body, limits.max_upload_bytes);
    only_fields(j, {"node_id", "clients", "servers", "pools", "qps", "tps", "cpu", "memory_bytes"});
    MetricsRequest r;
    r.node_id = node_id_field(j);
    constexpr std::uint64_t kU32 = std::numeric_limits<std::uint32_t>::max();
    r.sample.clients = static_cast<std::uint32_t>(integer_field(j, "clients", kU32));
    r.sample.servers = static_cast<std::uint32_t>(integer_field(j, "servers", kU32));
    r.sample.pools = static_cast<std::uint32_t>(integer_field(j, "pools", kU32));
    r.sample.qps = number_field(j, "qps", 1e12);
    r.sample.tps = number_field(j, "tps", 1e12);
    r.sample.cpu = number_field(j, "cpu", 1e6);
    r.sample.memory_bytes =
        integer_field(j, "memory_bytes", std::numeric_limits<std::int64_t>::max());
    return r;
  });
}

Parsed<UploadRequest> parse_upload(std::string_view body, fleet::UploadKind kind,
                                   const Limits& limits) {
  return guarded<UploadRequest>([&] {
    const Json j = parse_object(body, limits.max_upload_bytes);
    const std::string key(fleet::upload_kind_name(kind));
    only_fields(j, {"node_id", key});
    UploadRequest r;
    r.node_id = node_id_field(j);
    const Json* list = field(j, key.c_str(), true);
    if (!list->is_array()) bad(key + ": expected an array, got " + type_name(*list));
    if (list->size() > limits.max_entries) {
      too_large(key + ": " + std::to_string(list->size()) + " entries is over the limit of " +
                std::to_string(limits.max_entries));
    }
    const char* required = kind == fleet::UploadKind::kErrors ? "message" : "query";
    for (std::size_t i = 0; i < list->size(); ++i) {
      check_entry((*list)[i], i, key, required, limits);
    }
    r.count = list->size();
    r.entries_json = list->dump(-1, ' ', false, Json::error_handler_t::replace);
    return r;
  });
}

Parsed<AckRequest> parse_ack(std::string_view body, const Limits& limits) {
  return guarded<AckRequest>([&] {
    const Json j = parse_object(body, limits.max_upload_bytes);
    only_fields(j, {"node_id", "status", "message"});
    AckRequest r;
    r.node_id = node_id_field(j);
    const std::string status = string_field(j, "status", true, 16);
    if (status != "ok" && status != "error") {
      bad("status: expected \"ok\" or \"error\", got " + quote_text(status));
    }
    r.ok = status == "ok";
    r.message = string_field(j, "message", false, limits.max_string_bytes);
    return r;
  });
}

Parsed<IssueRequest> parse_issue(std::string_view body, const Limits& limits) {
  return guarded<IssueRequest>([&] {
    const Json j = parse_object(body, limits.max_upload_bytes);
    only_fields(j, {"name", "target", "args"});
    IssueRequest r;
    r.name = string_field(j, "name", true, 64, false);
    if (const Json* t = field(j, "target", false)) {
      if (!t->is_string())
        bad("target: expected a string (a node id or \"*\"), got " + type_name(*t));
      r.target = t->get<std::string>();
      if (r.target != "*") {
        if (std::string problem = node_id_problem(r.target); !problem.empty()) {
          bad("target: expected a node id or \"*\": " + problem);
        }
      }
    }
    if (const Json* a = field(j, "args", false)) {
      if (a->is_null()) {
        r.args = Json::object();
      } else if (!a->is_object()) {
        bad("args: expected an object, got " + type_name(*a));
      } else {
        if (a->dump().size() > kMaxArgsBytes) {
          too_large("args: over the limit of " + std::to_string(kMaxArgsBytes) + " bytes");
        }
        r.args = *a;
      }
    }
    return r;
  });
}

Parsed<SwitchoverRequest> parse_switchover(std::string_view body, const Limits& limits) {
  return guarded<SwitchoverRequest>([&] {
    SwitchoverRequest r;
    if (body.empty()) return r;
    const Json j = parse_object(body, small_body_bytes(limits));
    only_fields(j, {"to"});
    if (field(j, "to", false)) r.to = string_field(j, "to", false, 253, false);
    return r;
  });
}

Parsed<PollQuery> parse_poll_query(std::string_view query, const Limits& limits) {
  return guarded<PollQuery>([&] {
    auto param = [&](std::string_view name) {
      auto p = query_param(query, name);
      if (auto* e = std::get_if<ParseError>(&p)) throw Reject{*e};
      return std::get<std::optional<std::string>>(std::move(p));
    };
    PollQuery q;
    auto node = param("node_id");
    if (!node) bad("node_id: missing query parameter (required)");
    if (std::string problem = node_id_problem(*node); !problem.empty()) bad("node_id: " + problem);
    q.node_id = std::move(*node);
    if (auto after = param("after_seq")) {
      auto v = parse_nonnegative(*after);
      if (!v) bad("after_seq: expected a non-negative integer, got " + quote_text(*after));
      q.after_seq = static_cast<std::uint64_t>(*v);
    }
    q.wait_ms = limits.default_wait_ms;
    if (auto wait = param("wait_ms")) {
      auto v = parse_nonnegative(*wait);
      if (!v) bad("wait_ms: expected a non-negative integer, got " + quote_text(*wait));
      q.wait_ms = std::min(*v, limits.max_wait_ms);
    }
    if (auto epoch = param("epoch")) {
      if (epoch->size() > 256) bad("epoch: over the limit of 256 bytes");
      q.epoch = std::move(*epoch);
    }
    return q;
  });
}

Parsed<std::int64_t> parse_since_query(std::string_view query) {
  return guarded<std::int64_t>([&]() -> std::int64_t {
    auto p = query_param(query, "since_ms");
    if (auto* e = std::get_if<ParseError>(&p)) throw Reject{*e};
    auto v = std::get<std::optional<std::string>>(p);
    if (!v) return 0;
    auto n = parse_nonnegative(*v);
    if (!n) bad("since_ms: expected a non-negative integer, got " + quote_text(*v));
    return *n;
  });
}

Parsed<std::size_t> parse_limit_query(std::string_view query, std::size_t fallback) {
  return guarded<std::size_t>([&]() -> std::size_t {
    auto p = query_param(query, "limit");
    if (auto* e = std::get_if<ParseError>(&p)) throw Reject{*e};
    auto v = std::get<std::optional<std::string>>(p);
    if (!v) return fallback;
    auto n = parse_nonnegative(*v);
    if (!n || *n < 1 || *n > 1000)
      bad("limit: expected an integer from 1 to 1000, got " + quote_text(*v));
    return static_cast<std::size_t>(*n);
  });
}

}  // namespace pgdc::api
