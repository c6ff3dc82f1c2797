// Test helpers for the Kubernetes client layer: throw-away certificates made
// with the openssl CLI, and a small real HTTPS server (Boost.Asio + OpenSSL,
// Boost.Beast request parsing) on 127.0.0.1 or ::1, port 0, scripted per test.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace pgdc::kube::testing {

// A temporary directory, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes (replaces atomically, via rename) a file in the directory; returns its path.
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

std::string read_text(const std::string& path);

// Generated once per test binary.
struct Certs {
  std::string dir;
  std::string ca_pem;                                   // the CA everything below is signed by
  std::string other_ca_pem;                             // an unrelated CA
  std::string server_cert_file, server_key_file;        // SAN IP:127.0.0.1, IP:::1, DNS:localhost
  std::string wrong_san_cert_file, wrong_san_key_file;  // CN=127.0.0.1, SAN DNS:wrong.example
  std::string client_cert_pem, client_key_pem;          // CN=pgdc-client, clientAuth
};
const Certs& test_certs();

struct SeenRequest {
  std::string method;
  std::string target;
  std::string authorization;
  std::string content_type;
  std::string user_agent;
  std::string body;
  std::string client_subject;  // peer certificate subject, if one was sent
};

class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual void respond(int status, const std::string& body,
                       const std::vector<std::pair<std::string, std::string>>& headers = {}) = 0;
  virtual void start_chunked(int status) = 0;  // 200 with Transfer-Encoding: chunked
  virtual void chunk(const std::string& data) = 0;
  virtual void end_chunks() = 0;
  // Blocks until the server is being destroyed or `timeout` passed. True when stopping.
  virtual bool wait_for_stop(std::chrono::milliseconds timeout) = 0;
};

class TestServer {
 public:
  enum class Cert { kGood, kWrongSan };
  struct Options {
    Cert cert = Cert::kGood;
    bool require_client_cert = false;
    std::string bind = "127.0.0.1";
  };
  using Handler = std::function<void(const SeenRequest&, Exchange&)>;

  TestServer(Options options, Handler handler);
  explicit TestServer(Handler handler) : TestServer(Options{}, std::move(handler)) {}
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  int port() const;
  std::string url() const;  // https://127.0.0.1:<port> (or https://[::1]:<port>)
  std::vector<SeenRequest> requests() const;
  int handshakes_failed() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// A TCP listener that never accepts: connects succeed, TLS never starts.
class SilentListener {
 public:
  SilentListener();
  ~SilentListener();
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A port on 127.0.0.1 where nothing listens.
int closed_port();

}  // namespace pgdc::kube::testing
