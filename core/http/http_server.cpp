// HttpServer: Beast sessions on a strand each, tracked by the server.
//
// Lifetimes
//  - The server's registry owns every open Session (shared_ptr) from accept
//    until close; pending I/O handlers hold extra references.
//  - A Respond holds a ResponseSlot, which knows its Session only weakly and
//    posts to it only while the server's Gate is open. stop() closes the gate
//    (waiting for any delivery in progress), joins the threads, then closes
//    and forgets every session; the io_context (and with it every pending
//    handler) is destroyed last, in ~Impl. So a Respond called at any time,
//    from any thread, even after the server is gone, is harmless.
// g++ 12 warns (-Wtsan, an error with -Werror) on the atomic_thread_fence in
// Asio's fenced blocks under -fsanitize=thread: TSan does not model fences.
// Only the TSan test build is affected.
#if defined(__SANITIZE_THREAD__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#include "http/http_server.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <future>
#include <limits>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "http/json_errors.h"
#include "log/logger.h"
#include "text/text.h"

namespace pgdc {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::string_view kLog = "http";
constexpr std::size_t kFirstReadSize = 4096;
constexpr std::size_t kBufferSlack = 64 * 1024;
constexpr std::size_t kLingerMaxBytes = 1024 * 1024;
constexpr std::chrono::milliseconds kLingerMax{1000};
constexpr std::chrono::milliseconds kAcceptRetry{100};
constexpr std::chrono::milliseconds kForceCloseWait{1000};
constexpr std::chrono::seconds kRefusalLogEvery{60};
constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool valid_header(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!is_token_char(c)) return false;
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

std::string endpoint_str(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  const std::string host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  return host + ":" + std::to_string(ep.port());
}

// The client went away or timed out: nothing to answer.
bool is_disconnect(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == http::error::partial_message ||
         ec == asio::error::eof || ec == beast::error::timeout ||
         ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
         ec == asio::error::connection_aborted || ec == asio::error::broken_pipe ||
         ec == asio::error::bad_descriptor || ec == asio::error::not_connected ||
         ec == asio::error::shut_down;
}

class Session;

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

// Open while Responds may post to sessions (the io_context is alive).
struct Gate {
  std::shared_mutex mutex;
  bool open = true;
};

struct ServerCore {
  ServerCore(const HttpConfig& cfg, const Router& r, RequestObserver o)
      : config(cfg), router(r), observer(std::move(o)) {}

  void do_accept();
  void on_accept(const beast::error_code& ec, tcp::socket socket);
  void unregister(std::uint64_t id);
  void close_acceptor();
  bool running() const { return !threads.empty(); }
  // Runs fn on the acceptor's strand and waits (directly when no thread runs).
  template <class Fn>
  void run_on_acceptor(Fn fn);

  const HttpConfig config;
  const Router& router;
  const RequestObserver observer;
  const std::shared_ptr<Gate> gate = std::make_shared<Gate>();
  std::atomic<bool> draining{false};
  std::atomic<std::uint16_t> port{0};
  std::atomic<std::uint64_t> refused{0};  // connections refused at max_connections

  mutable std::mutex mutex;    // guards the members below
  std::condition_variable cv;  // sessions changed
  std::unordered_map<std::uint64_t, std::shared_ptr<Session>> sessions;
  std::uint64_t next_id = 0;
  std::uint64_t refused_unlogged = 0;  // refusals since the last log line
  std::chrono::steady_clock::time_point last_refusal_log{};
  bool started = false;
  bool stopped = false;

  std::vector<std::thread> threads;
  // Asio objects last: destroyed first, the io_context after the objects
  // that use it (the sessions registry is empty by then, see stop()).
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{asio::make_strand(ioc)};
  asio::steady_timer accept_retry{acceptor.get_executor()};
};

}  // namespace

struct HttpServer::Impl : ServerCore {
  using ServerCore::ServerCore;
};

namespace {

// One response owed to one request; shared by every copy of its Respond.
class ResponseSlot {
 public:
  ResponseSlot(std::shared_ptr<Gate> gate, std::weak_ptr<Session> session, std::uint64_t request)
      : gate_(std::move(gate)), session_(std::move(session)), request_(request) {}
  ~ResponseSlot() {
    if (used_.load()) return;
    try {
      deliver(json_error(500, "internal", "the handler dropped the request without responding"));
    } catch (...) {
    }
  }
  ResponseSlot(const ResponseSlot&) = delete;
  ResponseSlot& operator=(const ResponseSlot&) = delete;

