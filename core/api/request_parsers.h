// Request parsers of the machine and web APIs: pure functions from a body (or
// query string) to a request struct, or to the specific error the client gets.
//
// No I/O, no global state, no exceptions out: safe to fuzz (tests/fuzz) and to
// call on the I/O thread. Every rejection names the field, the value's
// problem and the rule, e.g. "clients: expected an integer from 0 to
// 4294967295, got -1". Limits come from api.telemetry (see docs/api.md):
//  - a body over max_upload_bytes, or more than max_entries array entries: 413;
//  - anything else wrong (malformed JSON, nesting deeper than 32, unknown or
//    missing fields, wrong types, out-of-range numbers, strings over their
//    limit): 400.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "fleet/fleet_types.h"

namespace pgdc::api {

struct Limits {
  std::size_t max_entries = 1000;
  std::size_t max_upload_bytes = 256 * 1024;
  std::size_t max_string_bytes = 4096;
  std::int64_t max_wait_ms = 30000;
  std::int64_t default_wait_ms = 25000;
};

// The largest body of a request that is not an upload (register, metrics,
// ack, a web command): room for its fixed fields and a command's args, plus
// three strings at their longest with every byte \u-escaped (6 bytes each);
// never above max_upload_bytes. The server refuses a larger one (413)
// before reading it.
std::size_t small_body_bytes(const Limits& limits);

struct ParseError {
  int status = 400;                  // 400 or 413
  std::string code = "bad_request";  // or "payload_too_large"
  std::string message;
};

template <typename T>
using Parsed = std::variant<T, ParseError>;

// POST /api/v2/register
struct RegisterRequest {
  std::string node_id;
  std::string version;
  std::string host;
};
Parsed<RegisterRequest> parse_register(std::string_view body, const Limits& limits);

// POST /api/v2/metrics
struct MetricsRequest {
  std::string node_id;
  fleet::MetricSample sample;
};
Parsed<MetricsRequest> parse_metrics(std::string_view body, const Limits& limits);

// POST /api/v2/query_stats | active_queries | errors:
//   {"node_id": "...", "<kind>": [ {flat object}, ... ]}
struct UploadRequest {
  std::string node_id;
  std::string entries_json;  // compact JSON array, re-serialized
  std::size_t count = 0;
};
Parsed<UploadRequest> parse_upload(std::string_view body, fleet::UploadKind kind,
                                   const Limits& limits);

// POST /api/v2/commands/{id}/ack
struct AckRequest {
  std::string node_id;
  bool ok = true;
  std::string message;
};
Parsed<AckRequest> parse_ack(std::string_view body, const Limits& limits);

// POST /api/web/deployments/{dep}/commands
struct IssueRequest {
  std::string name;
  std::string target = "*";
  nlohmann::json args = nlohmann::json::object();
};
Parsed<IssueRequest> parse_issue(std::string_view body, const Limits& limits);

// POST /api/web/leadership/switchover: {} or {"to": "<identity>"}; an
// empty body counts as {}.
struct SwitchoverRequest {
  std::optional<std::string> to;
};
Parsed<SwitchoverRequest> parse_switchover(std::string_view body, const Limits& limits);

// GET /api/v2/commands?node_id=..&after_seq=..&wait_ms=..&epoch=..
struct PollQuery {
  std::string node_id;
  std::uint64_t after_seq = 0;
  std::int64_t wait_ms = 0;  // clamped to max_wait_ms; default default_wait_ms
  std::string epoch;         // the last epoch the node saw; may be empty
};
Parsed<PollQuery> parse_poll_query(std::string_view query, const Limits& limits);

// ?since_ms=<int> (series) and ?limit=<1..1000> (command list).
Parsed<std::int64_t> parse_since_query(std::string_view query);
Parsed<std::size_t> parse_limit_query(std::string_view query, std::size_t fallback);

// Empty when `id` is a usable node id: 1-253 bytes of [A-Za-z0-9._:-].
std::string node_id_problem(std::string_view id);

// One query parameter, percent-decoded ('+' is a space). nullopt when absent;
// a ParseError for a bad escape or a repeated parameter.
Parsed<std::optional<std::string>> query_param(std::string_view query, std::string_view name);

// Decodes %XX escapes of a path segment; nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space = false);

}  // namespace pgdc::api
