// CpprestTransport against a real local HTTPS server: bearer auth and the
// one retry after a 401, TLS verification (CA and host name), per-request
// timeouts, transport errors, Retry-After, and watch streaming, stop and idle
// timeout.
#include "client/cpprest_transport.h"

#include <atomic>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "kube_client/test_tls_server.h"

namespace pgdc::kube {
namespace {

using namespace std::chrono_literals;
using testing::Exchange;
using testing::SeenRequest;
using testing::TempDir;
using testing::test_certs;
using testing::TestServer;
using Clock = std::chrono::steady_clock;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kSlowdown = 3;  // sanitizers, and ctest running tests in parallel
#else
constexpr int kSlowdown = 1;
#endif

ClusterConfig config_for(const std::string& server, const std::string& token = "tok-1") {
  ClusterConfig c;
  c.server = server;
  c.ca_pem = test_certs().ca_pem;
  c.token = token;
  c.source = "test";
  return c;
}

std::unique_ptr<CpprestTransport> make(const ClusterConfig& c,
                                       std::shared_ptr<TokenSource> tokens = nullptr) {
  std::string error;
  TransportOptions options;
  options.user_agent = "pgdc-test/1";
  options.name = "kube-test";
  auto t = CpprestTransport::create(c, options, error, std::move(tokens));
  EXPECT_TRUE(t) << error;
  return t;
}

ApiRequest get(const std::string& path, std::chrono::milliseconds timeout = 5s) {
  ApiRequest r;
  r.method = "GET";
  r.path = path;
  r.timeout = timeout;
  return r;
}

std::chrono::milliseconds since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t);
}

TEST(CpprestTransport, GetAndPutCarryTheBearerToken) {
  TestServer server([](const SeenRequest& r, Exchange& ex) {
    if (r.authorization != "Bearer tok-1") return ex.respond(401, "{}");
    if (r.method == "GET") return ex.respond(200, R"({"kind":"Lease"})");
    ex.respond(200, r.body);
  });
  auto t = make(config_for(server.url()));
  const std::string path =
      "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l?fieldSelector=metadata.name%3Dl";
  const ApiResponse g = t->send(get(path));
  EXPECT_EQ(g.status, 200) << g.transport_error;
  EXPECT_EQ(g.body, R"({"kind":"Lease"})");
  EXPECT_FALSE(g.timed_out);

  ApiRequest put;
  put.method = "PUT";
  put.path = "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l";
  put.body = R"({"spec":{"holderIdentity":"a"}})";
  const ApiResponse p = t->send(put);
  EXPECT_EQ(p.status, 200) << p.transport_error;
  EXPECT_EQ(p.body, put.body);

  ApiRequest patch = put;
  patch.method = "PATCH";
  patch.content_type = "application/merge-patch+json";
  EXPECT_EQ(t->send(patch).status, 200);

  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, path);
  EXPECT_EQ(seen[0].user_agent, "pgdc-test/1");
  EXPECT_EQ(seen[1].method, "PUT");
  EXPECT_EQ(seen[1].content_type, "application/json");
  EXPECT_EQ(seen[1].body, put.body);
  EXPECT_EQ(seen[2].method, "PATCH");
  EXPECT_EQ(seen[2].content_type, "application/merge-patch+json");
}

TEST(CpprestTransport, RetriesOnceWithTheRotatedTokenAfter401) {
  TempDir dir;
  const std::string file = dir.write("token", "old");
  TestServer server([](const SeenRequest& r, Exchange& ex) {
    ex.respond(r.authorization == "Bearer new" ? 200 : 401, "{}");
  });
  // A long interval: only the 401 makes the transport re-read the file.
  auto tokens = std::make_shared<TokenSource>("", file, 1h);
  ClusterConfig c = config_for(server.url(), "");
  auto t = make(c, tokens);
  EXPECT_EQ(t->send(get("/version")).status, 401);  // old token, retried once with the same
  dir.write("token", "new");
  const ApiResponse r = t->send(get("/version"));
  EXPECT_EQ(r.status, 200) << r.transport_error;
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[2].authorization, "Bearer old");
  EXPECT_EQ(seen[3].authorization, "Bearer new");
}