  void deliver(HttpResponse response);
  bool used() const { return used_.load(); }

 private:
  std::shared_ptr<Gate> gate_;
  std::weak_ptr<Session> session_;
  std::uint64_t request_;
  std::atomic<bool> used_{false};
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ServerCore& server, std::uint64_t id, tcp::socket&& socket, std::string remote)
      : server_(server),
        id_(id),
        stream_(std::move(socket)),
        buffer_(std::max<std::size_t>(server.config.max_header_bytes, 8192) + kBufferSlack),
        remote_(std::move(remote)) {}

  asio::any_io_executor executor() { return stream_.get_executor(); }

  // All of these run on the session's strand.
  void start() {
    deadline_ = std::chrono::steady_clock::now() + server_.config.read_timeout;
    wait_for_request();
  }

  void drain() {
    close_after_ = true;
    if (state_ == State::kIdle || state_ == State::kLingering) close();
  }

  void close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    server_.unregister(id_);
  }

  // Only while no I/O thread runs (stop()); does not touch the registry.
  void close_now() {
    state_ = State::kClosed;
    stream_.close();
  }

  void on_response(std::uint64_t request, HttpResponse response) {
    if (state_ != State::kHandling || request != request_id_) return;
    write_response(std::move(response), false, false);
  }

 private:
  enum class State { kIdle, kReading, kHandling, kWriting, kLingering, kClosed };

  void wait_for_request() {
    if (close_after_ || server_.draining.load()) {
      close();
      return;
    }
    state_ = State::kIdle;
    parser_.reset();
    if (buffer_.size() > 0) {  // pipelined: the next request is already here
      begin_request();
      return;
    }
    if (first_) {
      stream_.expires_at(deadline_);
    } else {
      stream_.expires_after(server_.config.idle_timeout);
    }
    stream_.async_read_some(buffer_.prepare(kFirstReadSize),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->on_first_bytes(ec, n);
                            });
  }

  void on_first_bytes(beast::error_code ec, std::size_t n) {
    if (state_ == State::kClosed) return;
    if (ec) {
      close();
      return;
    }
    buffer_.commit(n);
    begin_request();
  }

  void begin_request() {
    state_ = State::kReading;
    const auto now = std::chrono::steady_clock::now();
    if (!first_) deadline_ = now + server_.config.read_timeout;
    first_ = false;
    request_start_ = now;
    parser_.emplace();
    const auto header_limit = std::min<std::size_t>(server_.config.max_header_bytes,
                                                    std::numeric_limits<std::uint32_t>::max());
    parser_->header_limit(static_cast<std::uint32_t>(header_limit));
    body_limit_ = server_.config.max_body_bytes;
    parser_->body_limit(static_cast<std::uint64_t>(body_limit_));
    stream_.expires_at(deadline_);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void remember_request_line() {
    const auto& req = parser_->get();
    method_ = std::string(req.method_string());
    HttpRequest probe;
    probe.method = method_;
    probe.path = std::string(req.target().substr(0, req.target().find('?')));
    route_ = server_.router.route_name(probe);
    version_ = req.version() == 10 ? 10 : 11;
    head_ = req.method() == http::verb::head;
  }

  void on_header(beast::error_code ec) {
    if (state_ == State::kClosed) return;
    remember_request_line();
    if (ec) {
      on_read_error(ec, true);
      return;
    }
    const auto& req = parser_->get();
    if (req.version() != 10 && req.version() != 11) {
      error_response(505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are supported");
      return;
    }
    // RFC 9112 3.2: a 1.1 request without Host, or any with more than one,
    // is answered 400 (two Hosts could name different sites to different
    // readers of the request).
    const auto hosts = req.count(http::field::host);
    if (hosts > 1 || (hosts == 0 && req.version() == 11)) {
      error_response(400, "bad_request",
                     hosts > 1 ? "more than one Host header" : "HTTP/1.1 request without Host");
      return;
    }
    if (auto te = req.find(http::field::transfer_encoding); te != req.end()) {
      if (!text::iequals(text::trim(sv(te->value()), text::kHttpWhitespace), "chunked")) {
        error_response(501, "not_implemented",
                       "unsupported Transfer-Encoding (only \"chunked\" is supported)");
        return;
      }
    }
    // Admission, from the head alone: a refused request (no route, no token)
    // is answered without reading its body, so it cannot make us buffer one.
    head_request_ = head_of(req);
    keep_alive_ = req.keep_alive();
    Admitted admitted = server_.router.admit(head_request_);
    route_ = std::move(admitted.route_name);
    if (admitted.refusal) {
      if (parser_->is_done()) {  // nothing more to read: the connection may go on
        write_response(std::move(*admitted.refusal), false, false);
      } else {
        keep_alive_ = false;
        write_response(std::move(*admitted.refusal), true, true);
      }
      return;
    }
    body_limit_ = std::min(server_.config.max_body_bytes,
                           admitted.max_body_bytes.value_or(server_.config.max_body_bytes));
    const auto cl = parser_->content_length();
    if (cl && *cl > body_limit_) {  // the parser checks this too (chunked bodies)
      error_response(413, "payload_too_large", body_limit_message());
      return;
    }
    parser_->body_limit(static_cast<std::uint64_t>(body_limit_));
    if (parser_->is_done()) {
      on_request();
      return;
    }
    if (req.version() == 11) {
      if (auto expect = req.find(http::field::expect); expect != req.end()) {
        if (!text::iequals(text::trim(sv(expect->value()), text::kHttpWhitespace),
                           "100-continue")) {
          error_response(417, "expectation_failed", "only Expect: 100-continue is supported");
          return;
        }
        asio::async_write(stream_, asio::buffer(kContinue, sizeof kContinue - 1),
                          [self = shared_from_this()](beast::error_code wec, std::size_t) {
                            if (self->state_ == State::kClosed) return;
                            if (wec) {
                              self->close();
                              return;
                            }
                            self->read_body();
                          });
        return;
      }
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (self->state_ == State::kClosed) return;
                       if (ec) {
                         self->on_read_error(ec, false);
                       } else {
                         self->on_request();
                       }
                     });
  }

  std::string body_limit_message() const {
    if (body_limit_ == 0) return route_ + " takes no request body";
    return "request body larger than " + std::to_string(body_limit_) + " bytes, the limit of " +
           (body_limit_ < server_.config.max_body_bytes ? route_ : "http.max_body_bytes");
  }

  // The request without its body: what admission sees.
  HttpRequest head_of(const http::request<http::string_body>& req) const {
    HttpRequest head;
    head.method = method_;
    head.target = std::string(req.target());
    const auto q = head.target.find('?');
    head.path = head.target.substr(0, q);
    if (q != std::string::npos) head.query = head.target.substr(q + 1);
    for (const auto& field : req) {
      auto name = text::lower(sv(field.name_string()));
      auto [it, inserted] = head.headers.emplace(std::move(name), std::string(field.value()));
      if (!inserted) it->second += ", " + std::string(field.value());
    }
    head.remote = remote_;
    return head;
  }

  void on_read_error(const beast::error_code& ec, bool in_header) {
    if (is_disconnect(ec)) {
      close();
    } else if (ec == http::error::header_limit ||
               (in_header && ec == http::error::buffer_overflow)) {
      error_response(431, "header_too_large",
                     "request headers larger than " +
                         std::to_string(server_.config.max_header_bytes) + " bytes");
    } else if (ec == http::error::body_limit || ec == http::error::buffer_overflow) {
      error_response(413, "payload_too_large", body_limit_message());
    } else if (ec == http::error::bad_version && well_formed_version()) {
      error_response(505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are supported");
    } else if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
      error_response(400, "bad_request", "malformed request: " + ec.message());
    } else {
      log::debug(kLog, remote_ + ": read failed: " + ec.message());
      close();
    }
  }

  // The unparsed request line ends in "HTTP/<digit>.<digit>": a version we
  // do not speak (505) rather than garbage (400).
  bool well_formed_version() const {
    const auto data = buffer_.data();
    const std::string_view bytes(static_cast<const char*>(data.data()), data.size());
    const auto eol = bytes.find("\r\n");
    if (eol == std::string_view::npos || eol < 8) return false;
    const auto v = bytes.substr(eol - 8, 8);
    return v.substr(0, 5) == "HTTP/" && std::isdigit(static_cast<unsigned char>(v[5])) != 0 &&
           v[6] == '.' && std::isdigit(static_cast<unsigned char>(v[7])) != 0;
  }

  void on_request() {
    auto& req = parser_->get();
    HttpRequest request = std::move(head_request_);
    request.body = std::move(req.body());
    keep_alive_ = req.keep_alive();

    state_ = State::kHandling;
    ++request_id_;
    auto slot = std::make_shared<ResponseSlot>(server_.gate, weak_from_this(), request_id_);
    Respond respond = [slot](HttpResponse response) { slot->deliver(std::move(response)); };
    const std::string where = method_ + " " + request.path;
    try {
      server_.router.dispatch(std::move(request), std::move(respond));
      return;
    } catch (const std::exception& e) {
      log::error(kLog, "handler for " + where + " threw: " + e.what());
    } catch (...) {
      log::error(kLog, "handler for " + where + " threw a non-standard exception");
    }
    if (!slot->used()) slot->deliver(json_error(500, "internal", "internal error"));
  }

  void error_response(int status, std::string_view code, std::string message) {
    keep_alive_ = false;
    write_response(json_error(status, code, message), true, true);
  }

  void write_response(HttpResponse response, bool must_close, bool linger) {
    state_ = State::kWriting;
    if (response.status < 200 || response.status > 599) {
      log::error(kLog, "handler for " + method_ + " " + route_ + " returned status " +
                           std::to_string(response.status));
      response = json_error(500, "internal", "internal error");
    }
    const int status = response.status;
    const bool keep_alive = keep_alive_ && !must_close && !close_after_ && !server_.draining.load();
    auto msg = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(status), version_);
    msg->set(http::field::content_type, response.content_type);
    bool has_cache_control = false;
    for (auto& [name, value] : response.headers) {
      if (!valid_header(name, value)) {
        log::warn(kLog, "dropped an invalid response header from " + route_);
        continue;
      }
      const auto lname = text::lower(name);
      if (lname == "content-length" || lname == "transfer-encoding" || lname == "connection") {
        continue;
      }
      if (lname == "content-type") {
        msg->set(http::field::content_type, value);
        continue;
      }
      has_cache_control = has_cache_control || lname == "cache-control";
      msg->insert(name, value);
    }
    if (!has_cache_control) msg->set(http::field::cache_control, "no-store");
    msg->keep_alive(keep_alive);
    if (status == 204 || status == 304) {
      msg->erase(http::field::content_type);
    } else if (head_) {
      msg->content_length(response.body.size());
    } else {
      msg->body() = std::move(response.body);
      msg->content_length(msg->body().size());
    }
    stream_.expires_after(server_.config.read_timeout);
    http::async_write(
        stream_, *msg,
        [self = shared_from_this(), msg, status, keep_alive, linger](
            beast::error_code ec, std::size_t) { self->on_write(ec, status, keep_alive, linger); });
  }

  void on_write(beast::error_code ec, int status, bool keep_alive, bool linger) {
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - request_start_;
    if (server_.observer) server_.observer(method_, route_, status, took);
    if (log::enabled(LogLevel::kDebug)) {
      log::debug(kLog, remote_ + " " + method_ + " " + route_ + " " + std::to_string(status) + " " +
                           std::to_string(took.count() * 1000.0) + "ms");
    }
    if (state_ == State::kClosed) return;
    if (ec) {
      close();
    } else if (keep_alive) {
      wait_for_request();
    } else if (linger && !close_after_) {
      linger_close();
    } else {
      close();
    }
  }

  // After an error response the client may still be sending: stop sending,
  // read and drop what comes for a moment, then close, so that the client
  // reads the response instead of a connection reset.
  void linger_close() {
    state_ = State::kLingering;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
      close();
      return;
    }
    stream_.expires_after(std::min(server_.config.read_timeout, kLingerMax));
    buffer_.consume(buffer_.size());
    discard();
  }

  void discard() {
    stream_.async_read_some(buffer_.prepare(kFirstReadSize),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (self->state_ != State::kLingering) return;
                              self->lingered_ += n;
                              self->buffer_.consume(self->buffer_.size());
                              if (ec || self->lingered_ > kLingerMaxBytes) {
                                self->close();
                              } else {
                                self->discard();
                              }
                            });
  }

  ServerCore& server_;
  const std::uint64_t id_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const std::string remote_;

  State state_ = State::kIdle;
  bool first_ = true;         // no request read yet on this connection
  bool close_after_ = false;  // draining: close after the current response
  std::chrono::steady_clock::time_point deadline_;
  std::size_t lingered_ = 0;
  HttpRequest head_request_;    // between on_header and on_request
  std::size_t body_limit_ = 0;  // of the request being read

  // The request being served.
  std::uint64_t request_id_ = 0;
  std::string method_;
  std::string route_ = "unmatched";
  unsigned version_ = 11;
  bool head_ = false;
  bool keep_alive_ = false;
  std::chrono::steady_clock::time_point request_start_;
};

void ResponseSlot::deliver(HttpResponse response) {
  if (used_.exchange(true)) {
    log::warn(kLog, "a handler responded more than once; the extra response was dropped");
    return;
  }
  std::shared_lock lock(gate_->mutex);
  if (!gate_->open) return;
  auto session = session_.lock();
  if (!session) return;
  auto executor = session->executor();
  asio::post(executor, [session = std::move(session), request = request_,
                        response = std::move(response)]() mutable {
    session->on_response(request, std::move(response));
  });
}

}  // namespace

// ---------------------------------------------------------------------------

template <class Fn>
void ServerCore::run_on_acceptor(Fn fn) {
  if (!running()) {
    fn();
    return;
  }
  std::promise<void> done;
  auto finished = done.get_future();
  asio::dispatch(acceptor.get_executor(), [&fn, &done] {
    fn();
    done.set_value();
  });
  finished.wait();
}

void ServerCore::do_accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void ServerCore::on_accept(const beast::error_code& ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
  if (ec) {
    log::warn(kLog, "accept failed: " + ec.message());
    accept_retry.expires_after(kAcceptRetry);  // e.g. out of file descriptors
    accept_retry.async_wait([this](beast::error_code wec) {
      if (!wec && acceptor.is_open()) do_accept();
    });
    return;
  }
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  const auto peer = socket.remote_endpoint(ignored);
  if (ignored) {  // already gone
    do_accept();
    return;
  }
  std::shared_ptr<Session> session;
  std::string refusal_log;
  {
    std::lock_guard lock(mutex);
    if (!stopped && sessions.size() >= config.max_connections) {
      // Closed at once: no buffer, no timer. Logged at most once a minute.
      refused.fetch_add(1);
      ++refused_unlogged;
      const auto now = std::chrono::steady_clock::now();
      if (now - last_refusal_log >= kRefusalLogEvery) {
        refusal_log = "connection limit http.max_connections (" +
                      std::to_string(config.max_connections) + ") reached: refused " +
                      std::to_string(refused_unlogged) +
                      " connection(s) since the last report, e.g. from " + endpoint_str(peer);
        refused_unlogged = 0;
        last_refusal_log = now;
      }
    } else if (!stopped) {
      const auto id = next_id++;
      session = std::make_shared<Session>(*this, id, std::move(socket), endpoint_str(peer));
      sessions.emplace(id, session);
    }
  }
  if (!refusal_log.empty()) log::warn(kLog, refusal_log);
  if (!session && socket.is_open()) {
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }
  if (session) {
    auto executor = session->executor();
    asio::post(executor, [session = std::move(session)] { session->start(); });
  }
  do_accept();
}

void ServerCore::unregister(std::uint64_t id) {
  std::shared_ptr<Session> keep;  // destroyed outside the lock
  {
    std::lock_guard lock(mutex);
    auto it = sessions.find(id);
    if (it == sessions.end()) return;
    keep = std::move(it->second);
    sessions.erase(it);
  }
  cv.notify_all();
}

void ServerCore::close_acceptor() {
  beast::error_code ec;
  acceptor.close(ec);
  accept_retry.cancel();
}

// ---------------------------------------------------------------------------

HttpServer::HttpServer(const HttpConfig& config, const Router& router, RequestObserver observer)
    : impl_(std::make_unique<Impl>(config, router, std::move(observer))) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::listen(const std::string& host, std::uint16_t port) {
  std::string h = host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  const std::string shown =
      (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + std::to_string(port);
  const auto fail = [&](const std::string& why) {
    throw std::runtime_error("cannot listen on " + shown + ": " + why);
  };
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) fail("the server is stopped");
  }
  if (impl_->acceptor.is_open()) fail("already listening");

  beast::error_code ec;
  tcp::endpoint endpoint;
  const auto address = asio::ip::make_address(h, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, port);
  } else {
    tcp::resolver resolver(impl_->ioc);
    const auto results = resolver.resolve(h, std::to_string(port), tcp::resolver::passive, ec);
    if (ec || results.empty())
      fail("cannot resolve host \"" + h + "\"" + (ec ? ": " + ec.message() : ""));
    endpoint = results.begin()->endpoint();
  }

  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (ec) fail(ec.message());
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    acceptor.close(ignored);
    fail(ec.message());
  }
  impl_->port = acceptor.local_endpoint(ec).port();
}

