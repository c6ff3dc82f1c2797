// The request and response values handlers see, and the handler signature.
//
// Kept free of Beast/Asio so handlers and the router compile fast; only
// http_server.cpp knows the wire.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace pgdc {

struct HttpRequest {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // as sent, e.g. "/api/status?x=1"
  std::string path;    // target before '?', not percent-decoded
  std::string query;   // target after '?', without it; may be empty
  // Header names lower-case; a repeated header's values joined with ", ".
  std::map<std::string, std::string> headers;
  std::string body;
  std::string remote;  // peer "ip:port"
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Extra headers. Content-Length, Transfer-Encoding and Connection are the
  // server's and are ignored here; Cache-Control defaults to "no-store" unless
  // given; names or values with CR/LF are dropped.
  std::vector<std::pair<std::string, std::string>> headers;
};

// Delivers the response. Call exactly once, from any thread, now or later
// (long polls). Later calls are ignored; a call after the client went away or
// after the server stopped is harmless. Copies share one response: if every
// copy is destroyed without a call, the client gets a 500.
using Respond = std::function<void(HttpResponse)>;

// A handler runs on a server I/O thread: it must not block for long (hand slow
// work to another thread and call respond from there). Exceptions thrown
// before respond is called become a 500.
using Handler = std::function<void(HttpRequest&&, Respond)>;

}  // namespace pgdc