TEST(CpprestTransport, TwoUnauthorizedInARowReturn401) {
  TestServer server([](const SeenRequest&, Exchange& ex) { ex.respond(401, R"({"code":401})"); });
  auto t = make(config_for(server.url()));
  const ApiResponse r = t->send(get("/version"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, R"({"code":401})");
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(CpprestTransport, ServerFromAnotherCaIsRefused) {
  TestServer server([](const SeenRequest&, Exchange& ex) { ex.respond(200, "{}"); });
  ClusterConfig c = config_for(server.url());
  c.ca_pem = test_certs().other_ca_pem;
  auto t = make(c);
  const ApiResponse r = t->send(get("/version"));
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.transport_error.find("TLS handshake with " + server.url() + " failed"),
            std::string::npos)
      << r.transport_error;
  EXPECT_NE(r.transport_error.find("unable to get local issuer certificate"), std::string::npos)
      << r.transport_error;
  EXPECT_TRUE(server.requests().empty());
}

TEST(CpprestTransport, CertificateWhoseSanDoesNotNameTheHostIsRefused) {
  // Signed by the trusted CA, CN=127.0.0.1, but SAN DNS:wrong.example only.
  TestServer server({TestServer::Cert::kWrongSan},
                    [](const SeenRequest&, Exchange& ex) { ex.respond(200, "{}"); });
  auto t = make(config_for(server.url()));
  const ApiResponse r = t->send(get("/version"));
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.transport_error.find("IP address mismatch"), std::string::npos) << r.transport_error;
  EXPECT_TRUE(server.requests().empty());

  // The same by DNS name: the certificate names wrong.example, not localhost.
  auto by_name = make(config_for("https://localhost:" + std::to_string(server.port())));
  const ApiResponse n = by_name->send(get("/version"));
  EXPECT_EQ(n.status, 0);
  EXPECT_NE(n.transport_error.find("hostname mismatch"), std::string::npos) << n.transport_error;
  EXPECT_TRUE(server.requests().empty());
}

TEST(CpprestTransport, DnsNameAndIpv6LiteralThatTheCertificateNamesAreAccepted) {
  TestServer server([](const SeenRequest&, Exchange& ex) { ex.respond(200, "{}"); });
  auto by_name = make(config_for("https://localhost:" + std::to_string(server.port())));
  const ApiResponse n = by_name->send(get("/version"));
  EXPECT_EQ(n.status, 200) << n.transport_error;

  std::unique_ptr<TestServer> v6;
  try {
    v6 = std::make_unique<TestServer>(
        TestServer::Options{TestServer::Cert::kGood, false, "::1"},
        [](const SeenRequest&, Exchange& ex) { ex.respond(200, "{}"); });
  } catch (const std::exception& e) {
    GTEST_SKIP() << "no IPv6 loopback: " << e.what();
  }
  auto t6 = make(config_for(v6->url()));
  const ApiResponse r6 = t6->send(get("/version"));
  EXPECT_EQ(r6.status, 200) << r6.transport_error;
}

TEST(CpprestTransport, ClientCertificateIsPresented) {
  TestServer server({TestServer::Cert::kGood, /*require_client_cert=*/true},
                    [](const SeenRequest&, Exchange& ex) { ex.respond(200, "{}"); });
  ClusterConfig c = config_for(server.url(), "");
  c.client_cert_pem = test_certs().client_cert_pem;
  c.client_key_pem = test_certs().client_key_pem;
  auto t = make(c);
  const ApiResponse r = t->send(get("/version"));
  EXPECT_EQ(r.status, 200) << r.transport_error;
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_NE(seen[0].client_subject.find("CN=pgdc-client"), std::string::npos);
  EXPECT_EQ(seen[0].authorization, "");

  auto without = make(config_for(server.url()));
  EXPECT_EQ(without->send(get("/version")).status, 0);
}