std::uint16_t HttpServer::port() const { return impl_->port.load(); }

void HttpServer::start(int threads) {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->started || impl_->stopped) return;
    impl_->started = true;
  }
  impl_->work.emplace(impl_->ioc.get_executor());
  if (impl_->acceptor.is_open()) {
    asio::post(impl_->acceptor.get_executor(), [impl = impl_.get()] { impl->do_accept(); });
  }
  const int n = std::max(1, threads);
  for (int i = 0; i < n; ++i) {
    impl_->threads.emplace_back([impl = impl_.get()] {
      for (;;) {
        try {
          impl->ioc.run();
          return;
        } catch (const std::exception& e) {
          log::error(kLog, std::string("I/O thread caught: ") + e.what());
        } catch (...) {
          log::error(kLog, "I/O thread caught a non-standard exception");
        }
      }
    });
  }
}

void HttpServer::stop_accepting() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return;
  }
  impl_->run_on_acceptor([impl = impl_.get()] { impl->close_acceptor(); });
}

bool HttpServer::drain(std::chrono::milliseconds timeout) {
  stop_accepting();
  impl_->draining = true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(impl_->mutex);
  if (impl_->stopped || !impl_->running()) return impl_->sessions.empty();
  for (auto& [id, session] : impl_->sessions) {
    asio::post(session->executor(), [s = session] { s->drain(); });
  }
  if (impl_->cv.wait_until(lock, deadline, [&] { return impl_->sessions.empty(); })) return true;

  log::warn(kLog, "drain: " + std::to_string(impl_->sessions.size()) +
                      " connection(s) still busy after " + std::to_string(timeout.count()) +
                      "ms; closing them");
  for (auto& [id, session] : impl_->sessions) {
    asio::post(session->executor(), [s = session] { s->close(); });
  }
  impl_->cv.wait_for(lock, kForceCloseWait, [&] { return impl_->sessions.empty(); });
  return false;
}

void HttpServer::stop() {
  auto& impl = *impl_;
  {
    std::lock_guard lock(impl.mutex);
    if (impl.stopped) return;
    impl.stopped = true;
  }
  impl.draining = true;
  {
    std::unique_lock gate(impl.gate->mutex);  // waits for deliveries in progress
    impl.gate->open = false;
  }
  impl.work.reset();
  impl.ioc.stop();
  for (auto& t : impl.threads) {
    if (t.joinable()) t.join();
  }
  // No I/O thread runs now: close everything from here.
  impl.close_acceptor();
  std::unordered_map<std::uint64_t, std::shared_ptr<Session>> sessions;
  {
    std::lock_guard lock(impl.mutex);
    sessions.swap(impl.sessions);
  }
  for (auto& [id, session] : sessions) session->close_now();
  sessions.clear();
  impl.cv.notify_all();
}

std::size_t HttpServer::open_connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->sessions.size();
}

std::uint64_t HttpServer::refused_connections() const { return impl_->refused.load(); }

}  // namespace pgdc
