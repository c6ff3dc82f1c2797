#include "fakes.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <sstream>

namespace pgdc::kube {

void PrintTo(const LeaseSpec& s, std::ostream* os) {
  *os << "{holder \"" << s.holder << "\", duration " << s.duration_secs << "s, acquire "
      << (s.acquire_time ? format_micro_time(*s.acquire_time) : "-") << ", renew "
      << (s.renew_time ? format_micro_time(*s.renew_time) : "-") << ", transitions "
      << s.transitions << "}";
}

void PrintTo(const ElectorState& s, std::ostream* os) {
  *os << "{leading " << s.leading << ", holder \"" << s.holder << "\", uid " << s.uid << ", epoch "
      << s.epoch << ", valid_until " << s.valid_until.time_since_epoch().count() << "ns}";
}

}  // namespace pgdc::kube

namespace pgdc::kube::testing {
namespace {

std::string verb_of(const std::string& method) {
  if (method == "GET") return "get";
  if (method == "POST") return "create";
  if (method == "PUT") return "update";
  if (method == "DELETE") return "delete";
  if (method == "PATCH") return "patch";
  return "unknown";
}

std::string reason_of(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 409:
      return "Conflict";
    case 410:
      return "Expired";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "";
  }
}

std::string message_of(int code) {
  switch (code) {
    case 401:
      return "Unauthorized";
    case 429:
      return "Too many requests, please try again later.";
    case 500:
      return "Internal error occurred: etcdserver: request timed out";
    case 503:
      return "the server is currently unable to handle the request";
    case 504:
      return "Timeout: request did not complete within requested timeout - context deadline "
             "exceeded";
    default:
      return "HTTP " + std::to_string(code);
  }
}

// Splits "/apis/coordination.k8s.io/v1/namespaces/<ns>/leases[/<name>][?query]".
struct ParsedPath {
  bool ok = false;
  std::string ns, name, query;
};

ParsedPath parse_path(const std::string& full) {
  ParsedPath p;
  const std::string prefix = "/apis/coordination.k8s.io/v1/namespaces/";
  std::string path = full;
  if (const auto q = path.find('?'); q != std::string::npos) {
    p.query = path.substr(q + 1);
    path.resize(q);
  }
  if (path.rfind(prefix, 0) != 0) return p;
  std::string rest = path.substr(prefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string::npos) return p;
  p.ns = rest.substr(0, slash);
  rest = rest.substr(slash + 1);
  if (rest == "leases") {
    p.ok = true;
    return p;
  }
  if (rest.rfind("leases/", 0) != 0) return p;
  p.name = rest.substr(7);
  p.ok = !p.name.empty() && p.name.find('/') == std::string::npos;
  return p;
}

std::string query_param(const std::string& query, const std::string& key) {
  std::istringstream in(query);
  std::string part;
  while (std::getline(in, part, '&')) {
    const auto eq = part.find('=');
    if (eq != std::string::npos && part.substr(0, eq) == key) return part.substr(eq + 1);
  }
  return {};
}

json details_for(const std::string& name, const char* kind = "leases") {
  return json{{"name", name}, {"group", "coordination.k8s.io"}, {"kind", kind}};
}

ApiResponse response(int status, std::string body) {
  ApiResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

json without_rv(json o) {
  if (o.contains("metadata") && o["metadata"].is_object()) o["metadata"].erase("resourceVersion");
  return o;
}

}  // namespace

WallTime default_wall_origin() {
  // 2026-07-24T14:05:30Z is 1784901930 s after the epoch.
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::seconds(1784901930) +
                                                                 Nanos(123456789)));
}

// ---------------------------------------------------------------- FakeClock

Nanos FakeClock::scaled(Nanos d) const {
  if (options_.rate == 1.0) return d;
  return Nanos(std::llround(static_cast<double>(d.count()) * options_.rate));
}

LeaseTime FakeClock::steady() {
  return options_.steady_origin + scaled(timeline_.now()) + steady_jump_;
}

WallTime FakeClock::wall() {
  if (frozen_wall_) return *frozen_wall_;
  return options_.wall_origin +
         std::chrono::duration_cast<WallTime::duration>(scaled(timeline_.now()) + wall_jump_);
}

void FakeClock::freeze_wall(bool frozen) {
  if (frozen && !frozen_wall_) {
    frozen_wall_ = wall();
  } else if (!frozen && frozen_wall_) {
    // Goes on from where it stopped: the time it stood still is lost.
    const WallTime stopped_at = *frozen_wall_;
    frozen_wall_.reset();
    wall_jump_ += std::chrono::duration_cast<Nanos>(stopped_at - wall());
  }
}

Nanos FakeClock::timeline_of(LeaseTime t) const {
  const Nanos d = t - options_.steady_origin - steady_jump_;
  if (d <= Nanos::zero()) return Nanos::zero();
  if (options_.rate == 1.0) return d;
  auto x =
      Nanos(static_cast<std::int64_t>(std::ceil(static_cast<double>(d.count()) / options_.rate)));
  while (scaled(x) < d) x += Nanos(1);
  while (x > Nanos::zero() && scaled(x - Nanos(1)) >= d) x -= Nanos(1);
  return x;
}

