#include "configmap_store.h"

#include <algorithm>

#include "client/text.h"
#include "configmap_object.h"
#include "election/lease_api.h"

namespace pgdc::kube {
namespace {

using std::chrono::milliseconds;

bool too_large(const ApiResponse& r) {
  if (r.status == 413) return true;
  if (r.status != 422) return false;
  if (api_status_reason(r.body) == "RequestEntityTooLarge") return true;
  // A ConfigMap over 1 MiB is Invalid with "Too long: must have at most
  // 1048576 bytes"; etcd's limit reads "request is too large".
  const std::string m = api_status_message(r.body);
  return m.find("Too long") != std::string::npos || m.find("too large") != std::string::npos;
}

}  // namespace

ConfigMapStore::ConfigMapStore(ApiTransport& transport, std::string ns, std::string lease_name,
                               std::function<std::int64_t()> now_ns)
    : transport_(transport),
      ns_(std::move(ns)),
      lease_name_(std::move(lease_name)),
      now_ns_(std::move(now_ns)) {}

std::string ConfigMapStore::collection_path() const {
  return "/api/v1/namespaces/" + ns_ + "/configmaps";
}

std::string ConfigMapStore::object_path(std::string_view name) const {
  return collection_path() + "/" + std::string(name);
}

milliseconds ConfigMapStore::timeout_until(std::int64_t deadline_ns, std::string_view what) const {
  const std::int64_t left_ns = deadline_ns - now_ns_();
  // Whole milliseconds, rounded down: a request never outlives the deadline.
  const milliseconds left{left_ns / 1'000'000};
  if (left < milliseconds(1)) {
    throw pgdc::sdk::UnavailableError("state: " + std::string(what) +
                                      ": the deadline passed before the request was sent");
  }
  return left;
}

void ConfigMapStore::fail(const ApiResponse& r, std::string_view verb, std::string_view name,
                          milliseconds timeout) const {
  const std::string what =
      "state: " + std::string(verb) + " configmap " + ns_ + "/" + std::string(name) + ": ";
  if (r.status == 0) {
    if (r.timed_out) {
      throw pgdc::sdk::UnavailableError(
          what + "no answer within " + ms_text(timeout) +
          (r.transport_error.empty() ? "" : " (" + r.transport_error + ")"));
    }
    throw pgdc::sdk::UnavailableError(what + "no response: " + r.transport_error);
  }
  const std::string server = api_status_message(r.body);
  if (r.status == 403) {
    throw pgdc::sdk::UnavailableError(
        what + "403 Forbidden: configmaps \"" + std::string(name) + "\" " + std::string(verb) +
        " forbidden in namespace \"" + ns_ +
        "\": grant get, update on configmaps (resourceNames: the state objects) and create on "
        "configmaps in the Lease's namespace (the chart's Role does); server: " +
        server);
  }
  if (r.status == 401) {
    throw pgdc::sdk::UnavailableError(
        what +
        "401 Unauthorized: the API server rejected the credentials (check the token or "
        "the service account)");
  }
  if (too_large(r)) {
    throw pgdc::sdk::UnavailableError(what + std::to_string(r.status) +
                                      " the API server refused the object as too large (keep "
                                      "values under the etcd request limit); server: " +
                                      server);
  }
  if (r.status == 429) {
    throw pgdc::sdk::UnavailableError(
        what + "429 Too Many Requests" +
        (r.retry_after ? ", retry after " + std::to_string(r.retry_after->count()) + "s"
                       : std::string()));
  }
  if (r.status == 400 || r.status == 422) {
    throw pgdc::sdk::UnavailableError(what + std::to_string(r.status) + " rejected: " + server);
  }
  throw pgdc::sdk::UnavailableError(what + "HTTP " + std::to_string(r.status) + ": " + server);
}

std::optional<pgdc::sdk::StateObject> ConfigMapStore::read(std::string_view key,
                                                           std::int64_t deadline_ns) {
  const std::string name = state_configmap_name(lease_name_, key);
  const milliseconds timeout = timeout_until(deadline_ns, "get configmap " + ns_ + "/" + name);
  const ApiResponse r =
      transport_.send(ApiRequest{"GET", object_path(name), "", "application/json", timeout});
  if (r.status == 404) return std::nullopt;
  if (r.status != 200) fail(r, "get", name, timeout);
  std::string why;
  auto cm = parse_state_configmap(r.body, &why);
  if (!cm) {
    throw pgdc::sdk::UnavailableError("state: get configmap " + ns_ + "/" + name +
                                      ": malformed response: " + why);
  }
  return pgdc::sdk::StateObject{std::move(cm->value), std::move(cm->resource_version)};
}

std::optional<std::string> ConfigMapStore::write(std::string_view key, std::string_view value,
                                                 std::string_view expected_version,
                                                 std::int64_t deadline_ns) {
  const std::string name = state_configmap_name(lease_name_, key);
  if (value.size() > PGDC_STATE_MAX_VALUE) {
    throw pgdc::sdk::ConfigError("kubernetes: state value for key \"" + std::string(key) +
                                 "\" is " + std::to_string(value.size()) + " bytes; the most is " +
                                 std::to_string(PGDC_STATE_MAX_VALUE));
  }
  const bool create = expected_version.empty();
  const std::string verb = create ? "create" : "update";
  const std::string body =
      state_configmap_body(name, ns_, lease_name_, key, value, expected_version);
  const milliseconds timeout = timeout_until(deadline_ns, verb + " configmap " + ns_ + "/" + name);
  const ApiResponse r = create ? transport_.send(ApiRequest{"POST", collection_path(), body,
                                                            "application/json", timeout})
                               : transport_.send(ApiRequest{"PUT", object_path(name), body,
                                                            "application/json", timeout});
  // The precondition failed, nothing was written: it exists (create), its
  // version moved or it was deleted (update).
  if (r.status == 409) return std::nullopt;
  if (!create && r.status == 404) return std::nullopt;
  if (r.status != 200 && r.status != 201) fail(r, verb, name, timeout);
  std::string why;
  auto cm = parse_state_configmap(r.body, &why);
  if (!cm) {
    // Written, but the new version is unknown: the host's next write with an
    // old version conflicts, and it re-reads. Report it as unavailable.
    throw pgdc::sdk::UnavailableError("state: " + verb + " configmap " + ns_ + "/" + name +
                                      ": malformed response: " + why);
  }
  return std::move(cm->resource_version);
}

}  // namespace pgdc::kube
