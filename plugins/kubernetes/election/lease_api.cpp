#include "lease_api.h"

#include <nlohmann/json.hpp>

namespace pgdc::kube {

std::string api_status_message(const std::string& body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    if (auto m = j.find("message"); m != j.end() && m->is_string()) return m->get<std::string>();
  }
  std::string s = body.substr(0, 200);
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

std::string api_status_reason(const std::string& body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    if (auto m = j.find("reason"); m != j.end() && m->is_string()) return m->get<std::string>();
  }
  return {};
}

std::string_view error_kind_name(ApiErrorKind kind) {
  switch (kind) {
    case ApiErrorKind::kNone:
      return "ok";
    case ApiErrorKind::kNotFound:
      return "not_found";
    case ApiErrorKind::kConflict:
      return "conflict";
    case ApiErrorKind::kAlreadyExists:
      return "already_exists";
    case ApiErrorKind::kUnauthorized:
      return "unauthorized";
    case ApiErrorKind::kForbidden:
      return "forbidden";
    case ApiErrorKind::kThrottled:
      return "throttled";
    case ApiErrorKind::kInvalid:
      return "invalid";
    case ApiErrorKind::kTimeout:
      return "timeout";
    case ApiErrorKind::kUnavailable:
      return "unavailable";
    case ApiErrorKind::kMalformed:
      return "malformed";
    case ApiErrorKind::kUnexpected:
      return "unexpected";
  }
  return "unexpected";
}

std::string rbac_hint(std::string_view verb, std::string_view resource, std::string_view ns,
                      std::string_view name) {
  const std::string group = resource == "leases" ? "coordination.k8s.io" : "";
  std::string rule = "a Role in namespace \"" + std::string(ns) + "\" with rule {apiGroups: [\"" +
                     group + "\"], resources: [\"" + std::string(resource) + "\"], verbs: [\"" +
                     std::string(verb) + "\"]";
  // create cannot be narrowed by name: the object does not exist yet.
  if (!name.empty() && verb != "create") {
    rule += ", resourceNames: [\"" + std::string(name) + "\"]";
  }
  return rule + "} bound to this replica's service account";
}

KubeLeaseApi::KubeLeaseApi(ApiTransport& transport, std::string ns, std::string name)
    : transport_(transport), ns_(std::move(ns)), name_(std::move(name)) {}

std::string KubeLeaseApi::collection_path() const {
  return "/apis/coordination.k8s.io/v1/namespaces/" + ns_ + "/leases";
}

std::string KubeLeaseApi::object_path() const { return collection_path() + "/" + name_; }

ApiError KubeLeaseApi::classify(const ApiResponse& r, std::string_view verb) const {
  ApiError e;
  e.status = r.status;
  e.retry_after = r.retry_after;
  const std::string what = std::string(verb) + " lease " + ns_ + "/" + name_ + ": ";
  if (r.status == 0) {
    e.kind = r.timed_out ? ApiErrorKind::kTimeout : ApiErrorKind::kUnavailable;
    e.message = what + (r.timed_out ? "no answer within the request timeout" : "") +
                (r.timed_out && !r.transport_error.empty() ? " (" + r.transport_error + ")"
                                                           : r.transport_error);
    return e;
  }
  if (r.status >= 200 && r.status < 300) return e;
  const std::string server = api_status_message(r.body);
  switch (r.status) {
    case 404:
      e.kind = ApiErrorKind::kNotFound;
      e.message = what + "not found";
      break;
    case 409:
      e.kind = api_status_reason(r.body) == "AlreadyExists" || verb == "create"
                   ? ApiErrorKind::kAlreadyExists
                   : ApiErrorKind::kConflict;
      e.message = what + "conflict: " + server;
      break;
    case 401:
      e.kind = ApiErrorKind::kUnauthorized;
      e.message = what +
                  "401 Unauthorized: the API server rejected the credentials (check the "
                  "token or the service account; it was re-read once)";
      break;
    case 403:
      e.kind = ApiErrorKind::kForbidden;
      e.message = what + "403 Forbidden: not allowed to " + std::string(verb) +
                  " leases.coordination.k8s.io in namespace \"" + ns_ + "\"; grant it with " +
                  rbac_hint(verb, "leases", ns_, name_) + " (server: " + server + ")";
      break;
    case 429:
      e.kind = ApiErrorKind::kThrottled;
      e.message = what + "429 Too Many Requests" +
                  (r.retry_after ? ", retry after " + std::to_string(r.retry_after->count()) + "s"
                                 : std::string());
      break;
    case 400:
    case 422:
      e.kind = ApiErrorKind::kInvalid;
      e.message = what + std::to_string(r.status) + " rejected: " + server;
      break;
    default:
      e.kind = r.status >= 500 ? ApiErrorKind::kUnavailable : ApiErrorKind::kUnexpected;
      e.message = what + "HTTP " + std::to_string(r.status) + ": " + server;
  }
  return e;
}

LeaseResult KubeLeaseApi::finish(const ApiResponse& r, std::string_view verb) {
  LeaseResult out;
  out.error = classify(r, verb);
  if (out.error.kind != ApiErrorKind::kNone) return out;
  std::string why;
  out.lease = Lease::parse(r.body, &why);
  if (!out.lease) {
    out.error.kind = ApiErrorKind::kMalformed;
    out.error.status = r.status;
    out.error.message =
        std::string(verb) + " lease " + ns_ + "/" + name_ + ": malformed response: " + why;
  }
  return out;
}

LeaseResult KubeLeaseApi::get(std::chrono::milliseconds timeout) {
  return finish(transport_.send(ApiRequest{"GET", object_path(), "", "application/json", timeout}),
                "get");
}

LeaseResult KubeLeaseApi::create(const LeaseSpec& spec, std::chrono::milliseconds timeout) {
  return finish(
      transport_.send(ApiRequest{"POST", collection_path(), Lease::new_object(name_, ns_, spec),
                                 "application/json", timeout}),
      "create");
}

LeaseResult KubeLeaseApi::update(const Lease& base, const LeaseSpec& spec,
                                 std::chrono::milliseconds timeout) {
  return finish(transport_.send(ApiRequest{"PUT", object_path(), base.with_spec(spec),
                                           "application/json", timeout}),
                "update");
}

}  // namespace pgdc::kube
