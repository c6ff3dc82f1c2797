#include "test_tls_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef PGDC_TEST_OPENSSL
#define PGDC_TEST_OPENSSL "openssl"
#endif

namespace pgdc::kube::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// ---- files -------------------------------------------------------------------

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/pgdc-kube-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
  const std::string target = file(name);
  std::filesystem::create_directories(std::filesystem::path(target).parent_path());
  const std::string tmp = target + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, target);
  return target;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// ---- certificates --------------------------------------------------------------

namespace {

struct CertStore {
  TempDir dir;
  Certs certs;

  void run(const std::string& args) {
    const std::string cmd =
        std::string(PGDC_TEST_OPENSSL) + " " + args + " >>" + dir.file("openssl.log") + " 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      throw std::runtime_error("openssl failed: " + cmd + "\n" +
                               read_text(dir.file("openssl.log")));
    }
  }

  void make_ca(const std::string& name) {
    run("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=" + name +
        " -keyout " + dir.file(name + ".key") + " -out " + dir.file(name + ".crt"));
  }

  void make_leaf(const std::string& name, const std::string& subject, const std::string& ext) {
    dir.write(name + ".ext", ext);
    run("req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj " + subject + " -keyout " +
        dir.file(name + ".key") + " -out " + dir.file(name + ".csr"));
    run("x509 -req -days 2 -in " + dir.file(name + ".csr") + " -CA " + dir.file("ca.crt") +
        " -CAkey " + dir.file("ca.key") + " -set_serial " + std::to_string(++serial) +
        " -extfile " + dir.file(name + ".ext") + " -out " + dir.file(name + ".crt"));
  }

  int serial = 1000;

  CertStore() {
    make_ca("ca");
    make_ca("other-ca");
    make_leaf("server", "/CN=pgdc-test-server",
              "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n"
              "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
    make_leaf("wrong-san", "/CN=127.0.0.1",
              "subjectAltName=DNS:wrong.example\n"
              "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
    make_leaf("client", "/CN=pgdc-client",
              "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n");
    certs.dir = dir.path();
    certs.ca_pem = read_text(dir.file("ca.crt"));
    certs.other_ca_pem = read_text(dir.file("other-ca.crt"));
    certs.server_cert_file = dir.file("server.crt");
    certs.server_key_file = dir.file("server.key");
    certs.wrong_san_cert_file = dir.file("wrong-san.crt");
    certs.wrong_san_key_file = dir.file("wrong-san.key");
    certs.client_cert_pem = read_text(dir.file("client.crt"));
    certs.client_key_pem = read_text(dir.file("client.key"));
  }
};

}  // namespace

const Certs& test_certs() {
  static CertStore store;
  return store.certs;
}

// ---- server --------------------------------------------------------------------

struct TestServer::Impl : std::enable_shared_from_this<TestServer::Impl> {
  Options options;
  Handler handler;
  asio::io_context ioc;
  asio::ssl::context ssl{asio::ssl::context::tls_server};
  tcp::acceptor acceptor{ioc};
  int acceptor_fd = -1;
  int port = 0;
  std::thread accept_thread;

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::vector<int> open_fds;
  std::vector<std::thread> threads;
  std::vector<SeenRequest> seen;
  int failed_handshakes = 0;

  class ExchangeImpl final : public Exchange {
   public:
    ExchangeImpl(asio::ssl::stream<tcp::socket>& stream, Impl& server)
        : stream_(stream), server_(server) {}

    void respond(int status, const std::string& body,
                 const std::vector<std::pair<std::string, std::string>>& headers) override {
      std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
      bool has_type = false;
      for (const auto& [k, v] : headers) {
        head += k + ": " + v + "\r\n";
        if (k == "Content-Type") has_type = true;
      }
      if (!has_type) head += "Content-Type: application/json\r\n";
      head += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
      write(head + body);
      responded = true;
    }
    void start_chunked(int status) override {
      write("HTTP/1.1 " + std::to_string(status) + " " + reason(status) +
            "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
      responded = true;
    }
    void chunk(const std::string& data) override {
      std::ostringstream size;
      size << std::hex << data.size();
      write(size.str() + "\r\n" + data + "\r\n");
    }
    void end_chunks() override { write("0\r\n\r\n"); }
    bool wait_for_stop(std::chrono::milliseconds timeout) override {
      std::unique_lock lock(server_.mu);
      return server_.cv.wait_for(lock, timeout, [&] { return server_.stopping; });
    }

    bool responded = false;

   private:
    static std::string reason(int status) {
      switch (status) {
        case 200:
          return "OK";
        case 401:
          return "Unauthorized";
        case 403:
          return "Forbidden";
        case 429:
          return "Too Many Requests";
        default:
          return "Status";
      }
    }
    void write(const std::string& data) {
      boost::system::error_code ec;
      asio::write(stream_, asio::buffer(data), ec);
    }
    asio::ssl::stream<tcp::socket>& stream_;
    Impl& server_;
  };