void FakeClock::sleep_until(LeaseTime t) {
  ++sleep_calls_;
  timeline_.advance_to(timeline_of(t));
}

// ---------------------------------------------------------------- Faults

Fault Fault::http(int status, std::optional<std::chrono::seconds> retry_after) {
  Fault f;
  f.kind = Kind::kStatus;
  f.status = status;
  f.retry_after = retry_after;
  return f;
}

Fault Fault::refused() {
  Fault f;
  f.kind = Kind::kRefused;
  return f;
}

Fault Fault::hang() {
  Fault f;
  f.kind = Kind::kHang;
  return f;
}

Fault Fault::slow(Nanos delay) {
  Fault f;
  f.kind = Kind::kDelay;
  f.delay = delay;
  return f;
}

Fault Fault::respond(int status, std::string body) {
  Fault f;
  f.kind = Kind::kRespond;
  f.status = status;
  f.body = std::move(body);
  return f;
}

Fault Fault::lose_response() {
  Fault f;
  f.kind = Kind::kLoseResponse;
  return f;
}

Fault Fault::duplicate() {
  Fault f;
  f.kind = Kind::kDuplicate;
  return f;
}

void Faults::next(int n, const Fault& f) {
  for (int i = 0; i < n; ++i) queue_.push_back(f);
}

void Faults::during(Nanos from, Nanos until, const Fault& f) {
  windows_.push_back(Window{from, until, f});
}

void Faults::clear() {
  queue_.clear();
  windows_.clear();
}

std::optional<Fault> Faults::take(const ApiRequest& r, Nanos now) {
  for (const auto& w : windows_) {
    if (now >= w.from && now < w.until && (w.fault.method.empty() || w.fault.method == r.method)) {
      return w.fault;
    }
  }
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->method.empty() || it->method == r.method) {
      Fault f = *it;
      queue_.erase(it);
      return f;
    }
  }
  return std::nullopt;
}

