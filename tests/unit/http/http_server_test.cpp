// HttpServer over real sockets on 127.0.0.1, port 0.
#include "http/http_server.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

#include "http/json_errors.h"
#include "http/test_client.h"

namespace pgdc {
namespace {

using namespace std::chrono_literals;
using test::http_request;
using test::TestConnection;

HttpResponse text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() {
    config_.max_header_bytes = 1024;
    config_.max_body_bytes = 1024;
    config_.read_timeout = 300ms;
    config_.idle_timeout = 2000ms;
    router_.add("GET", "/hello", "/hello",
                [](HttpRequest&&, Respond respond) { respond(text(200, "hello\n")); });
    router_.add("POST", "/echo", "/echo", [](HttpRequest&& r, Respond respond) {
      respond(text(
          200, r.method + " " + r.path + "?" + r.query + " " + r.body + " " + r.headers["x-test"]));
    });
  }
  ~HttpServerTest() override {
    if (server_) server_->stop();
    for (auto& t : helpers_) t.join();
  }

  void start(int threads = 2) {
    server_ = std::make_unique<HttpServer>(config_, router_, observer());
    server_->listen("127.0.0.1", 0);
    server_->start(threads);
  }
  std::uint16_t port() const { return server_->port(); }

  // Waits for the server's connection count to reach n.
  bool wait_connections(std::size_t n, std::chrono::milliseconds timeout = 3000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (server_->open_connections() == n) return true;
      std::this_thread::sleep_for(5ms);
    }
    return server_->open_connections() == n;
  }

  struct Observed {
    std::string method;
    std::string route;
    int status;
    std::chrono::duration<double> latency;
  };
  RequestObserver observer() {
    return [this](std::string_view method, std::string_view route, int status,
                  std::chrono::duration<double> latency) {
      std::lock_guard lock(observed_mutex_);
      observed_.push_back({std::string(method), std::string(route), status, latency});
      observed_cv_.notify_all();
    };
  }

  HttpConfig config_;
  Router router_;
  std::mutex observed_mutex_;
  std::condition_variable observed_cv_;
  std::vector<Observed> observed_;
  std::unique_ptr<HttpServer> server_;
  std::vector<std::thread> helpers_;
};

TEST_F(HttpServerTest, ServesARequest) {
  start();
  EXPECT_NE(port(), 0);
  auto r = http_request(port(), "GET", "/hello");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello\n");
  EXPECT_EQ(r->header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r->header("content-length"), "6");
  EXPECT_EQ(r->header("cache-control"), "no-store");
}

TEST_F(HttpServerTest, PassesMethodPathQueryHeadersBody) {
  start();
  auto r = http_request(port(), "POST", "/echo?a=1&b=2", "data", "X-Test: yes\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST /echo?a=1&b=2 data yes");
}

TEST_F(HttpServerTest, ChunkedBodyIsDecoded) {
  start();
  TestConnection c(port());
  ASSERT_TRUE(
      c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST /echo? abcde ");
}

TEST_F(HttpServerTest, UnknownPathIs404Json) {
  start();
  auto r = http_request(port(), "GET", "/nope");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(r->body)["error"], "not_found");
}

TEST_F(HttpServerTest, WrongMethodIs405WithAllow) {
  start();
  auto r = http_request(port(), "DELETE", "/hello");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "GET, HEAD");
  EXPECT_EQ(nlohmann::json::parse(r->body)["error"], "method_not_allowed");
}

