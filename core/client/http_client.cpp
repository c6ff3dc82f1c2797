// A single-threaded Beast client: the exchange runs on a private io_context
// until it completes or fails. One deadline bounds the whole exchange: a
// steady_timer covers the name lookup, then beast::tcp_stream's expiry (an
// absolute time point, the same one) covers connect, write and read, so a
// peer that trickles bytes cannot stretch it. (A lookup blocked inside the
// system resolver is abandoned at the deadline but its thread is joined when
// the io_context ends: numeric hosts never get there.)
#include "client/http_client.h"

#include <cstdio>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "text/text.h"

namespace pgdc::client {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Read errors that mean "these bytes are not an HTTP reply" rather than "the
// connection failed".
bool is_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_version).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

std::string secs(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(ms.count()) / 1000.0);
  return std::string(buf) + "s";
}

}  // namespace

ClientResult http_exchange(const BaseUrl& url, const ClientRequest& request) {
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  asio::steady_timer lookup_deadline(io);
  beast::flat_buffer buffer;
  http::request<http::string_body> req;
  http::response_parser<http::string_body> parser;
  parser.body_limit(request.max_body_bytes);
  parser.header_limit(64 * 1024);

  req.method_string(request.method);
  req.target(url.prefix + request.path);
  req.version(11);
  req.set(http::field::host, url.authority());
  req.set(http::field::user_agent, "pgdog-control-cli/" PGDC_VERSION);
  req.set(http::field::accept, "application/json");
  req.set(http::field::connection, "close");
  if (!request.token.empty()) req.set(http::field::authorization, "Bearer " + request.token);
  if (!request.body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = request.body;
  }
  req.prepare_payload();

  const std::string where = url.str();
  const auto end = std::chrono::steady_clock::now() + request.timeout;
  ClientResult result;
  bool lookup_timed_out = false;
  auto fail = [&](const beast::error_code& ec, ClientError::Kind kind, const std::string& what) {
    if (ec == beast::error::timeout || lookup_timed_out) {
      result.error = {ClientError::Kind::kTimeout,
                      "no reply from " + where + " within " + secs(request.timeout) + " (" +
                          (lookup_timed_out ? "resolving " + url.host : what) + ")"};
    } else {
      result.error = {kind, text::one_line(what + ": " + ec.message())};
    }
    beast::error_code ignored;
    stream.socket().close(ignored);
  };

  lookup_deadline.expires_at(end);
  lookup_deadline.async_wait([&](const beast::error_code& ec) {
    if (ec) return;  // cancelled: the lookup finished first
    lookup_timed_out = true;
    resolver.cancel();
  });

  resolver.async_resolve(
      url.host, url.port,
      [&](const beast::error_code& ec, const tcp::resolver::results_type& results) {
        lookup_deadline.cancel();
        if (ec) {
          return fail(ec, ClientError::Kind::kConnect,
                      "cannot resolve " + url.host + " (" + where + ")");
        }
        stream.expires_at(end);
        stream.async_connect(results, [&](const beast::error_code& cec, const tcp::endpoint&) {
          if (cec) return fail(cec, ClientError::Kind::kConnect, "cannot connect to " + where);
          http::async_write(stream, req, [&](const beast::error_code& wec, std::size_t) {
            if (wec) {
              return fail(wec, ClientError::Kind::kConnect, "cannot send the request to " + where);
            }
            http::async_read(
                stream, buffer, parser, [&](const beast::error_code& rec, std::size_t) {
                  if (rec == http::error::body_limit) {
                    return fail(rec, ClientError::Kind::kMalformed,
                                "the reply from " + where + " is larger than " +
                                    std::to_string(request.max_body_bytes) + " bytes");
                  }
                  if (rec && is_parse_error(rec)) {
                    return fail(rec, ClientError::Kind::kMalformed,
                                "malformed reply from " + where +
                                    " (not HTTP/1.x; is --url the pgdog-control API?)");
                  }
                  if (rec) {
                    return fail(rec, ClientError::Kind::kConnect,
                                "the connection to " + where + " broke before a complete reply");
                  }
                  auto& reply = parser.get();
                  result.reply = ClientReply{static_cast<int>(reply.result_int()),
                                             std::string(reply[http::field::content_type]),
                                             std::move(reply.body())};
                  beast::error_code ignored;
                  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
                  stream.socket().close(ignored);
                });
          });
        });
      });

  io.run();
  if (!result.reply && result.error.message.empty()) {
    result.error = {ClientError::Kind::kConnect,
                    "the exchange with " + where + " did not complete"};
  }
  return result;
}

}  // namespace pgdc::client