std::string status_body(int code, std::string_view reason, std::string_view message,
                        const json& details) {
  json j{{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
         {"status", "Failure"}, {"message", message}, {"reason", reason},
         {"code", code}};
  if (!details.is_null()) j["details"] = details;
  return j.dump();
}

ApiResponse apply_fault(const Fault& f, const ApiRequest& r, const std::function<void(Nanos)>& pass,
                        const std::function<ApiResponse()>& serve) {
  ApiResponse out;
  switch (f.kind) {
    case Fault::Kind::kStatus: {
      out.status = f.status;
      json details = nullptr;
      if (f.retry_after) details = json{{"retryAfterSeconds", f.retry_after->count()}};
      out.body = !f.body.empty()
                     ? f.body
                     : status_body(f.status, reason_of(f.status), message_of(f.status), details);
      out.retry_after = f.retry_after;
      return out;
    }
    case Fault::Kind::kRefused:
      out.transport_error = "connect to 10.96.0.1:443: Connection refused";
      return out;
    case Fault::Kind::kHang:
      pass(r.timeout);
      out.timed_out = true;
      out.transport_error = "no response after " + std::to_string(r.timeout.count()) + "ms";
      return out;
    case Fault::Kind::kDelay:
      if (f.delay >= r.timeout) {
        pass(r.timeout);
        out.timed_out = true;
        out.transport_error = "no response after " + std::to_string(r.timeout.count()) + "ms";
        return out;
      }
      pass(f.delay);
      return serve();
    case Fault::Kind::kRespond:
      out.status = f.status;
      out.body = f.body;
      return out;
    case Fault::Kind::kLoseResponse:
      serve();
      pass(r.timeout);
      out.timed_out = true;
      out.transport_error = "no response after " + std::to_string(r.timeout.count()) + "ms";
      return out;
    case Fault::Kind::kDuplicate:
      serve();
      return serve();
  }
  return out;
}

// ---------------------------------------------------------------- FakeApiServer

FakeApiServer::FakeApiServer(Timeline& timeline, std::string ns)
    : timeline_(timeline), ns_(std::move(ns)) {}

std::string FakeApiServer::new_uid() {
  char buf[64];
  ++uids_;
  std::snprintf(buf, sizeof buf, "%08x-7d2c-4e0b-9b1a-%012llx",
                0x5eed0000u + static_cast<unsigned>(uids_),
                0xa11ce0000ULL + static_cast<unsigned long long>(uids_));
  return buf;
}

std::string FakeApiServer::now_timestamp() const {
  // The API server's own wall clock: RFC 3339, whole seconds.
  const auto wall =
      default_wall_origin() + std::chrono::duration_cast<WallTime::duration>(timeline_.now());
  const std::time_t tt = std::chrono::system_clock::to_time_t(wall);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void FakeApiServer::record(const std::string& type, const json& object) {
  events_.push_back(Event{rv_, type, object});
}

ApiResponse FakeApiServer::handle(const ApiRequest& request) {
  return handle(request, [this](Nanos d) { timeline_.advance(d); });
}

ApiResponse FakeApiServer::handle(const ApiRequest& request,
                                  const std::function<void(Nanos)>& pass) {
  if (auto f = faults_.take(request, timeline_.now())) {
    return apply_fault(*f, request, pass, [&] { return serve(request); });
  }
  return serve(request);
}

ApiResponse FakeApiServer::not_found(const std::string& name) const {
  return response(
      404, status_body(404, "NotFound", "leases.coordination.k8s.io \"" + name + "\" not found",
                       details_for(name)));
}

ApiResponse FakeApiServer::forbidden(const std::string& verb, const std::string& name) const {
  const std::string who = "leases.coordination.k8s.io" + (name.empty() ? "" : " \"" + name + "\"");
  return response(
      403, status_body(403, "Forbidden",
                       who + " is forbidden: User \"system:serviceaccount:" + ns_ +
                           ":pgdog-control\" cannot " + verb +
                           " resource \"leases\" in API group \"coordination.k8s.io\" in the "
                           "namespace \"" +
                           ns_ + "\"",
                       details_for(name)));
}

ApiResponse FakeApiServer::serve(const ApiRequest& r) {
  ++served_;
  const ParsedPath p = parse_path(r.path);
  if (!p.ok) {
    return response(
        404, status_body(404, "NotFound", "the server could not find the requested resource"));
  }
  const std::string verb = verb_of(r.method);
  if (denied_.count(verb)) return forbidden(verb, p.name);
  if (p.ns != ns_) return not_found(p.name);
  if ((r.method == "POST" || r.method == "PUT") && r.content_type != "application/json") {
    return response(415, status_body(415, "UnsupportedMediaType",
                                     "the body of the request was in an unknown format"));
  }
  if (r.method == "GET" && !p.name.empty()) return serve_get(p.name);
  if (r.method == "POST" && p.name.empty()) return serve_create(r);
  if (r.method == "PUT" && !p.name.empty()) return serve_update(r, p.name);
  if (r.method == "DELETE" && !p.name.empty()) return serve_delete(p.name);
  return response(405, status_body(405, "MethodNotAllowed",
                                   "the server does not allow this method on the requested "
                                   "resource"));
}

ApiResponse FakeApiServer::serve_get(const std::string& name) {
  const auto it = leases_.find(name);
  if (it == leases_.end()) return not_found(name);
  return response(200, it->second.dump());
}

std::optional<ApiResponse> FakeApiServer::validate(const json& o, const std::string& name) const {
  auto bad_request = [](const std::string& m) {
    return response(400, status_body(400, "BadRequest", m));
  };
  if (!o.is_object()) return bad_request("the object provided is not a JSON object");
  if (o.contains("kind") && o["kind"] != "Lease") {
    return bad_request("the kind of the object does not match: " + o["kind"].dump());
  }
  if (o.contains("apiVersion") && o["apiVersion"] != "coordination.k8s.io/v1") {
    return bad_request("the apiVersion of the object does not match");
  }
  const json meta = o.value("metadata", json::object());
  if (meta.contains("namespace") && meta["namespace"] != ns_) {
    return bad_request(
        "the namespace of the provided object does not match the namespace sent on the request");
  }
  const json spec = o.value("spec", json::object());
  if (!spec.is_object()) {
    return bad_request(
        "Lease in version \"v1\" cannot be handled as a Lease: spec is not an "
        "object");
  }
  for (const char* key :
       {"holderIdentity", "acquireTime", "renewTime", "strategy", "preferredHolder"}) {
    if (spec.contains(key) && !spec[key].is_null() && !spec[key].is_string()) {
      return bad_request(
          std::string("Lease in version \"v1\" cannot be handled as a Lease: "
                      "json: cannot unmarshal into Go struct field LeaseSpec.spec.") +
          key);
    }
  }
  json causes = json::array();
  std::string first;
  auto invalid = [&](const std::string& field, const std::string& message) {
    causes.push_back({{"reason", "FieldValueInvalid"}, {"message", message}, {"field", field}});
    if (first.empty()) first = field + ": " + message;
  };
  if (spec.contains("leaseDurationSeconds") && !spec["leaseDurationSeconds"].is_null()) {
    const auto& d = spec["leaseDurationSeconds"];
    if (!d.is_number_integer()) {
      return bad_request(
          "Lease in version \"v1\" cannot be handled as a Lease: json: cannot "
          "unmarshal into Go struct field LeaseSpec.spec.leaseDurationSeconds");
    }
    if (d.get<std::int64_t>() <= 0) {
      invalid("spec.leaseDurationSeconds",
              "Invalid value: " + d.dump() + ": must be greater than 0");
    }
  }
  if (spec.contains("leaseTransitions") && !spec["leaseTransitions"].is_null()) {
    const auto& t = spec["leaseTransitions"];
    if (!t.is_number_integer()) {
      return bad_request(
          "Lease in version \"v1\" cannot be handled as a Lease: json: cannot "
          "unmarshal into Go struct field LeaseSpec.spec.leaseTransitions");
    }
    if (t.get<std::int64_t>() < 0) {
      invalid("spec.leaseTransitions",
              "Invalid value: " + t.dump() + ": must be greater than or equal to 0");
    }
  }
  if (spec.contains("preferredHolder") && !spec["preferredHolder"].is_null() &&
      (!spec.contains("strategy") || spec["strategy"].is_null() || spec["strategy"] == "")) {
    invalid("spec.preferredHolder", "Forbidden: may only be specified if `strategy` is defined");
  }
  if (!causes.empty()) {
    return response(422,
                    status_body(422, "Invalid",
                                "Lease.coordination.k8s.io \"" + name + "\" is invalid: " + first,
                                json{{"name", name},
                                     {"group", "coordination.k8s.io"},
                                     {"kind", "Lease"},
                                     {"causes", causes}}));
  }
  return std::nullopt;
}

ApiResponse FakeApiServer::serve_create(const ApiRequest& r) {
  json o = json::parse(r.body, nullptr, false);
  if (o.is_discarded()) {
    return response(400, status_body(400, "BadRequest",
                                     "Lease in version \"v1\" cannot be handled as a Lease: "
                                     "invalid character"));
  }
  const std::string name = o.is_object() && o.contains("metadata") && o["metadata"].is_object()
                               ? o["metadata"].value("name", std::string())
                               : std::string();
  if (auto bad = validate(o, name)) return *bad;
  if (name.empty()) {
    return response(
        422, status_body(422, "Invalid",
                         "Lease.coordination.k8s.io \"\" is invalid: metadata.name: Required "
                         "value: name or generateName is required"));
  }
  if (!o["metadata"].value("resourceVersion", std::string()).empty()) {
    return response(500, status_body(500, "InternalError",
                                     "resourceVersion should not be set on objects to be "
                                     "created"));
  }
  if (leases_.count(name)) {
    return response(409, status_body(409, "AlreadyExists",
                                     "leases.coordination.k8s.io \"" + name + "\" already exists",
                                     details_for(name)));
  }
  o["apiVersion"] = "coordination.k8s.io/v1";
  o["kind"] = "Lease";
  json& meta = o["metadata"];
  meta["namespace"] = ns_;
  meta["uid"] = new_uid();
  meta["resourceVersion"] = next_rv();
  meta["creationTimestamp"] = now_timestamp();
  leases_[name] = o;
  record("ADDED", o);
  return response(201, o.dump());
}

ApiResponse FakeApiServer::serve_update(const ApiRequest& r, const std::string& name) {
  json o = json::parse(r.body, nullptr, false);
  if (o.is_discarded()) {
    return response(400, status_body(400, "BadRequest",
                                     "Lease in version \"v1\" cannot be handled as a Lease: "
                                     "invalid character"));
  }
  if (auto bad = validate(o, name)) return *bad;
  const std::string body_name = o.contains("metadata") && o["metadata"].is_object()
                                    ? o["metadata"].value("name", std::string())
                                    : std::string();
  if (body_name != name) {
    return response(400, status_body(400, "BadRequest",
                                     "the name of the object (" + body_name +
                                         ") does not match the name on the URL (" + name + ")"));
  }
  const auto it = leases_.find(name);
  if (it == leases_.end()) return not_found(name);
  json& stored = it->second;
  const std::string rv = o["metadata"].value("resourceVersion", std::string());
  if (rv.empty()) {
    return response(
        422, status_body(422, "Invalid",
                         "Lease.coordination.k8s.io \"" + name +
                             "\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must "
                             "be specified for an update"));
  }
  const std::string uid = o["metadata"].value("uid", std::string());
  if (!uid.empty() && uid != stored["metadata"]["uid"].get<std::string>()) {
    return response(
        409,
        status_body(409, "Conflict",
                    "Operation cannot be fulfilled on leases.coordination.k8s.io "
                    "\"" +
                        name + "\": Precondition failed: UID in precondition: " + uid +
                        ", UID in object meta: " + stored["metadata"]["uid"].get<std::string>(),
                    details_for(name)));
  }
  if (rv != stored["metadata"]["resourceVersion"].get<std::string>()) {
    return response(409, status_body(409, "Conflict",
                                     "Operation cannot be fulfilled on leases.coordination.k8s.io "
                                     "\"" +
                                         name +
                                         "\": the object has been modified; please apply your "
                                         "changes to the latest version and try again",
                                     details_for(name)));
  }
  o["apiVersion"] = "coordination.k8s.io/v1";
  o["kind"] = "Lease";
  json& meta = o["metadata"];
  meta["namespace"] = ns_;
  meta["uid"] = stored["metadata"]["uid"];
  meta["creationTimestamp"] = stored["metadata"]["creationTimestamp"];
  // Like the real server: an update that changes nothing is not written.
  if (without_rv(o) == without_rv(stored)) return response(200, stored.dump());
  meta["resourceVersion"] = next_rv();
  stored = o;
  record("MODIFIED", o);
  return response(200, o.dump());
}

ApiResponse FakeApiServer::serve_delete(const std::string& name) {
  const auto it = leases_.find(name);
  if (it == leases_.end()) return not_found(name);
  json gone = it->second;
  leases_.erase(it);
  gone["metadata"]["resourceVersion"] = next_rv();
  record("DELETED", gone);
  return response(200, json{{"kind", "Status"},
                            {"apiVersion", "v1"},
                            {"metadata", json::object()},
                            {"status", "Success"},
                            {"details", details_for(name)}}
                           .dump());
}

WatchResult FakeApiServer::watch(const std::string& path, std::chrono::milliseconds,
                                 const std::function<bool(std::string_view line)>& on_line,
                                 std::stop_token stop) {
  WatchResult w;
  const ParsedPath p = parse_path(path);
  if (!p.ok || p.ns != ns_ || query_param(p.query, "watch") != "1") {
    w.status = 400;
    w.body = status_body(400, "BadRequest", "not a watch request");
    return w;
  }
  if (denied_.count("watch")) {
    w.status = 403;
    w.body = forbidden("watch", "").body;
    return w;
  }
  std::string only;
  const std::string selector = query_param(p.query, "fieldSelector");
  const std::string prefix = "metadata.name%3D";
  if (selector.rfind(prefix, 0) == 0) only = selector.substr(prefix.size());
  const std::string since = query_param(p.query, "resourceVersion");
  const std::int64_t after = since.empty() ? 0 : std::stoll(since);
  if (after < compacted_rv_) {
    w.status = 410;
    w.body = status_body(410, "Expired", "too old resource version: " + since);
    return w;
  }
  w.status = 200;
  const auto first = std::upper_bound(events_.begin(), events_.end(), after,
                                      [](std::int64_t rv, const Event& e) { return rv < e.rv; });
  for (auto it = first; it != events_.end(); ++it) {
    const Event& e = *it;
    if (stop.stop_requested()) {
      w.stopped = true;
      return w;
    }
    if (!only.empty() && e.object["metadata"]["name"] != only) continue;
    const std::string line = json{{"type", e.type}, {"object", e.object}}.dump();
    if (!on_line(line)) return w;
  }
  w.transport_error = "the server closed the stream";
  return w;
}

std::optional<json> FakeApiServer::lease(const std::string& name) const {
  const auto it = leases_.find(name);
  if (it == leases_.end()) return std::nullopt;
  return it->second;
}

json FakeApiServer::spec(const std::string& name) const {
  const auto l = lease(name);
  if (!l) return nullptr;
  return l->value("spec", json::object());
}

std::string FakeApiServer::resource_version(const std::string& name) const {
  const auto l = lease(name);
  return l ? (*l)["metadata"]["resourceVersion"].get<std::string>() : std::string();
}

std::string FakeApiServer::uid(const std::string& name) const {
  const auto l = lease(name);
  return l ? (*l)["metadata"]["uid"].get<std::string>() : std::string();
}

void FakeApiServer::put_raw(json object) {
  json& meta = object["metadata"];
  const std::string name = meta.value("name", std::string(kLeaseName));
  meta["name"] = name;
  if (!meta.contains("namespace")) meta["namespace"] = ns_;
  if (!meta.contains("uid")) {
    const auto old = leases_.find(name);
    meta["uid"] = old != leases_.end() ? old->second["metadata"]["uid"] : json(new_uid());
  }
  if (!meta.contains("creationTimestamp")) meta["creationTimestamp"] = now_timestamp();
  const bool existed = leases_.count(name) > 0;
  meta["resourceVersion"] = next_rv();
  leases_[name] = object;
  record(existed ? "MODIFIED" : "ADDED", object);
}

void FakeApiServer::put_lease(json spec, json extra_metadata) {
  json meta{{"name", kLeaseName}, {"namespace", ns_}};
  for (auto& [k, v] : extra_metadata.items()) meta[k] = v;
  json o{{"apiVersion", "coordination.k8s.io/v1"}, {"kind", "Lease"}, {"metadata", meta}};
  if (!spec.is_null()) o["spec"] = std::move(spec);
  put_raw(std::move(o));
}

void FakeApiServer::put_released(std::int32_t transitions, const std::string& former) {
  put_lease(json{{"holderIdentity", ""},
                 {"leaseDurationSeconds", 1},
                 {"acquireTime", "2026-07-24T14:00:00.000000Z"},
                 {"renewTime", "2026-07-24T14:00:00.000000Z"},
                 {"leaseTransitions", transitions}});
  const std::string id = uid();
  modify([&](json& o) {
    o["metadata"]["annotations"][kReleasedTermAnnotation] =
        json{{"holder", former}, {"uid", id}, {"epoch", transitions}}.dump();
  });
}

void FakeApiServer::compact(std::size_t keep) {
  if (events_.size() <= keep) return;
  const auto drop = events_.size() - keep;
  compacted_rv_ = events_[drop - 1].rv;
  events_.erase(events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(drop));
}

void FakeApiServer::modify(const std::function<void(json&)>& change, const std::string& name) {
  auto it = leases_.find(name);
  if (it == leases_.end()) throw std::logic_error("modify: no Lease " + name);
  change(it->second);
  it->second["metadata"]["resourceVersion"] = next_rv();
  record("MODIFIED", it->second);
}

bool FakeApiServer::delete_lease(const std::string& name) {
  return serve_delete(name).status == 200;
}

// ---------------------------------------------------------------- Link

ApiResponse Link::handle(const ApiRequest& request) {
  Record rec;
  rec.request = request;
  rec.sent = clock_.steady();
  Timeline& tl = clock_.timeline();
  const std::function<void(Nanos)> pass = [&](Nanos d) {
    if (d <= Nanos::zero()) return;
    if (wait_until) {
      wait_until(tl.now() + d);
    } else {
      tl.advance(d);
    }
  };
  auto serve = [&] {
    pass(latency_there_);
    if (before_serve) before_serve(request);
    ApiResponse r = server_.handle(request, pass);
    pass(latency_back_);
    return r;
  };
  if (auto f = faults_.take(request, tl.now())) {
    rec.response = apply_fault(*f, request, pass, serve);
  } else {
    rec.response = serve();
  }
  rec.done = clock_.steady();
  if (!keep_records) return rec.response;
  records_.push_back(rec);
  return rec.response;
}

WatchResult Link::watch(const std::string& path, std::chrono::milliseconds idle_timeout,
                        const std::function<bool(std::string_view line)>& on_line,
                        std::stop_token stop) {
  ApiRequest probe{"GET", path, "", "application/json", idle_timeout};
  if (auto f = faults_.take(probe, clock_.timeline().now())) {
    WatchResult w;
    const ApiResponse r = apply_fault(
        *f, probe, [](Nanos) {}, [] { return ApiResponse{}; });
    w.status = r.status;
    w.body = r.body;
    w.transport_error = r.status == 0 ? r.transport_error : "";
    return w;
  }
  return server_.watch(path, idle_timeout, on_line, stop);
}

std::vector<std::string> Link::methods() const {
  std::vector<std::string> out;
  for (const auto& r : records_) out.push_back(r.request.method);
  return out;
}

// ---------------------------------------------------------------- Replica

Replica::Replica(std::string identity, FakeApiServer& server, Timeline& tl, ReplicaOptions options,
                 LeadershipObserver* observer, int replica_index)
    : id(identity),
      timeline(tl),
      clock(tl, options.clock),
      start(clock.steady()),
      link(server, clock),
      api(transport, kNamespace, kLeaseName),
      checker(observer),
      index(replica_index),
      keep_history(options.keep_history),
      elector(
          identity, options.timings, api, clock,
          [this](const ElectorState& s) {
            last_state = s;
            if (keep_history) {
              reports.push_back(s);
              report_times.push_back(timeline.now());
              requests_at_report.push_back(link.records().size());
            }
            if (checker) {
              checker->on_report(index, timeline.now(), s,
                                 s.leading ? clock.timeline_of(s.valid_until) : Nanos::zero());
            }
          },
          [this](int level, const std::string& m) {
            if (!keep_history) return;
            logs.emplace_back(level, m);
            log_times.push_back(timeline.now());
          },
          ElectorEvents{
              [this](bool ok, std::chrono::duration<double>) {
                ok ? ++acquire_ok : ++acquire_failed;
              },
              [this](bool ok, std::chrono::duration<double>) { ok ? ++renew_ok : ++renew_failed; },
              [this] { ++conflicts; }}) {
  link.keep_records = keep_history;
  transport.delegate_to(link);
  next = clock.steady();
}

LeaseTime Replica::step() {
  next = elector.step();
  if (checker) {
    const ElectorState s = last_report();
    checker->on_step(index, timeline.now(), elector.leading(), s,
                     elector.leading() ? clock.timeline_of(s.valid_until) : Nanos::zero());
  }
  return next;
}

void Replica::run_until(LeaseTime t) {
  for (int guard = 0; guard < 100000; ++guard) {
    if (watching) pump_watch();
    if (next > t) break;
    timeline.advance_to(clock.timeline_of(next));
    step();
  }
  timeline.advance_to(clock.timeline_of(t));
}

bool Replica::pump_watch() {
  if (!watching || partitioned) return false;
  const std::string path = api.collection_path() + "?watch=1&fieldSelector=metadata.name%3D" +
                           kLeaseName + "&resourceVersion=" + std::to_string(watch_rv);
  bool act = false;
  std::stop_source never;
  const WatchResult w = transport.watch(
      path, std::chrono::milliseconds(60000),
      [&](std::string_view line) {
        const json e = json::parse(line);
        watch_rv = std::stoll(e["object"]["metadata"]["resourceVersion"].get<std::string>());
        if (e["type"] == "DELETED") {
          act = elector.observe_deleted() || act;
        } else {
          std::string why;
          auto lease = Lease::from_json(e["object"], &why);
          if (lease) act = elector.observe(*lease) || act;
        }
        return true;
      },
      never.get_token());
  if (w.status == 410) {
    // Compacted past our version: re-read the Lease, then watch from now
    // (as LeaseWatch does).
    watch_rv = link_server_rv();
    const ApiResponse r = transport.send(ApiRequest{
        "GET", api.object_path(), "", "application/json", std::chrono::milliseconds(5000)});
    if (r.status == 404) {
      act = elector.observe_deleted() || act;
    } else if (r.status == 200) {
      std::string why;
      if (auto lease = Lease::parse(r.body, &why)) act = elector.observe(*lease) || act;
    }
  }
  if (act) next = clock.steady();
  return act;
}

void Replica::set_watching(bool on) {
  watching = on;
  elector.set_watch_healthy(on && !partitioned);
  if (on) pump_watch();
}

void Replica::partition(Fault how) {
  partitioned = true;
  link.faults().always(how);
  // The watch breaks with the link; a watching replica falls back to polling.
  elector.set_watch_healthy(false);
}

void Replica::heal() {
  partitioned = false;
  link.faults().clear();
  if (watching) {
    pump_watch();  // resumes from the last version seen, without a gap
    elector.set_watch_healthy(true);
  }
}

std::optional<Nanos> Replica::last_report_time(bool leading) const {
  for (std::size_t i = reports.size(); i-- > 0;) {
    if (reports[i].leading == leading) return report_times[i];
  }
  return std::nullopt;
}

std::vector<LeaseTime> Replica::sent_times(const std::string& method) const {
  std::vector<LeaseTime> out;
  for (const auto& r : link.records()) {
    if (method.empty() || r.request.method == method) out.push_back(r.sent);
  }
  return out;
}

bool Replica::logged(std::string_view needle, int level) const {
  for (const auto& [l, m] : logs) {
    if (l == level && m.find(needle) != std::string::npos) return true;
  }
  return false;
}

std::string Replica::history() const {
  std::vector<std::pair<Nanos, std::string>> lines;
  auto ms = [](Nanos t) { return std::to_string(t.count() / 1000000) + "ms"; };
  for (const auto& r : link.records()) {
    lines.emplace_back(clock.timeline_of(r.sent),
                       r.request.method + " (timeout " + std::to_string(r.request.timeout.count()) +
                           "ms) -> " + std::to_string(r.response.status) +
                           (r.response.timed_out ? " timed out" : "") + " at " +
                           ms(clock.timeline_of(r.done)));
  }
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const auto& s = reports[i];
    lines.emplace_back(report_times[i],
                       std::string("report leading=") + (s.leading ? "1" : "0") +
                           " holder=" + s.holder + " epoch=(" + s.uid + "," +
                           std::to_string(s.epoch) + ") valid_until=" +
                           (s.leading ? ms(clock.timeline_of(s.valid_until)) : std::string("-")));
  }
  for (std::size_t i = 0; i < logs.size(); ++i) {
    lines.emplace_back(log_times[i],
                       "log[" + std::to_string(logs[i].first) + "] " + logs[i].second);
  }
  std::stable_sort(lines.begin(), lines.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::string out = "--- " + id + "\n";
  for (const auto& [t, l] : lines) out += "  " + ms(t) + " " + l + "\n";
  return out;
}

std::string Replica::all_logs() const {
  std::string out;
  for (const auto& [l, m] : logs) out += "  [" + std::to_string(l) + "] " + m + "\n";
  return out;
}

// ---------------------------------------------------------------- IntervalChecker

void IntervalChecker::on_report(int who, Nanos at, const ElectorState& s, Nanos valid_until) {
  snapshots_.push_back(Snapshot{at, who, s.leading, s.uid, s.epoch, valid_until});
  auto open = open_.find(who);
  if (!s.leading) {
    if (open != open_.end()) {
      Term& t = terms_[open->second];
      t.segments.back().end = std::min(t.segments.back().end, at);
      t.open = false;
      open_.erase(open);
    }
    return;
  }
  if (open == open_.end()) {
    terms_.push_back(Term{who, s.uid, s.epoch, {Segment{at, valid_until}}, true});
    open_[who] = terms_.size() - 1;
    return;
  }
  Term& t = terms_[open->second];
  if (t.uid != s.uid || t.epoch != s.epoch) {
    notes_.push_back("elector " + std::to_string(who) + " changed its epoch while leading, at " +
                     std::to_string(at.count()) + "ns: (" + t.uid + ", " + std::to_string(t.epoch) +
                     ") -> (" + s.uid + ", " + std::to_string(s.epoch) + ")");
  }
  Segment& last = t.segments.back();
  if (at <= last.end) {
    last.end = std::max(last.end, valid_until);
  } else {
    t.segments.push_back(Segment{at, valid_until});
  }
}

void IntervalChecker::on_step(int who, Nanos at, bool leading, const ElectorState& last,
                              Nanos valid_until) {
  if (leading && !last.leading) {
    notes_.push_back("elector " + std::to_string(who) + " leads without having reported it, at " +
                     std::to_string(at.count()));
  }
  snapshots_.push_back(Snapshot{at, who, leading, last.uid, last.epoch, valid_until});
}

void IntervalChecker::on_stop(int who, Nanos at) {
  auto open = open_.find(who);
  if (open == open_.end()) return;
  Term& t = terms_[open->second];
  t.segments.back().end = std::min(t.segments.back().end, at);
  t.open = false;
  open_.erase(open);
}

bool IntervalChecker::leading_at(int who, Nanos t) const {
  for (const auto& term : terms_) {
    if (term.who != who) continue;
    for (const auto& s : term.segments) {
      if (t >= s.start && t < s.end) return true;
    }
  }
  return false;
}

std::vector<IntervalChecker::Term> IntervalChecker::terms_of(int who) const {
  std::vector<Term> out;
  for (const auto& t : terms_) {
    if (t.who == who) out.push_back(t);
  }
  return out;
}

std::vector<std::string> IntervalChecker::violations() const {
  std::vector<std::string> out = notes_;
  // 1. No two electors valid leaders at one instant.
  for (std::size_t i = 0; i < terms_.size(); ++i) {
    for (std::size_t j = i + 1; j < terms_.size(); ++j) {
      if (terms_[i].who == terms_[j].who) continue;
      for (const auto& a : terms_[i].segments) {
        for (const auto& b : terms_[j].segments) {
          const Nanos lo = std::max(a.start, b.start);
          const Nanos hi = std::min(a.end, b.end);
          if (lo < hi) {
            out.push_back("overlap of " + std::to_string((hi - lo).count()) + "ns between " +
                          to_string(terms_[i]) + " and " + to_string(terms_[j]));
          }
        }
      }
    }
  }
  // 2. The snapshots, in the order they happened (every report and the
  // state after every step): whenever an elector believes it leads with
  // validity left, no other elector's latest state is a valid leader.
  std::map<int, const Snapshot*> latest;
  for (const auto& s : snapshots_) {
    latest[s.who] = &s;
    if (!s.leading || s.at >= s.valid_until) continue;
    for (const auto& [who, o] : latest) {
      if (who != s.who && o->leading && s.at < o->valid_until) {
        out.push_back("at " + std::to_string(s.at.count()) + "ns electors " +
                      std::to_string(s.who) + " and " + std::to_string(who) +
                      " both report leading");
      }
    }
  }
  // 3. Epochs strictly increase within a uid, in the order terms began.
  std::vector<const Term*> ordered;
  for (const auto& t : terms_) ordered.push_back(&t);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const Term* a, const Term* b) { return a->start() < b->start(); });
  for (std::size_t i = 0; i < ordered.size(); ++i) {
    for (std::size_t j = i + 1; j < ordered.size(); ++j) {
      if (ordered[i]->uid == ordered[j]->uid && ordered[j]->epoch <= ordered[i]->epoch) {
        out.push_back("epoch did not increase: " + to_string(*ordered[i]) + " then " +
                      to_string(*ordered[j]));
      }
    }
  }
  return out;
}

