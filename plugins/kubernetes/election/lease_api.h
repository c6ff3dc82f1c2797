// Lease reads and conditional writes over an ApiTransport, with every failure
// classified so the election can decide what to do, and described so an
// operator can fix it (a 403 names the verb, the resource, the namespace and
// the RBAC rule that would allow it).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "client/api_transport.h"
#include "lease.h"

namespace pgdc::kube {

enum class ApiErrorKind {
  kNone,
  kNotFound,       // 404: the Lease does not exist
  kConflict,       // 409 on update: stale resourceVersion
  kAlreadyExists,  // 409 on create: someone else created it first
  kUnauthorized,   // 401 (after the transport's token refresh and retry)
  kForbidden,      // 403: RBAC
  kThrottled,      // 429
  kInvalid,        // 400/422: the server rejected the object
  kTimeout,        // no answer within the request timeout
  kUnavailable,    // 5xx, connection refused, TLS failure
  kMalformed,      // a 2xx whose body is not a valid Lease
  kUnexpected,     // any other status
};

std::string_view error_kind_name(ApiErrorKind kind);

struct ApiError {
  ApiErrorKind kind = ApiErrorKind::kNone;
  int status = 0;
  std::string message;  // one line, for logs; never contains a token
  std::optional<std::chrono::seconds> retry_after;
};

struct LeaseResult {
  std::optional<Lease> lease;  // set on success
  ApiError error;              // kind kNone on success
  bool ok() const { return lease.has_value(); }
};

// The three operations the election needs. Virtual so tests can mock it.
class LeaseApi {
 public:
  virtual ~LeaseApi() = default;
  virtual LeaseResult get(std::chrono::milliseconds timeout) = 0;
  virtual LeaseResult create(const LeaseSpec& spec, std::chrono::milliseconds timeout) = 0;
  // Conditional on base.resource_version(); keeps base's other fields.
  virtual LeaseResult update(const Lease& base, const LeaseSpec& spec,
                             std::chrono::milliseconds timeout) = 0;
  virtual const std::string& lease_namespace() const = 0;
  virtual const std::string& lease_name() const = 0;
};

class KubeLeaseApi final : public LeaseApi {
 public:
  KubeLeaseApi(ApiTransport& transport, std::string ns, std::string name);

  LeaseResult get(std::chrono::milliseconds timeout) override;
  LeaseResult create(const LeaseSpec& spec, std::chrono::milliseconds timeout) override;
  LeaseResult update(const Lease& base, const LeaseSpec& spec,
                     std::chrono::milliseconds timeout) override;
  const std::string& lease_namespace() const override { return ns_; }
  const std::string& lease_name() const override { return name_; }

  // API paths, also used by the watch.
  std::string collection_path() const;
  std::string object_path() const;

  // Classifies a response for `verb` ("get", "create", "update") on this
  // Lease. Public for tests.
  ApiError classify(const ApiResponse& response, std::string_view verb) const;

 private:
  LeaseResult finish(const ApiResponse& r, std::string_view verb);

  ApiTransport& transport_;
  std::string ns_;
  std::string name_;
};

// The server's own explanation in an error response: a Status object's
// message, else the body's first 200 characters on one line.
std::string api_status_message(const std::string& body);
// A Status object's reason (AlreadyExists, Conflict, NotFound, ...), or "".
std::string api_status_reason(const std::string& body);

// The RBAC rule that grants `verb` on leases named `name` in `ns`, as a
// one-line hint for 403 messages.
std::string rbac_hint(std::string_view verb, std::string_view resource, std::string_view ns,
                      std::string_view name);

}  // namespace pgdc::kube
