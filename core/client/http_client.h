// One blocking HTTP/1.1 exchange for the operator CLI: connect, send one
// request, read one reply, close. Beast stays in the .cpp (this header is
// included by the CLI's front end).
//
// Guarantees
//  - Bounded: resolve + connect + send + receive all finish within
//    `timeout` or the exchange fails with kTimeout; the reply body is at
//    most max_body_bytes (kMalformed beyond).
//  - The token is sent only as "Authorization: Bearer ..." and appears in no
//    error text.
//  - Never throws: every failure is a ClientError with a one-line message.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "client/base_url.h"

namespace pgdc::client {

struct ClientRequest {
  std::string method;  // "GET", "POST"
  std::string path;    // "/api/status"; the URL's prefix is put in front
  std::string body;    // sent with Content-Type: application/json when not empty
  std::string token;   // "" : no Authorization header
  std::chrono::milliseconds timeout{10000};
  std::size_t max_body_bytes = 16 * 1024 * 1024;
};

struct ClientReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

struct ClientError {
  enum class Kind {
    kConnect,    // could not resolve or connect, or the connection broke
    kTimeout,    // no complete reply within the timeout
    kMalformed,  // the peer answered something that is not HTTP/1.x
  };
  Kind kind = Kind::kConnect;
  std::string message;  // one line, names the URL
};

struct ClientResult {
  std::optional<ClientReply> reply;
  ClientError error;  // meaningful when reply is empty
};

ClientResult http_exchange(const BaseUrl& url, const ClientRequest& request);

}  // namespace pgdc::client