  void start() {
    const Certs& certs = test_certs();
    const bool wrong = options.cert == Cert::kWrongSan;
    ssl.use_certificate_chain_file(wrong ? certs.wrong_san_cert_file : certs.server_cert_file);
    ssl.use_private_key_file(wrong ? certs.wrong_san_key_file : certs.server_key_file,
                             asio::ssl::context::pem);
    if (options.require_client_cert) {
      ssl.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
      ssl.add_certificate_authority(asio::buffer(certs.ca_pem));
    }
    const tcp::endpoint ep(asio::ip::make_address(options.bind), 0);
    acceptor.open(ep.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
    acceptor_fd = acceptor.native_handle();
    port = acceptor.local_endpoint().port();
    accept_thread = std::thread([self = shared_from_this()] { self->accept_loop(); });
  }

  void accept_loop() {
    for (;;) {
      tcp::socket socket(ioc);
      boost::system::error_code ec;
      acceptor.accept(socket, ec);
      std::lock_guard lock(mu);
      if (stopping) return;
      if (ec) continue;
      open_fds.push_back(socket.native_handle());
      threads.emplace_back([self = shared_from_this(), s = std::move(socket)]() mutable {
        self->serve(std::move(s));
      });
    }
  }

  void serve(tcp::socket socket) {
    const int fd = socket.native_handle();
    {
      asio::ssl::stream<tcp::socket> stream(std::move(socket), ssl);
      boost::system::error_code ec;
      stream.handshake(asio::ssl::stream_base::server, ec);
      if (ec) {
        std::lock_guard lock(mu);
        ++failed_handshakes;
      } else {
        std::string subject;
        if (X509* peer = SSL_get1_peer_certificate(stream.native_handle())) {
          char buf[256];
          X509_NAME_oneline(X509_get_subject_name(peer), buf, sizeof buf);
          subject = buf;
          X509_free(peer);
        }
        beast::flat_buffer buffer;
        for (;;) {
          beast::http::request<beast::http::string_body> req;
          beast::http::read(stream, buffer, req, ec);
          if (ec) break;
          SeenRequest s;
          s.method = std::string(req.method_string());
          s.target = std::string(req.target());
          s.authorization = std::string(req[beast::http::field::authorization]);
          s.content_type = std::string(req[beast::http::field::content_type]);
          s.user_agent = std::string(req[beast::http::field::user_agent]);
          s.body = req.body();
          s.client_subject = subject;
          {
            std::lock_guard lock(mu);
            seen.push_back(s);
          }
          ExchangeImpl exchange(stream, *this);
          handler(s, exchange);
          if (!exchange.responded) exchange.wait_for_stop(std::chrono::seconds(30));
          std::lock_guard lock(mu);
          if (!exchange.responded || stopping) break;
        }
      }
      // Forget the fd before it is closed, so stop() never shuts down a reused fd.
      std::lock_guard lock(mu);
      open_fds.erase(std::remove(open_fds.begin(), open_fds.end(), fd), open_fds.end());
    }
  }

  void stop() {
    {
      std::lock_guard lock(mu);
      stopping = true;
      if (acceptor_fd >= 0) ::shutdown(acceptor_fd, SHUT_RDWR);
      for (const int fd : open_fds) ::shutdown(fd, SHUT_RDWR);
      cv.notify_all();
    }
    if (accept_thread.joinable()) accept_thread.join();
    std::vector<std::thread> to_join;
    {
      std::lock_guard lock(mu);
      to_join.swap(threads);
    }
    for (auto& t : to_join) t.join();
  }
};

TestServer::TestServer(Options options, Handler handler) : impl_(std::make_shared<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
  impl_->start();
}

TestServer::~TestServer() { impl_->stop(); }

int TestServer::port() const { return impl_->port; }

std::string TestServer::url() const {
  const bool v6 = impl_->options.bind.find(':') != std::string::npos;
  return "https://" + (v6 ? "[" + impl_->options.bind + "]" : impl_->options.bind) + ":" +
         std::to_string(impl_->port);
}

std::vector<SeenRequest> TestServer::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->seen;
}

int TestServer::handshakes_failed() const {
  std::lock_guard lock(impl_->mu);
  return impl_->failed_handshakes;
}

// ---- sockets ---------------------------------------------------------------------

namespace {
int bound_socket(int& port_out) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("bind failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_out = ntohs(addr.sin_port);
  return fd;
}
}  // namespace

SilentListener::SilentListener() {
  fd_ = bound_socket(port_);
  if (::listen(fd_, 16) != 0) throw std::runtime_error("listen failed");
}

SilentListener::~SilentListener() {
  if (fd_ >= 0) ::close(fd_);
}

int closed_port() {
  int port = 0;
  const int fd = bound_socket(port);
  ::close(fd);
  return port;
}

}  // namespace pgdc::kube::testing
