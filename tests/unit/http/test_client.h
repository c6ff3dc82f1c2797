// A tiny blocking HTTP/1.1 client over POSIX sockets for the server tests:
// raw bytes in, parsed responses out, so tests can also send malformed input.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace pgdc::test {

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class TestConnection {
 public:
  explicit TestConnection(std::uint16_t port);  // connects to 127.0.0.1
  ~TestConnection();
  TestConnection(const TestConnection&) = delete;
  TestConnection& operator=(const TestConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send(std::string_view bytes);
  // Reads one response (Content-Length framed). head: the request was HEAD
  // (no body follows the headers). nullopt on timeout, close or garbage.
  std::optional<RawResponse> read_response(
      std::chrono::milliseconds timeout = std::chrono::seconds(5), bool head = false);
  // True when the server closed the connection (EOF or reset) within timeout;
  // bytes received meanwhile are discarded.
  bool wait_closed(std::chrono::milliseconds timeout);
  void close();

 private:
  // Appends received bytes to buffer_; false on close/error/timeout.
  bool fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
};

// One request on a fresh connection with "Connection: close".
std::optional<RawResponse> http_request(std::uint16_t port, const std::string& method,
                                        const std::string& target, const std::string& body = "",
                                        const std::string& extra_headers = "");

}  // namespace pgdc::test