TEST(CpprestTransport, HungServerTimesOutWithinTheRequestTimeout) {
  TestServer server([](const SeenRequest&, Exchange& ex) { ex.wait_for_stop(30s); });
  auto t = make(config_for(server.url()));
  const auto start = Clock::now();
  const ApiResponse r = t->send(get("/version", 300ms));
  const auto elapsed = since(start);
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.timed_out);
  EXPECT_NE(r.transport_error.find("within 300 ms"), std::string::npos) << r.transport_error;
  EXPECT_GE(elapsed, 290ms);
  EXPECT_LT(elapsed, kSlowdown * 500ms);
}

TEST(CpprestTransport, TlsHandshakeThatNeverStartsTimesOut) {
  testing::SilentListener listener;
  auto t = make(config_for("https://127.0.0.1:" + std::to_string(listener.port())));
  const auto start = Clock::now();
  const ApiResponse r = t->send(get("/version", 300ms));
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(since(start), kSlowdown * 500ms);
}

TEST(CpprestTransport, TheClientRecoversAfterATimeout) {
  TestServer server([&](const SeenRequest& r, Exchange& ex) {
    if (r.target == "/hang") {
      ex.wait_for_stop(30s);
      return;
    }
    ex.respond(200, "{}");
  });
  auto t = make(config_for(server.url()));
  EXPECT_TRUE(t->send(get("/hang", 200ms)).timed_out);
  const ApiResponse r = t->send(get("/version", 10s));
  EXPECT_EQ(r.status, 200) << r.transport_error;
}

TEST(CpprestTransport, ConnectionRefusedIsAClearError) {
  const int port = testing::closed_port();
  auto t = make(config_for("https://127.0.0.1:" + std::to_string(port)));
  const auto start = Clock::now();
  const ApiResponse r = t->send(get("/version", 2s));
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.transport_error,
            "GET /version: cannot connect to https://127.0.0.1:" + std::to_string(port) +
                " (connection refused or host unreachable)");
  EXPECT_LT(since(start), kSlowdown * 1000ms);
}

TEST(CpprestTransport, RetryAfterIsParsed) {
  TestServer server([](const SeenRequest& r, Exchange& ex) {
    if (r.target == "/seconds") return ex.respond(429, "{}", {{"Retry-After", "7"}});
    if (r.target == "/past") {
      return ex.respond(503, "{}", {{"Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"}});
    }
    ex.respond(200, "{}");
  });
  auto t = make(config_for(server.url()));
  const ApiResponse a = t->send(get("/seconds"));
  EXPECT_EQ(a.status, 429);
  ASSERT_TRUE(a.retry_after.has_value());
  EXPECT_EQ(*a.retry_after, 7s);
  const ApiResponse b = t->send(get("/past"));
  EXPECT_EQ(b.status, 503);
  ASSERT_TRUE(b.retry_after.has_value());
  EXPECT_EQ(*b.retry_after, 0s);
  EXPECT_FALSE(t->send(get("/none")).retry_after.has_value());
}

TEST(CpprestTransport, RedirectsAreNotFollowed) {
  TestServer server([](const SeenRequest&, Exchange& ex) {
    ex.respond(302, "", {{"Location", "https://127.0.0.1:1/elsewhere"}});
  });
  auto t = make(config_for(server.url()));
  EXPECT_EQ(t->send(get("/version")).status, 302);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(CpprestTransport, CreateRejectsBadConfig) {
  std::string error;
  ClusterConfig c = config_for("http://127.0.0.1:1");
  EXPECT_FALSE(CpprestTransport::create(c, {}, error));
  EXPECT_EQ(error, "kubernetes: test: server \"http://127.0.0.1:1\" must be an https:// URL");
  c = config_for("https://127.0.0.1:1");
  c.ca_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  EXPECT_FALSE(CpprestTransport::create(c, {}, error));
  EXPECT_EQ(error.rfind("kubernetes: test: CA bundle: ", 0), 0u) << error;
  c = config_for("https://127.0.0.1:1");
  c.client_cert_pem = test_certs().client_cert_pem;
  c.client_key_pem = test_certs().client_key_pem;
  EXPECT_TRUE(CpprestTransport::create(c, {}, error)) << error;
  c.client_cert_pem = test_certs().other_ca_pem;
  EXPECT_FALSE(CpprestTransport::create(c, {}, error));
  EXPECT_EQ(error, "kubernetes: test: the client key does not belong to the client certificate");
}

// ---- watch -------------------------------------------------------------------------

TEST(CpprestTransportWatch, DeliversEachLineAsItArrives) {
  std::promise<void> got_first;
  auto got_first_future = got_first.get_future().share();
  std::atomic<bool> first_seen_before_second{false};
  TestServer server([&](const SeenRequest&, Exchange& ex) {
    ex.start_chunked(200);
    ex.chunk("{\"type\":\"ADDED\",\"n\":1}\n");
    // Line 2 is written only once the client has handed line 1 to on_line.
    first_seen_before_second = got_first_future.wait_for(5s) == std::future_status::ready;
    ex.chunk("{\"type\":\"MODIFIED\",");  // a line split across chunks
    ex.chunk("\"n\":2}\r\n\n");
    ex.end_chunks();
  });
  auto t = make(config_for(server.url()));
  std::vector<std::string> lines;
  const WatchResult r = t->watch("/apis/coordination.k8s.io/v1/namespaces/ns/leases?watch=true", 5s,
                                 [&](std::string_view line) {
                                   lines.emplace_back(line);
                                   if (lines.size() == 1) got_first.set_value();
                                   return true;
                                 },
                                 {});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.transport_error, "");
  EXPECT_FALSE(r.stopped);
  EXPECT_FALSE(r.timed_out);
  EXPECT_TRUE(first_seen_before_second);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], R"({"type":"ADDED","n":1})");
  EXPECT_EQ(lines[1], R"({"type":"MODIFIED","n":2})");
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].authorization, "Bearer tok-1");
}

TEST(CpprestTransportWatch, StopTokenCancelsAHangingWatchPromptly) {
  TestServer server([](const SeenRequest&, Exchange& ex) {
    ex.start_chunked(200);
    ex.chunk("{\"n\":1}\n");
    ex.wait_for_stop(30s);
  });
  auto t = make(config_for(server.url()));
  std::stop_source stop;
  std::promise<void> first;
  std::atomic<int> lines{0};
  Clock::time_point stopped_at;
  std::thread stopper([&] {
    first.get_future().wait();
    std::this_thread::sleep_for(100ms);
    stopped_at = Clock::now();
    stop.request_stop();
  });
  const WatchResult r = t->watch(
      "/w", 30s,
      [&](std::string_view) {
        if (lines++ == 0) first.set_value();
        return true;
      },
      stop.get_token());
  const auto returned = Clock::now();
  stopper.join();
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(lines, 1);
  EXPECT_LT(returned - stopped_at, kSlowdown * 100ms);
}

TEST(CpprestTransportWatch, StopBeforeTheResponseArrives) {
  TestServer server([](const SeenRequest&, Exchange& ex) { ex.wait_for_stop(30s); });
  auto t = make(config_for(server.url()));
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    stop.request_stop();
  });
  const auto start = Clock::now();
  const WatchResult r = t->watch(
      "/w", 30s, [](std::string_view) { return true; }, stop.get_token());
  stopper.join();
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.status, 0);
  EXPECT_LT(since(start), kSlowdown * 500ms);
}

TEST(CpprestTransportWatch, IdleTimeoutEndsIt) {
  TestServer server([](const SeenRequest&, Exchange& ex) {
    ex.start_chunked(200);
    ex.chunk("{\"n\":1}\n");
    ex.wait_for_stop(30s);
  });
  auto t = make(config_for(server.url()));
  int lines = 0;
  const auto start = Clock::now();
  // The idle timeout also bounds the wait for the response headers.
  const WatchResult r = t->watch("/w", 1000ms,
                                 [&](std::string_view) {
                                   ++lines;
                                   return true;
                                 },
                                 {});
  const auto elapsed = since(start);
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.transport_error, "watch GET /w: nothing received for 1000 ms");
  EXPECT_EQ(lines, 1);
  EXPECT_GE(elapsed, 990ms);
  EXPECT_LT(elapsed, kSlowdown * 2000ms);
}

TEST(CpprestTransportWatch, OnLineFalseEndsIt) {
  TestServer server([](const SeenRequest&, Exchange& ex) {
    ex.start_chunked(200);
    ex.chunk("a\nb\nc\n");
    ex.wait_for_stop(30s);
  });
  auto t = make(config_for(server.url()));
  std::vector<std::string> lines;
  const WatchResult r = t->watch("/w", 5s,
                                 [&](std::string_view l) {
                                   lines.emplace_back(l);
                                   return l != "b";
                                 },
                                 {});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.transport_error, "");
  EXPECT_EQ(lines, (std::vector<std::string>{"a", "b"}));
}

TEST(CpprestTransportWatch, ErrorStatusReturnsTheBody) {
  TestServer server(
      [](const SeenRequest&, Exchange& ex) { ex.respond(403, R"({"reason":"Forbidden"})"); });
  auto t = make(config_for(server.url()));
  const WatchResult r = t->watch("/w", 5s, [](std::string_view) { return true; }, {});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, R"({"reason":"Forbidden"})");
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(CpprestTransportWatch, RetriesOnceWithTheRotatedTokenAfter401) {
  TempDir dir;
  const std::string file = dir.write("token", "old");
  TestServer server([](const SeenRequest& r, Exchange& ex) {
    if (r.authorization != "Bearer new") return ex.respond(401, "{}");
    ex.start_chunked(200);
    ex.chunk("x\n");
    ex.end_chunks();
  });
  auto tokens = std::make_shared<TokenSource>("", file, 1h);
  auto t = make(config_for(server.url(), ""), tokens);
  dir.write("token", "new");
  std::vector<std::string> lines;
  const WatchResult r = t->watch("/w", 5s,
                                 [&](std::string_view l) {
                                   lines.emplace_back(l);
                                   return true;
                                 },
                                 {});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(lines, std::vector<std::string>{"x"});
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(CpprestTransportWatch, LeaseTrafficDoesNotQueueBehindAWatch) {
  TestServer server([](const SeenRequest& r, Exchange& ex) {
    if (r.target == "/w") {
      ex.start_chunked(200);
      ex.wait_for_stop(30s);
      return;
    }
    ex.respond(200, "{}");
  });
  auto t = make(config_for(server.url()));
  std::stop_source stop;
  std::thread watcher([&] {
    t->watch(
        "/w", 30s, [](std::string_view) { return true; }, stop.get_token());
  });
  std::this_thread::sleep_for(100ms);
  for (int i = 0; i < 3; ++i) {
    const ApiResponse r = t->send(get("/lease", 5s));
    EXPECT_EQ(r.status, 200) << r.transport_error;
  }
  stop.request_stop();
  watcher.join();
}

TEST(CpprestTransportWatch, ConnectionRefused) {
  const int port = testing::closed_port();
  auto t = make(config_for("https://127.0.0.1:" + std::to_string(port)));
  const WatchResult r = t->watch("/w", 2s, [](std::string_view) { return true; }, {});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.transport_error,
            "watch GET /w: cannot connect to https://127.0.0.1:" + std::to_string(port) +
                " (connection refused or host unreachable)");
}

}  // namespace
}  // namespace pgdc::kube
