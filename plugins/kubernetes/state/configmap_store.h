// The host's state store (pgdc::sdk::StateStore) on ConfigMaps in the
// Lease's namespace (configmap_object.h for the object's shape).
//
// The fence is the API server's own compare-and-swap, one request each:
//   read                     GET; 404 -> absent
//   write, expected ""       POST (create); 409 AlreadyExists -> conflict
//   write, expected v        PUT with metadata.resourceVersion = v;
//                            409 Conflict (the version moved) -> conflict,
//                            404 (deleted since) -> conflict
// A conflict wrote nothing. Everything else that is not a success throws
// pgdc::sdk::UnavailableError with one line naming the object and the cause
// (a 403 names the RBAC rule that is missing); the outcome of a write that
// timed out is unknown, and the host re-reads before it writes again.
//
// No retries here: the caller owns the deadline and decides. Stateless apart
// from its configuration, so calls for different keys may run concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <pgdog_control/plugin.hpp>

#include "client/api_transport.h"

namespace pgdc::kube {

class ConfigMapStore {
 public:
  // now_ns: the host's monotonic clock, the clock of every deadline_ns.
  ConfigMapStore(ApiTransport& transport, std::string ns, std::string lease_name,
                 std::function<std::int64_t()> now_ns);

  std::optional<pgdc::sdk::StateObject> read(std::string_view key, std::int64_t deadline_ns);
  std::optional<std::string> write(std::string_view key, std::string_view value,
                                   std::string_view expected_version, std::int64_t deadline_ns);

  std::string collection_path() const;
  std::string object_path(std::string_view name) const;

 private:
  // The request timeout left until deadline_ns; throws UnavailableError
  // (sending nothing) when the deadline has already passed.
  std::chrono::milliseconds timeout_until(std::int64_t deadline_ns, std::string_view what) const;
  // Throws the UnavailableError for a response that is neither a success nor
  // a conflict of `verb` ("get", "create", "update") on ConfigMap `name`.
  [[noreturn]] void fail(const ApiResponse& r, std::string_view verb, std::string_view name,
                         std::chrono::milliseconds timeout) const;

  ApiTransport& transport_;
  std::string ns_;
  std::string lease_name_;
  std::function<std::int64_t()> now_ns_;
};

}  // namespace pgdc::kube