TEST_F(HttpServerTest, HeadSendsHeadersOnly) {
  start();
  TestConnection c(port());
  ASSERT_TRUE(
      c.send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto head = c.read_response(5s, /*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-length"), "6");
  EXPECT_EQ(head->body, "");
  // The next response starts right after the headers: no body was sent.
  auto get = c.read_response();
  ASSERT_TRUE(get);
  EXPECT_EQ(get->body, "hello\n");
}

TEST_F(HttpServerTest, OversizedHeadersAre431) {
  start();
  TestConnection c(port());
  ASSERT_TRUE(
      c.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(nlohmann::json::parse(r->body)["error"], "header_too_large");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.wait_closed(3s));
}

TEST_F(HttpServerTest, OversizedContentLengthIs413BeforeTheBody) {
  start();
  TestConnection c(port());
  // Only the headers are sent: the answer must not wait for 10 kB of body.
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n"));
  auto r = c.read_response(2s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(nlohmann::json::parse(r->body)["error"], "payload_too_large");
  EXPECT_TRUE(c.wait_closed(3s));
}

TEST_F(HttpServerTest, OversizedChunkedBodyIs413) {
  start();
  TestConnection c(port());
  ASSERT_TRUE(
      c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             "800\r\n" +
             std::string(0x800, 'x') + "\r\n0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_F(HttpServerTest, MalformedRequestIs400AndServerGoesOn) {
  start();
  {
    TestConnection c(port());
    ASSERT_TRUE(c.send("THIS IS NOT HTTP\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(nlohmann::json::parse(r->body)["error"], "bad_request");
    EXPECT_TRUE(c.wait_closed(3s));
  }
  {
    TestConnection c(port());
    ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nBad Header Without Colon\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
  }
  {
    TestConnection c(port());
    ASSERT_TRUE(c.send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)));  // TLS
    auto r = c.read_response();
    if (r) {
      EXPECT_EQ(r->status, 400);
    }
    EXPECT_TRUE(c.wait_closed(3s));
  }
  auto ok = http_request(port(), "GET", "/hello");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(HttpServerTest, UnsupportedTransferEncodingIs501) {
  start();
  TestConnection c(port());
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nxxxx"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 501);
  EXPECT_TRUE(c.wait_closed(3s));
}

TEST_F(HttpServerTest, ContentLengthWithTransferEncodingIs400) {
  start();
  TestConnection c(port());
  ASSERT_TRUE(
      c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
             "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST_F(HttpServerTest, UnsupportedVersionIs505) {
  start();
  TestConnection c(port());
  ASSERT_TRUE(c.send("GET /hello HTTP/2.0\r\nHost: x\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 505);
  TestConnection garbage(port());
  ASSERT_TRUE(garbage.send("GET /hello HTTQ/1.1\r\nHost: x\r\n\r\n"));
  r = garbage.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

// RFC 9112 3.2: Host is required in 1.1 and never repeated.
TEST_F(HttpServerTest, MissingOrRepeatedHostIs400) {
  start();
  for (const std::string& head :
       {std::string("GET /hello HTTP/1.1\r\n\r\n"),
        std::string("GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        std::string("GET /hello HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"),
        std::string("GET /hello HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n")}) {
    TestConnection c(port());
    ASSERT_TRUE(c.send(head));
    auto r = c.read_response();
    ASSERT_TRUE(r) << head;
    EXPECT_EQ(r->status, 400) << head;
    EXPECT_NE(r->body.find("Host"), std::string::npos) << r->body;
    EXPECT_TRUE(c.wait_closed(3s)) << head;
  }
  // HTTP/1.0 predates Host: optional there. An empty Host is allowed (RFC
  // 9112 3.2, for a target without an authority).
  for (const std::string& head : {std::string("GET /hello HTTP/1.0\r\n\r\n"),
                                  std::string("GET /hello HTTP/1.1\r\nHost:\r\n\r\n")}) {
    TestConnection c(port());
    ASSERT_TRUE(c.send(head));
    auto r = c.read_response();
    ASSERT_TRUE(r) << head;
    EXPECT_EQ(r->status, 200) << head;
  }
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAlive) {
  start();
  {
    TestConnection c(port());
    ASSERT_TRUE(c.send("GET /hello HTTP/1.0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(c.wait_closed(3s));
  }
  TestConnection c(port());
  ASSERT_TRUE(c.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  ASSERT_TRUE(c.read_response());
  ASSERT_TRUE(c.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  ASSERT_TRUE(c.read_response());
}

TEST_F(HttpServerTest, SlowlorisIsClosedAfterReadTimeoutWhileOthersAreServed) {
  start(1);
  TestConnection slow(port());
  ASSERT_TRUE(slow.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: "));
  // Keeps trickling one byte every 50 ms: the deadline is per request, not
  // per byte.
  std::atomic<bool> stop_trickle{false};
  TestConnection trickler(port());
  ASSERT_TRUE(trickler.send("GET /hello HTTP/1.1\r\n"));
  std::thread trickle([&] {
    while (!stop_trickle && trickler.send("a")) std::this_thread::sleep_for(50ms);
  });

  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) {  // no ASSERT before the join below
    auto r = http_request(port(), "GET", "/hello");
    EXPECT_TRUE(r && r->status == 200);
  }
  EXPECT_TRUE(slow.wait_closed(3s));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 2500ms);
  const auto trickle_end = std::chrono::steady_clock::now() + 3s;
  bool trickler_closed = false;
  while (!trickler_closed && std::chrono::steady_clock::now() < trickle_end) {
    trickler_closed = trickler.wait_closed(100ms);
  }
  stop_trickle = true;
  trickle.join();
  EXPECT_TRUE(trickler_closed);
}

TEST_F(HttpServerTest, SilentConnectionIsClosedAfterReadTimeout) {
  start();
  TestConnection c(port());
  ASSERT_TRUE(wait_connections(1));
  EXPECT_TRUE(c.wait_closed(3s));
  EXPECT_TRUE(wait_connections(0));
}

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  start();
  TestConnection c(port());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->header("connection"), "close");
  }
  EXPECT_EQ(server_->open_connections(), 1u);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  TestConnection c(port());
  ASSERT_TRUE(
      c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
             "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
             "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto a = c.read_response();
  auto b = c.read_response();
  auto d = c.read_response();
  ASSERT_TRUE(a && b && d);
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(b->body, "POST /echo? hi ");
  EXPECT_EQ(d->status, 404);
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  config_.idle_timeout = 200ms;
  start();
  TestConnection c(port());
  ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(c.read_response());
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.wait_closed(3s));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 150ms);
}

TEST_F(HttpServerTest, ExpectContinue) {
  start();
  TestConnection c(port());
  ASSERT_TRUE(
      c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
             "Expect: 100-continue\r\n\r\n"));
  // read_response skips the interim 100; send the body once it arrives.
  std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(c.send("abc"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "POST /echo? abc ");
}

TEST_F(HttpServerTest, ThrowingHandlerIs500AndServerSurvives) {
  router_.add("GET", "/throw", "/throw",
              [](HttpRequest&&, Respond) { throw std::runtime_error("boom"); });
  router_.add("GET", "/throw-int", "/throw-int", [](HttpRequest&&, Respond) { throw 42; });
  start();
  for (const char* path : {"/throw", "/throw-int"}) {
    auto r = http_request(port(), "GET", path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 500);
    EXPECT_EQ(nlohmann::json::parse(r->body)["error"], "internal");
  }
  auto ok = http_request(port(), "GET", "/hello");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(HttpServerTest, AsyncHandlerRespondsLaterFromAnotherThread) {
  router_.add("GET", "/later", "/later", [this](HttpRequest&&, Respond respond) {
    helpers_.emplace_back([respond] {
      std::this_thread::sleep_for(100ms);
      respond(text(202, "later\n"));
    });
  });
  start(1);
  TestConnection c(port());
  ASSERT_TRUE(c.send("GET /later HTTP/1.1\r\nHost: x\r\n\r\n"));
  // Meanwhile the I/O thread is free for others.
  auto other = http_request(port(), "GET", "/hello");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200);
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(r->body, "later\n");
  // The connection stays usable.
  ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(c.read_response());
}

TEST_F(HttpServerTest, SecondRespondIsIgnoredAndDroppedRespondIs500) {
  router_.add("GET", "/twice", "/twice", [](HttpRequest&&, Respond respond) {
    respond(text(200, "first"));
    respond(text(201, "second"));
  });
  router_.add("GET", "/drop", "/drop", [](HttpRequest&&, Respond) {});
  start();
  TestConnection c(port());
  ASSERT_TRUE(
      c.send("GET /twice HTTP/1.1\r\nHost: x\r\n\r\nGET /drop HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto a = c.read_response();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->body, "first");
  auto b = c.read_response();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, 500);
}

TEST_F(HttpServerTest, HandlerHeadersAreSanitized) {
  router_.add("GET", "/headers", "/headers", [](HttpRequest&&, Respond respond) {
    HttpResponse r = text(200, "x");
    r.headers = {{"X-Ok", "1"},
                 {"X-Evil", "a\r\nSet-Cookie: pwned=1"},
                 {"Content-Length", "999"},
                 {"Cache-Control", "max-age=60"}};
    respond(std::move(r));
  });
  start();
  auto r = http_request(port(), "GET", "/headers");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("x-ok"), "1");
  EXPECT_EQ(r->header("x-evil"), "");
  EXPECT_EQ(r->header("set-cookie"), "");
  EXPECT_EQ(r->header("content-length"), "1");
  EXPECT_EQ(r->header("cache-control"), "max-age=60");
  EXPECT_EQ(r->body, "x");
}

TEST_F(HttpServerTest, InvalidStatusBecomes500) {
  router_.add("GET", "/bad", "/bad",
              [](HttpRequest&&, Respond respond) { respond(text(42, "x")); });
  start();
  auto r = http_request(port(), "GET", "/bad");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
}

// A route that refuses from the head: the body is never read, so a client
// announcing 10 MB gets its 401 at once, without sending a byte of it.
TEST_F(HttpServerTest, RefusedRequestsAreAnsweredBeforeTheirBody) {
  Admission needs_key;
  needs_key.check = [](const HttpRequest& head) -> std::optional<HttpResponse> {
    if (head.headers.count("x-key") != 0) return std::nullopt;
    return json_error(401, "unauthorized", "no key");
  };
  std::atomic<int> handled{0};
  router_.add(
      "POST", "/guarded", "/guarded",
      [&handled](HttpRequest&&, Respond respond) {
        ++handled;
        respond(text(200, "in"));
      },
      needs_key);
  config_.max_body_bytes = 64 * 1024 * 1024;
  start();
  TestConnection c(port());
  ASSERT_TRUE(c.send("POST /guarded HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"));
  auto r = c.read_response(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.wait_closed(3s));
  EXPECT_EQ(handled.load(), 0);

  // Without a body to skip, the connection goes on (keep-alive).
  TestConnection k(port());
  ASSERT_TRUE(k.send("POST /guarded HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
  r = k.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  ASSERT_TRUE(
      k.send("POST /guarded HTTP/1.1\r\nHost: x\r\nX-Key: 1\r\n"
             "Content-Length: 2\r\n\r\nhi"));
  r = k.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(handled.load(), 1);

  // Unknown paths too: 404 without reading the body.
  TestConnection u(port());
  ASSERT_TRUE(u.send("POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"));
  r = u.read_response(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(HttpServerTest, RoutesBoundTheirBodies) {
  Admission small;
  small.max_body_bytes = 10;
  router_.add(
      "POST", "/small", "/small",
      [](HttpRequest&& r, Respond respond) { respond(text(200, r.body)); }, small);
  start();
  auto r = http_request(port(), "POST", "/small", "0123456789");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = http_request(port(), "POST", "/small", "0123456789A");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("larger than 10 bytes, the limit of /small"), std::string::npos)
      << r->body;
  // Chunked: the limit holds while reading.
  TestConnection c(port());
  ASSERT_TRUE(
      c.send("POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             "8\r\n01234567\r\n8\r\n89ABCDEF\r\n0\r\n\r\n"));
  auto chunked = c.read_response();
  ASSERT_TRUE(chunked);
  EXPECT_EQ(chunked->status, 413);
  // GET routes take no body.
  r = http_request(port(), "GET", "/hello", "x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("/hello takes no request body"), std::string::npos) << r->body;
}

TEST_F(HttpServerTest, ConnectionsBeyondTheCapAreClosedAtOnce) {
  config_.max_connections = 2;
  start();
  TestConnection a(port());
  TestConnection b(port());
  ASSERT_TRUE(wait_connections(2));
  TestConnection refused(port());  // accepted by the kernel, closed by the server
  EXPECT_TRUE(refused.wait_closed(3s));
  EXPECT_EQ(server_->refused_connections(), 1u);
  EXPECT_EQ(server_->open_connections(), 2u);
  // The open ones are served; once one goes, a new one is too.
  ASSERT_TRUE(a.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = a.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  b.close();
  ASSERT_TRUE(wait_connections(1));
  auto fresh = http_request(port(), "GET", "/hello");
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->status, 200);
  EXPECT_EQ(server_->refused_connections(), 1u);
}

TEST_F(HttpServerTest, ReportsEachResponseToTheObserver) {
  start();
  ASSERT_TRUE(http_request(port(), "GET", "/hello"));
  ASSERT_TRUE(http_request(port(), "GET", "/nope/123"));
  ASSERT_TRUE(http_request(port(), "BREW", "/hello"));
  // Reported when the write completes, which may be just after the client
  // has read the response.
  std::unique_lock lock(observed_mutex_);
  ASSERT_TRUE(observed_cv_.wait_for(lock, 5s, [this] { return observed_.size() >= 3; }));
  std::vector<std::string> seen;
  for (const auto& o : observed_) {
    seen.push_back(o.method + " " + o.route + " " + std::to_string(o.status));
    EXPECT_GE(o.latency.count(), 0.0);
    EXPECT_LT(o.latency.count(), 5.0);
  }
  // The route pattern, never the raw target; "unmatched" when nothing matched. (Two
  // I/O threads: reports of different connections may come in any order.)
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"BREW unmatched 405", "GET /hello 200",
                                            "GET unmatched 404"}));
}

TEST_F(HttpServerTest, ListenErrorIsClear) {
  start();
  HttpServer other(config_, router_);
  try {
    other.listen("127.0.0.1", port());
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot listen on 127.0.0.1:" + std::to_string(port()) + ": Address already in use");
  }
  HttpServer third(config_, router_);
  EXPECT_THROW(third.listen("no-such-host.invalid", 0), std::runtime_error);
}

TEST_F(HttpServerTest, ListenOnIpv6Loopback) {
  HttpServer v6(config_, router_);
  try {
    v6.listen("[::1]", 0);
  } catch (const std::runtime_error& e) {
    GTEST_SKIP() << "no IPv6 loopback: " << e.what();
  }
  EXPECT_NE(v6.port(), 0);
  v6.start(1);
  v6.stop();
}

TEST_F(HttpServerTest, StopAcceptingRefusesNewConnections) {
  start();
  TestConnection kept(port());
  ASSERT_TRUE(kept.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(kept.read_response());
  server_->stop_accepting();
  TestConnection refused(port());
  EXPECT_FALSE(refused.connected());
  // The established connection still works.
  ASSERT_TRUE(kept.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(kept.read_response());
}

TEST_F(HttpServerTest, DrainWaitsForInFlightHandlerAndClosesIdle) {
  std::promise<void> entered;
  router_.add("GET", "/slow", "/slow", [this, &entered](HttpRequest&&, Respond respond) {
    entered.set_value();
    helpers_.emplace_back([respond] {
      std::this_thread::sleep_for(300ms);
      respond(text(200, "slow done\n"));
    });
  });
  start();
  TestConnection idle(port());
  ASSERT_TRUE(idle.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(idle.read_response());
  TestConnection busy(port());
  ASSERT_TRUE(busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  entered.get_future().wait();

  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(server_->drain(3s));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 200ms);
  EXPECT_EQ(server_->open_connections(), 0u);
  auto r = busy.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "slow done\n");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(idle.wait_closed(1s));
  EXPECT_TRUE(busy.wait_closed(1s));
}

TEST_F(HttpServerTest, DrainTimesOutAndForceCloses) {
  std::mutex mutex;
  std::vector<Respond> parked;
  router_.add("GET", "/never", "/never", [&](HttpRequest&&, Respond respond) {
    std::lock_guard lock(mutex);
    parked.push_back(std::move(respond));
  });
  start();
  TestConnection c(port());
  ASSERT_TRUE(c.send("GET /never HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(wait_connections(1));
  for (int i = 0; i < 200; ++i) {
    std::lock_guard lock(mutex);
    if (!parked.empty()) break;
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_FALSE(server_->drain(200ms));
  EXPECT_EQ(server_->open_connections(), 0u);
  EXPECT_TRUE(c.wait_closed(1s));
  std::lock_guard lock(mutex);
  ASSERT_EQ(parked.size(), 1u);
  parked.front()(text(200, "too late"));  // harmless
}

TEST_F(HttpServerTest, StopWithNeverRespondingHandlerReturns) {
  std::mutex mutex;
  std::vector<Respond> parked;
  router_.add("GET", "/never", "/never", [&](HttpRequest&&, Respond respond) {
    std::lock_guard lock(mutex);
    parked.push_back(std::move(respond));
  });
  start();
  std::vector<std::unique_ptr<TestConnection>> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(std::make_unique<TestConnection>(port()));
    ASSERT_TRUE(clients.back()->send("GET /never HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  for (int i = 0; i < 400; ++i) {
    {
      std::lock_guard lock(mutex);
      if (parked.size() == clients.size()) break;
    }
    std::this_thread::sleep_for(5ms);
  }
  const auto started = std::chrono::steady_clock::now();
  server_->stop();
  server_->stop();  // idempotent
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  for (auto& c : clients) EXPECT_TRUE(c->wait_closed(1s));

  std::lock_guard lock(mutex);
  ASSERT_EQ(parked.size(), clients.size());
  parked[0](text(200, "after stop"));  // harmless after stop
  server_.reset();
  parked[1](text(200, "after destruction"));  // harmless after destruction
  // A respond from another thread racing with nothing at all.
  std::thread([r = parked[2]] { r(text(200, "thread")); }).join();
  parked.clear();  // dropping the rest is harmless too
}

TEST_F(HttpServerTest, RespondRacingWithStop) {
  std::mutex mutex;
  std::vector<Respond> parked;
  router_.add("GET", "/never", "/never", [&](HttpRequest&&, Respond respond) {
    std::lock_guard lock(mutex);
    parked.push_back(std::move(respond));
  });
  start(2);
  std::vector<std::unique_ptr<TestConnection>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(std::make_unique<TestConnection>(port()));
    ASSERT_TRUE(clients.back()->send("GET /never HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  for (int i = 0; i < 400; ++i) {
    {
      std::lock_guard lock(mutex);
      if (parked.size() == clients.size()) break;
    }
    std::this_thread::sleep_for(5ms);
  }
  std::vector<Respond> responds;
  {
    std::lock_guard lock(mutex);
    responds.swap(parked);
  }
  std::thread responder([&responds] {
    for (auto& r : responds) r(text(200, "race"));
  });
  server_->stop();
  responder.join();
  server_.reset();
}

TEST_F(HttpServerTest, HundredConcurrentClients) {
  router_.add("GET", "/async", "/async", [this](HttpRequest&&, Respond respond) {
    static std::mutex m;
    std::lock_guard lock(m);
    helpers_.emplace_back([respond] { respond(text(200, "async\n")); });
  });
  start(2);
  constexpr int kClients = 100;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      auto r = http_request(port(), "GET", i % 2 == 0 ? "/hello" : "/async");
      if (r && r->status == 200) ++ok;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), kClients);
}

TEST_F(HttpServerTest, DestructorStopsARunningServer) {
  start();
  TestConnection c(port());
  ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(c.read_response());
  server_.reset();
  EXPECT_TRUE(c.wait_closed(1s));
}

TEST_F(HttpServerTest, StopWithoutStart) {
  HttpServer s(config_, router_);
  s.listen("127.0.0.1", 0);
  s.stop();
  EXPECT_TRUE(s.drain(10ms));
}

}  // namespace
}  // namespace pgdc
