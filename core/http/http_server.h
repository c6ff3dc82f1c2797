// The HTTP/1.1 server: Boost.Beast, asynchronous, a few I/O threads for all
// connections (no thread per connection).
//
// Per connection: keep-alive, one request at a time (pipelined requests are
// answered in order). Limits come from HttpConfig:
//  - read_timeout bounds reading one request (headers and body) from its
//    first byte, and a new connection's wait for its first request; a client
//    that trickles bytes (slowloris) is closed when it runs out;
//  - idle_timeout bounds the wait for the next request on a kept-alive
//    connection; writing a response is bounded by read_timeout too;
//  - headers over max_header_bytes: 431; a body over max_body_bytes: 413,
//    decided from Content-Length before any body byte is read;
//  - at most max_connections open connections: more are closed as soon as
//    they are accepted (counted, logged at most once a minute);
//  - admission (router.h): a request the router refuses from its head (no
//    route, no token) is answered without reading its body; an admitted
//    body is bounded by the route's limit and max_body_bytes;
//  - malformed requests: 400; a Transfer-Encoding other than "chunked": 501;
//    HTTP versions other than 1.0/1.1: 505. Each of these closes the
//    connection.
// Every response carries Content-Type, Content-Length and (unless the handler
// set one) Cache-Control: no-store. Each response is reported to the
// RequestObserver (if any) under the router's route name.
//
// Life cycle: listen() -> start() -> [stop_accepting() -> drain()] -> stop().
// Thread-safety: listen/start/stop_accepting/drain/stop from one controlling
// thread, never from a handler; port() and open_connections() from any.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <functional>
#include <string_view>

#include "config/config.h"
#include "http/router.h"

namespace pgdc {

// Called once per response written, from an I/O thread: the method, the
// matched route pattern ("unmatched" when no route matched; bounded
// cardinality, never the raw target), the status and the time since the request began.
using RequestObserver = std::function<void(std::string_view method, std::string_view route,
                                           int status, std::chrono::duration<double> latency)>;

class HttpServer {
 public:
  // router must outlive the server; observer may be empty.
  HttpServer(const HttpConfig& config, const Router& router, RequestObserver observer = {});
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens. host: an IPv4/IPv6 address (brackets allowed) or a
  // name resolved once. port 0 picks a free port (see port()). Throws
  // std::runtime_error, e.g. "cannot listen on 0.0.0.0:8080: Address already
  // in use".
  void listen(const std::string& host, std::uint16_t port);
  // The bound port (0 before listen()).
  std::uint16_t port() const;

  // Starts `threads` I/O threads (at least 1) and accepting. Once only.
  void start(int threads = 1);

  // Closes the listening socket; established connections go on.
  void stop_accepting();

  // Graceful close: stops accepting, closes idle keep-alive connections at
  // once, lets in-flight requests finish (their responses say Connection:
  // close), and waits for all connections to end. If some remain at the
  // timeout, force-closes them and returns false.
  bool drain(std::chrono::milliseconds timeout);

  // Force-closes everything and joins the threads. Idempotent. Responses
  // delivered afterwards are dropped.
  void stop();

  std::size_t open_connections() const;
  // Connections closed at accept because max_connections were open.
  std::uint64_t refused_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgdc
