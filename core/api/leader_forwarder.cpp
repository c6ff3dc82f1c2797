// LeaderForwarder: one Beast client exchange per forwarded request, all on
// the forwarder's own single I/O thread (so exchanges need no strands and
// never run on, or block, the server's I/O threads).
//
// A fresh connection per request: forwarding happens only in the short
// window while the Service still routes to a follower, so a pool would mostly
// hold connections to a leader that is about to change. Each connection
// carries the leader proof first (one extra round trip), then the request.
#include "api/leader_forwarder.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <future>
#include <optional>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "api/leader_proof.h"
#include "http/json_errors.h"
#include "log/logger.h"
#include "text/text.h"

namespace pgdc {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::string_view kLog = "api";

// Connection-scoped headers (RFC 9110 7.6.1) and those the client library
// sets itself: never copied across the proxy.
bool hop_by_hop(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "connection",    "keep-alive", "proxy-connection",    "transfer-encoding",  "te",
      "trailer",       "upgrade",    "proxy-authorization", "proxy-authenticate", "host",
      "content-length"};
  const std::string lower = text::lower(name);
  return std::find(std::begin(kNames), std::end(kNames), lower) != std::end(kNames);
}

// "host:port" or "[v6]:port" -> {host, port}; nullopt if malformed.
std::optional<std::pair<std::string, std::string>> split_address(const std::string& address) {
  std::string host;
  std::string port;
  if (!address.empty() && address.front() == '[') {
    const auto close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return std::nullopt;
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    const auto colon = address.rfind(':');
    if (colon == std::string::npos || address.find(':') != colon) return std::nullopt;
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return std::nullopt;
  }
  const int p = std::stoi(port);
  if (p < 1 || p > 65535) return std::nullopt;
  return std::pair{host, port};
}

std::string client_ip(const std::string& remote) {
  // "ip:port" or "[v6]:port" as the server formats peers.
  if (!remote.empty() && remote.front() == '[') {
    const auto close = remote.find(']');
    return close == std::string::npos ? remote : remote.substr(1, close - 1);
  }
  const auto colon = remote.rfind(':');
  return colon == std::string::npos ? remote : remote.substr(0, colon);
}

}  // namespace

namespace {

// One forwarded request. Lives as long as an operation holds it; answers the
// client exactly once (502/503/504 if it dies without the leader's reply).
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(asio::io_context& io, const LeaderForwarder::Options& options,
           std::atomic<std::size_t>& in_flight, std::unordered_set<Exchange*>& live,
           std::string holder, std::string address, Respond respond)
      : options_(options),
        in_flight_(in_flight),
        live_(live),
        resolver_(io),
        stream_(io),
        deadline_(io),
        holder_(std::move(holder)),
        address_(std::move(address)),
        nonce_(api::new_nonce()),
        respond_(std::move(respond)) {
    parser_.body_limit(options_.max_body_bytes);
    parser_.header_limit(64 * 1024);
    proof_parser_.body_limit(4096);
    proof_parser_.header_limit(16 * 1024);
    live_.insert(this);
  }

  ~Exchange() {
    abort();
    live_.erase(this);
    --in_flight_;
  }