std::string to_string(const IntervalChecker::Term& t) {
  std::string s = "term{elector " + std::to_string(t.who) + ", uid " + t.uid + ", epoch " +
                  std::to_string(t.epoch) + ",";
  for (const auto& seg : t.segments) {
    s += " [" + std::to_string(seg.start.count() / 1000000) + "ms, " +
         std::to_string(seg.end.count() / 1000000) + "ms)";
  }
  return s + "}";
}

std::string IntervalChecker::dump() const {
  std::string s;
  for (const auto& t : terms_) s += to_string(t) + "\n";
  return s;
}

// ---------------------------------------------------------------- Sim

Replica& Sim::add(std::string identity, FakeClock::Options clock,
                  std::optional<ElectorTimings> timings) {
  const int index = next_index_++;
  ReplicaOptions o;
  o.timings = timings.value_or(timings_);
  o.clock = clock;
  o.keep_history = keep_history;
  // Unrelated steady origins: nothing may compare steady times across replicas.
  o.clock.steady_origin += index * (std::chrono::hours(1) + std::chrono::milliseconds(7));
  replicas.push_back(
      std::make_unique<Replica>(std::move(identity), server, timeline, o, observer, index));
  // While this replica waits for an answer, the others run.
  replicas.back()->link.wait_until = [this, index](Nanos until) {
    const bool nested = busy_.count(index) > 0;
    busy_.insert(index);
    run(until);
    if (!nested) busy_.erase(index);
  };
  return *replicas.back();
}

