// Proxies API requests from a follower to the leader (api.forward_to_leader).
//
// The Service's endpoints lag behind leadership changes by a readiness period
// or two; with forwarding on, a follower that receives an /api/ request
// passes it to the leader's advertised address (published by the
// coordination backend, e.g. an annotation on the Lease) so that PgDog and
// the browser see no errors during a failover.
//
// Guarantees
//  - A request is forwarded at most once: the forwarded copy carries
//    X-PgDog-Control-Forwarded-By, and a replica never forwards a request
//    that has it (two followers that each believe the other leads answer 503
//    instead of bouncing the request between them).
//  - Only to a verified leader: on each connection the follower first asks
//    for the peer's leader proof (api/leader_proof.h) and sends the request,
//    with its Authorization header, only if the peer proves that it is the
//    holder the leadership record names, at the address dialled, and holds
//    the replicas' forward secret. Otherwise the client gets 502
//    leader_unverified and the peer never sees the request. So an address
//    planted in the leadership record receives no token.
//  - The leader decides everything (authentication, leadership, epoch): the
//    follower adds no authority of its own and passes Authorization through
//    unchanged. Hop-by-hop headers are dropped both ways.
//  - Every forward is bounded: connect + send + receive within `timeout`, a
//    response body within `max_body_bytes`, at most `max_in_flight` at once.
//    Failures answer 502 (leader unreachable or its reply unusable) or 504
//    (no reply in time) with a JSON error naming the leader's address.
//
// Thread-safety: forward() may be called from any thread, including server
// I/O threads (it never blocks). The destructor cancels what is in flight
// (their clients get 503) and joins the forwarder's own I/O thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "http/http_types.h"

namespace pgdc {

class LeaderForwarder {
 public:
  struct Options {
    std::string identity;                      // this replica, sent as Forwarded-By
    std::string secret;                        // api.forward_secret_file's secret
    std::chrono::milliseconds timeout{35000};  // > the longest long poll
    std::size_t max_body_bytes = 8 * 1024 * 1024;
    std::size_t max_in_flight = 4096;
  };

  static constexpr const char* kForwardedByHeader = "x-pgdog-control-forwarded-by";

  explicit LeaderForwarder(Options options);
  ~LeaderForwarder();
  LeaderForwarder(const LeaderForwarder&) = delete;
  LeaderForwarder& operator=(const LeaderForwarder&) = delete;

  // True when `request` may be forwarded: not already forwarded once, and
  // `address` looks like host:port. The caller answers 503 otherwise.
  static bool can_forward(const HttpRequest& request, const std::string& address);

  // Sends `request` to http://<address><target> once the peer there proved
  // it is `holder` (the leader the record names), and responds with its
  // answer (or a 502/503/504 JSON error). Call only when can_forward() said
  // yes.
  void forward(HttpRequest&& request, const std::string& holder, const std::string& address,
               Respond respond);

  // Answers every forward in flight 503 not_leader and refuses new ones the
  // same way (shutdown: a forwarded long poll must not hold the HTTP drain).
  // Returns once they are answered. Idempotent.
  void shutdown();

  // Forwards in flight now (for tests and metrics).
  std::size_t in_flight() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace pgdc