  // Answers 503 now (if not answered yet) and ends the exchange's I/O; its
  // pending operations then complete with errors and release it.
  void abort() {
    if (!done_) {
      answer(
          json_error(503, "not_leader", "this replica is stopping; the request was not forwarded"));
    }
    deadline_.cancel();
    resolver_.cancel();
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

  void start(HttpRequest&& in, std::string host, std::string port) {
    build_request(std::move(in));
    deadline_.expires_after(options_.timeout);
    deadline_.async_wait([self = shared_from_this()](const beast::error_code& ec) {
      if (ec) return;  // cancelled: the exchange finished first
      self->timed_out_ = true;
      self->resolver_.cancel();
      beast::error_code ignored;
      self->stream_.socket().close(ignored);
    });
    resolver_.async_resolve(host, port,
                            [self = shared_from_this()](const beast::error_code& ec,
                                                        const tcp::resolver::results_type& r) {
                              self->on_resolve(ec, r);
                            });
  }

 private:
  void build_request(HttpRequest&& in) {
    const http::verb verb = http::string_to_verb(in.method);
    if (verb == http::verb::unknown) {
      request_.method_string(in.method);
    } else {
      request_.method(verb);
    }
    request_.target(in.target);
    request_.version(11);
    std::string forwarded_for;
    for (const auto& [name, value] : in.headers) {
      if (hop_by_hop(name)) continue;
      if (name == "x-forwarded-for") {
        forwarded_for = value;
        continue;
      }
      request_.set(name, value);
    }
    const std::string ip = client_ip(in.remote);
    request_.set("x-forwarded-for", forwarded_for.empty() ? ip : forwarded_for + ", " + ip);
    request_.set(LeaderForwarder::kForwardedByHeader, options_.identity);
    request_.set(http::field::host, address_);
    request_.set(http::field::connection, "close");
    request_.body() = std::move(in.body);
    request_.prepare_payload();

    proof_request_.method(http::verb::get);
    proof_request_.target(std::string(api::kLeaderProofPath) + "?nonce=" + nonce_);
    proof_request_.version(11);
    proof_request_.set(http::field::host, address_);
    proof_request_.set(LeaderForwarder::kForwardedByHeader, options_.identity);
    proof_request_.set(http::field::connection, "keep-alive");
  }

  // True when the peer's answer proves it is holder_ at address_ and holds
  // the secret; otherwise `why` says what was wrong.
  bool verified(std::string& why) {
    auto& reply = proof_parser_.get();
    if (reply.result_int() != 200) {
      why = "it answered HTTP " + std::to_string(reply.result_int()) + " to the leader proof";
      return false;
    }
    const auto j = nlohmann::json::parse(reply.body(), nullptr, false);
    const auto field = [&](const char* name) {
      const auto it = j.is_object() ? j.find(name) : j.end();
      return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    const std::string identity = field("identity");
    if (identity != holder_ || field("address") != address_) {
      why = "its proof names another replica or address";
      return false;
    }
    if (!api::proof_matches(api::ForwardSecret{options_.secret}, nonce_, identity, address_,
                            field("proof"))) {
      why = "its proof does not match the replicas' forward secret";
      return false;
    }
    return true;
  }

  void on_resolve(const beast::error_code& ec, const tcp::resolver::results_type& results) {
    if (ec) return fail(ec, "resolve");
    stream_.async_connect(
        results, [self = shared_from_this()](const beast::error_code& e, const tcp::endpoint&) {
          if (e) return self->fail(e, "connect");
          http::async_write(self->stream_, self->proof_request_,
                            [self](const beast::error_code& we, std::size_t) {
                              if (we) return self->fail(we, "ask for the proof of");
                              http::async_read(self->stream_, self->buffer_, self->proof_parser_,
                                               [self](const beast::error_code& re, std::size_t) {
                                                 self->on_proof(re);
                                               });
                            });
        });
  }

  // Ends the exchange before the request was sent: answers `r` and closes.
  void refuse(HttpResponse r) {
    deadline_.cancel();
    answer(std::move(r));
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

  void on_proof(const beast::error_code& ec) {
    if (ec) return fail(ec, "read the proof of");
    if (proof_parser_.get().result_int() == 503) {  // a replica, not leading (yet)
      HttpResponse r = json_error(503, "not_leader",
                                  "this replica is not the leader, and the replica the leadership "
                                  "record names (\"" +
                                      holder_ + "\" at " + address_ + ") is not leading; retry");
      r.headers.emplace_back("Retry-After", "1");
      return refuse(std::move(r));
    }
    std::string why;
    if (!verified(why)) {
      log::warn(kLog, "not forwarding to " + address_ + " (named for holder \"" + holder_ +
                          "\"): " + why + "; the leadership record may have been edited");
      return refuse(json_error(502, "leader_unverified",
                               "the leader's address " + address_ + " (holder \"" + holder_ +
                                   "\") did not prove it is the leader: " + why +
                                   "; the request was not forwarded"));
    }
    http::async_write(
        stream_, request_, [self = shared_from_this()](const beast::error_code& we, std::size_t) {
          if (we) return self->fail(we, "send");
          http::async_read(self->stream_, self->buffer_, self->parser_,
                           [self](const beast::error_code& re, std::size_t) { self->on_read(re); });
        });
  }

  void on_read(const beast::error_code& ec) {
    if (ec) return fail(ec, "read the reply");
    deadline_.cancel();
    auto& reply = parser_.get();
    HttpResponse out;
    out.status = static_cast<int>(reply.result_int());
    out.content_type = std::string(reply[http::field::content_type]);
    out.body = std::move(reply.body());
    for (const auto& field : reply) {
      const std::string_view name(field.name_string().data(), field.name_string().size());
      if (hop_by_hop(name) || field.name() == http::field::content_type) continue;
      out.headers.emplace_back(std::string(name), std::string(field.value()));
    }
    out.headers.emplace_back("X-PgDog-Control-Forwarded-By", options_.identity);
    answer(std::move(out));
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  void fail(const beast::error_code& ec, std::string_view step) {
    deadline_.cancel();
    if (timed_out_) {
      answer(json_error(504, "leader_timeout",
                        "the leader at " + address_ + " did not answer within " +
                            std::to_string(options_.timeout.count()) + "ms"));
    } else {
      answer(json_error(
          502, "leader_unreachable",
          "could not " + std::string(step) + " the leader at " + address_ + ": " + ec.message()));
    }
    log::debug(kLog, "forward to " + address_ + " failed at " + std::string(step) + ": " +
                         (timed_out_ ? std::string("timeout") : ec.message()));
  }

  void answer(HttpResponse response) {
    if (done_) return;
    done_ = true;
    response.headers.emplace_back("X-PgDog-Control-Leader-Address", address_);
    respond_(std::move(response));
  }

  const LeaderForwarder::Options& options_;
  std::atomic<std::size_t>& in_flight_;
  std::unordered_set<Exchange*>& live_;
  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  asio::steady_timer deadline_;
  std::string holder_;
  std::string address_;
  std::string nonce_;
  Respond respond_;
  http::request<http::empty_body> proof_request_;
  http::response_parser<http::string_body> proof_parser_;
  http::request<http::string_body> request_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  bool done_ = false;
  bool timed_out_ = false;
};

}  // namespace

struct LeaderForwarder::Impl {
  explicit Impl(Options o) : options(std::move(o)), work(asio::make_work_guard(io)) {
    thread = std::thread([this] { io.run(); });
  }
  ~Impl() {
    work.reset();
    io.stop();
    if (thread.joinable()) thread.join();
    // Exchanges still queued are destroyed with io below; each answers 503.
  }

  Options options;
  std::atomic<std::size_t> in_flight{0};
  std::atomic<bool> stopping{false};
  std::unordered_set<Exchange*> live;  // touched only on the I/O thread
  asio::io_context io;                 // after the above: exchanges use them while io dies
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::thread thread;
};

LeaderForwarder::LeaderForwarder(Options options)
    : impl_(std::make_shared<Impl>(std::move(options))) {}

LeaderForwarder::~LeaderForwarder() = default;

bool LeaderForwarder::can_forward(const HttpRequest& request, const std::string& address) {
  return request.headers.find(kForwardedByHeader) == request.headers.end() &&
         split_address(address).has_value();
}

void LeaderForwarder::forward(HttpRequest&& request, const std::string& holder,
                              const std::string& address, Respond respond) {
  const auto parts = split_address(address);
  if (!parts) {
    respond(json_error(502, "leader_unreachable",
                       "the leader's advertised address \"" + address + "\" is not host:port"));
    return;
  }
  if (impl_->stopping) {
    respond(json_error(503, "not_leader", "this replica is not the leader and is stopping; retry"));
    return;
  }
  if (impl_->in_flight.fetch_add(1) >= impl_->options.max_in_flight) {
    --impl_->in_flight;
    respond(json_error(503, "not_leader",
                       "this replica is not the leader and too many requests are being "
                       "forwarded already; retry"));
    return;
  }
  // Built on the forwarder's thread: the exchange's I/O objects belong to it.
  asio::post(impl_->io, [impl = impl_.get(), request = std::move(request), holder, address,
                         host = parts->first, port = parts->second,
                         respond = std::move(respond)]() mutable {
    if (impl->stopping) {  // shutdown() ran after this was queued
      --impl->in_flight;
      respond(json_error(503, "not_leader", "this replica is not the leader and is stopping"));
      return;
    }
    auto exchange = std::make_shared<Exchange>(impl->io, impl->options, impl->in_flight, impl->live,
                                               holder, address, std::move(respond));
    exchange->start(std::move(request), std::move(host), std::move(port));
  });
}

void LeaderForwarder::shutdown() {
  if (impl_->stopping.exchange(true)) return;
  std::promise<void> done;
  asio::post(impl_->io, [impl = impl_.get(), &done] {
    // abort() may release the last reference of nothing here: exchanges are
    // owned by their pending operations, which now complete with errors.
    for (Exchange* e : std::vector<Exchange*>(impl->live.begin(), impl->live.end())) e->abort();
    done.set_value();
  });
  done.get_future().wait();
}

std::size_t LeaderForwarder::in_flight() const { return impl_->in_flight.load(); }

}  // namespace pgdc