void Sim::remove_stopped() {
  std::erase_if(replicas, [](const std::unique_ptr<Replica>& r) { return r->stopped; });
}

void Sim::deliver_watches() {
  for (auto& r : replicas) {
    if (busy_.count(r->index)) continue;  // its runner is blocked in a request
    if (r->watching && !r->partitioned && !r->stopped && timeline.now() >= r->paused_until) {
      r->pump_watch();
    }
  }
}

void Sim::run_until(Nanos t) { run(t); }

void Sim::stop(Replica& r, bool release, Nanos release_timeout) {
  if (r.stopped) return;
  if (release) {
    // As the backend's runner does at SIGTERM: the elector re-reads and
    // releases only its own term, within the deadline; requests meanwhile
    // let the others run.
    r.elector.release(r.clock.steady() + release_timeout);
  }
  r.stopped = true;
  if (observer) observer->on_stop(r.index, timeline.now());
}

void Sim::run(Nanos t) {
  for (int guard = 0; guard < 1000000; ++guard) {
    deliver_watches();
    Replica* due = nullptr;
    Nanos when = Nanos::max();
    for (auto& r : replicas) {
      if (r->stopped || busy_.count(r->index)) continue;
      const Nanos w = std::max(r->clock.timeline_of(r->next), r->paused_until);
      if (w < when) {
        when = w;
        due = r.get();
      }
    }
    if (due == nullptr || when > t) break;
    timeline.advance_to(when);
    due->step();
    if (due->after_step) {
      const auto hook = due->after_step;  // the hook may clear itself
      hook();
    }
  }
  timeline.advance_to(t);
  deliver_watches();
}

int Sim::leaders_now() {
  int n = 0;
  for (auto& r : replicas) {
    if (r->elector.leading() && r->clock.steady() < r->last_report().valid_until) ++n;
  }
  return n;
}

Replica* Sim::leader() {
  for (auto& r : replicas) {
    if (r->elector.leading()) return r.get();
  }
  return nullptr;
}

}  // namespace pgdc::kube::testing
