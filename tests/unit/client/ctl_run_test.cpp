// run_command against a canned HTTP peer on a real socket: the request it
// sends, and the exit status and output for each kind of answer.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "client/ctl.h"
#include "client/ctl_options.h"

namespace pgdc::client {
namespace {

// Accepts one connection per reply on 127.0.0.1, records each request (head
// and Content-Length body), answers the reply verbatim (or nothing, holding
// the connection until the client closes it), then closes it.
class CannedPeer {
 public:
  explicit CannedPeer(std::string reply, bool answer = true)
      : CannedPeer(std::vector<std::string>{std::move(reply)}, answer) {}
  explicit CannedPeer(std::vector<std::string> replies, bool answer = true)
      : replies_(std::move(replies)), answer_(answer) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~CannedPeer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Valid once the command returned (the peer has read the whole request).
  const std::string& request() const { return requests_.at(0); }
  const std::vector<std::string>& requests() const { return requests_; }

 private:
  void serve() {
    for (const std::string& reply : replies_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string request;
      char buf[4096];
      for (;;) {
        const auto head_end = request.find("\r\n\r\n");
        if (head_end != std::string::npos) {
          std::size_t length = 0;
          const auto cl = request.find("Content-Length: ");
          if (cl != std::string::npos && cl < head_end)
            length = std::stoul(request.substr(cl + 16));
          if (request.size() >= head_end + 4 + length) break;
        }
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        request.append(buf, static_cast<std::size_t>(n));
      }
      requests_.push_back(std::move(request));
      if (answer_) {
        ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      } else {
        while (::recv(c, buf, sizeof buf, 0) > 0) {  // until the client gives up
        }
      }
      ::close(c);
    }
  }

  std::vector<std::string> replies_;
  bool answer_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::vector<std::string> requests_;
};

std::string http_reply(int status, const std::string& body,
                       const std::string& type = "application/json") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         body;
}

struct Outcome {
  int code;
  std::string out;
  std::string err;
};

Outcome run(std::vector<std::string> args, const char* env_token = nullptr) {
  std::ostringstream out;
  std::ostringstream err;
  const int code = run_command(args, env_token, out, err);
  return {code, out.str(), err.str()};
}

constexpr const char* kStatus =
    R"({"identity":"solo","role":"leader","holder":"solo","holder_address":"127.0.0.1:1",)"
    R"("ready":true,"shutting_down":false,"epoch":{"scope":"","term":1},)"
    R"("backend":{"name":"noop","version":"1.0.0"},"lease":{"enabled":false},"state":null})";

TEST(CtlRun, StatusSendsGetWithTheTokenAndPrintsTheSummary) {
  CannedPeer peer(http_reply(200, kStatus));
  const Outcome r = run({"status", "--url", peer.url()}, "env-token-1");
  EXPECT_EQ(r.code, kCtlOk) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("role:      leader\n"), std::string::npos) << r.out;
  EXPECT_EQ(peer.request().rfind("GET /api/status HTTP/1.1\r\n", 0), 0u) << peer.request();
  EXPECT_NE(peer.request().find("Authorization: Bearer env-token-1\r\n"), std::string::npos);
}

TEST(CtlRun, JsonPrintsTheReplyPretty) {
  CannedPeer peer(http_reply(200, R"({"b":1,"a":[true]})"));
  const Outcome r = run({"status", "--json", "--url", peer.url()});
  EXPECT_EQ(r.code, kCtlOk) << r.err;
  EXPECT_EQ(r.out, "{\n  \"a\": [\n    true\n  ],\n  \"b\": 1\n}\n");
  EXPECT_EQ(peer.request().find("Authorization"), std::string::npos) << "no token, no header";
}

TEST(CtlRun, SwitchoverPostsTheTarget) {
  CannedPeer peer(http_reply(200, R"({"from":"a","to":"b","epoch":"5"})"));
  const Outcome r = run({"switchover", "--to", "b", "--no-wait", "--url", peer.url() + "/prefix/"});
  EXPECT_EQ(r.code, kCtlOk) << r.err;
  EXPECT_EQ(r.out, "switched over from a to b (the old leader's epoch was 5)\n");
  EXPECT_EQ(peer.request().rfind("POST /prefix/api/web/leadership/switchover HTTP/1.1\r\n", 0), 0u)
      << peer.request();
  EXPECT_NE(peer.request().find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(peer.request().find("\r\n\r\n{\"to\":\"b\"}"), std::string::npos) << peer.request();
}

TEST(CtlRun, SwitchoverWithoutTargetPostsAnEmptyObject) {
  CannedPeer peer(http_reply(200, R"({"from":"a","to":"b"})"));
  const Outcome r = run({"switchover", "--no-wait", "--url", peer.url()});
  EXPECT_EQ(r.code, kCtlOk) << r.err;
  EXPECT_NE(peer.request().find("\r\n\r\n{}"), std::string::npos) << peer.request();
}

TEST(CtlRun, SwitchoverWaitsUntilTheTargetLeads) {
  // The handover, then the members as the Service shows them while
  // leadership moves: the old leader, no endpoint (an error), then the target.
  CannedPeer peer({http_reply(200, R"({"from":"a","to":"b"})"),
                   http_reply(200, R"({"leader":"a","members":[]})"),
                   http_reply(503, R"({"error":"not_leader"})"),
                   http_reply(200, R"({"leader":"b","members":[]})")});
  const Outcome r = run({"switchover", "--to", "b", "--url", peer.url()}, "tok");
  EXPECT_EQ(r.code, kCtlOk) << r.err;
  EXPECT_EQ(r.out.rfind("switched over from a to b\nb leads now (", 0), 0u) << r.out;
  ASSERT_EQ(peer.requests().size(), 4u);
  for (std::size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(peer.requests()[i].rfind("GET /api/web/members HTTP/1.1\r\n", 0), 0u);
    EXPECT_NE(peer.requests()[i].find("Authorization: Bearer tok\r\n"), std::string::npos);
  }
}

TEST(CtlRun, SwitchoverWhoseTargetNeverLeadsExits1AndSaysWhoLeads) {
  std::vector<std::string> replies{http_reply(200, R"({"from":"a","to":"b"})")};
  for (int i = 0; i < 40; ++i) replies.push_back(http_reply(200, R"({"leader":"c"})"));
  CannedPeer peer(std::move(replies));
  const Outcome r = run({"switchover", "--to", "b", "--timeout", "0.5", "--url", peer.url()});
  EXPECT_EQ(r.code, kCtlRefused);
  EXPECT_NE(r.err.find("handed over to b, but it did not lead within 500 ms (leader now: c)"),
            std::string::npos)
      << r.err;
}

TEST(CtlRun, RefusalPrintsTheServersCodeAndMessageAndExits1) {
  CannedPeer peer(
      http_reply(409, R"({"error":"switchover_refused","message":"pod-c is not eligible"})"));
  const Outcome r = run({"switchover", "--to", "pod-c", "--url", peer.url()});
  EXPECT_EQ(r.code, kCtlRefused);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "pgdog-control switchover: " + peer.url() +
                       "/api/web/leadership/switchover: HTTP 409 switchover_refused: pod-c is "
                       "not eligible\n");
}

TEST(CtlRun, RefusalWithJsonAlsoPrintsTheErrorObject) {
  CannedPeer peer(http_reply(503, R"({"error":"members_unavailable","message":"x"})"));
  const Outcome r = run({"members", "--json", "--url", peer.url()});
  EXPECT_EQ(r.code, kCtlRefused);
  EXPECT_EQ(r.out, "{\n  \"error\": \"members_unavailable\",\n  \"message\": \"x\"\n}\n");
  EXPECT_NE(r.err.find("HTTP 503 members_unavailable: x"), std::string::npos);
}

TEST(CtlRun, NotFoundFromAnOlderServer) {
  CannedPeer peer(http_reply(404, "not found\n", "text/plain"));
  const Outcome r = run({"members", "--url", peer.url()});
  EXPECT_EQ(r.code, kCtlRefused);
  EXPECT_NE(r.err.find("HTTP 404: not found (this server does not serve /api/web/members; is it "
                       "older than this CLI?)"),
            std::string::npos)
      << r.err;
}

TEST(CtlRun, NotFoundEndpointGetsTheHintButAMissingMemberDoesNot) {
  {
    CannedPeer peer(http_reply(404, R"({"error":"not_found","message":"no such endpoint"})"));
    const Outcome r = run({"switchover", "--url", peer.url()});
    EXPECT_EQ(r.code, kCtlRefused);
    EXPECT_NE(r.err.find("HTTP 404 not_found: no such endpoint (this server does not serve "
                         "/api/web/leadership/switchover; is it older than this CLI?)"),
              std::string::npos)
        << r.err;
  }
  {
    CannedPeer peer(http_reply(404, R"({"error":"unknown_member","message":"no member x"})"));
    const Outcome r = run({"switchover", "--to", "x", "--url", peer.url()});
    EXPECT_EQ(r.code, kCtlRefused);
    EXPECT_EQ(r.err, "pgdog-control switchover: " + peer.url() +
                         "/api/web/leadership/switchover: HTTP 404 unknown_member: no member x\n");
  }
}

TEST(CtlRun, AuthFailuresExit4AndNameTheTokenSourceNotTheToken) {
  {
    CannedPeer peer(
        http_reply(401, R"({"error":"unauthorized","message":"missing bearer token"})"));
    const Outcome r = run({"members", "--url", peer.url()});
    EXPECT_EQ(r.code, kCtlAuth);
    EXPECT_NE(r.err.find("HTTP 401 unauthorized: missing bearer token (no token was sent"),
              std::string::npos)
        << r.err;
  }
  {
    CannedPeer peer(http_reply(403, R"({"error":"forbidden","message":"needs admin"})"));
    const Outcome r = run({"switchover", "--url", peer.url()}, "s3cret-read-token");
    EXPECT_EQ(r.code, kCtlAuth);
    EXPECT_NE(r.err.find("(the token from $PGDOG_CONTROL_TOKEN is known but lacks the right: "
                         "switchover needs a web admin token)"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find("s3cret"), std::string::npos);
  }
}

TEST(CtlRun, GarbageIsAMalformedReply) {
  CannedPeer peer("this is not http\r\n\r\n");
  const Outcome r = run({"status", "--url", peer.url()});
  EXPECT_EQ(r.code, kCtlUnreachable);
  EXPECT_NE(r.err.find("malformed reply from " + peer.url() +
                       " (not HTTP/1.x; is --url the pgdog-control API?)"),
            std::string::npos)
      << r.err;
}

TEST(CtlRun, NonJsonBodyIsAMalformedReply) {
  CannedPeer peer(http_reply(200, "<html>hello</html>", "text/html"));
  const Outcome r = run({"status", "--url", peer.url()});
  EXPECT_EQ(r.code, kCtlUnreachable);
  EXPECT_EQ(r.err, "pgdog-control status: malformed reply from " + peer.url() +
                       "/api/status: HTTP 200 but the body is not JSON: \"<html>hello</html>\"\n");
}

TEST(CtlRun, JsonOfTheWrongShapeIsAMalformedReply) {
  CannedPeer peer(http_reply(200, R"({"hello":"world"})"));
  const Outcome r = run({"members", "--url", peer.url()});
  EXPECT_EQ(r.code, kCtlUnreachable);
  EXPECT_NE(r.err.find("the reply is not a member list"), std::string::npos) << r.err;
}

TEST(CtlRun, SilentPeerTimesOut) {
  CannedPeer peer("", /*answer=*/false);
  const Outcome r = run({"status", "--timeout", "0.2", "--url", peer.url()});
  EXPECT_EQ(r.code, kCtlUnreachable);
  EXPECT_NE(r.err.find("no reply from " + peer.url() + " within 0.2s"), std::string::npos) << r.err;
}

TEST(CtlRun, NothingListeningExits3) {
  int port = 0;
  {
    CannedPeer peer(http_reply(200, "{}"));  // a port that was just free...
    port = std::stoi(peer.url().substr(peer.url().rfind(':') + 1));
    const Outcome r = run({"status", "--url", peer.url()});  // ...(served once, to close it)
    EXPECT_EQ(r.code, kCtlUnreachable);                      // {} is not a status
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const Outcome r = run({"status", "--url", url});
  EXPECT_EQ(r.code, kCtlUnreachable);
  EXPECT_NE(r.err.find("cannot connect to " + url + ": Connection refused"), std::string::npos)
      << r.err;
}

TEST(CtlRun, UsageErrorsExit2BeforeAnyRequest) {
  Outcome r = run({"status", "--bogus"});
  EXPECT_EQ(r.code, kCtlUsage);
  EXPECT_EQ(r.err,
            "pgdog-control status: unknown argument \"--bogus\" for status (see "
            "pgdog-control status --help)\n");
  r = run({"status", "--url", "https://x"});
  EXPECT_EQ(r.code, kCtlUsage);
  EXPECT_NE(r.err.find("https is not supported"), std::string::npos);
  r = run({"members", "--token-file", "/nonexistent/pgdc-token"});
  EXPECT_EQ(r.code, kCtlUsage);
  EXPECT_EQ(r.err,
            "pgdog-control members: cannot read token file \"/nonexistent/pgdc-token\": "
            "No such file or directory\n");
}

TEST(CtlRun, HelpExits0) {
  const Outcome r = run({"switchover", "--help"});
  EXPECT_EQ(r.code, kCtlOk);
  EXPECT_NE(r.out.find("Usage: pgdog-control switchover [--to ID]"), std::string::npos);
}

TEST(CtlRun, ExitForHttpStatus) {
  EXPECT_EQ(exit_for_http_status(200), kCtlOk);
  EXPECT_EQ(exit_for_http_status(204), kCtlOk);
  EXPECT_EQ(exit_for_http_status(401), kCtlAuth);
  EXPECT_EQ(exit_for_http_status(403), kCtlAuth);
  for (int s : {301, 400, 404, 409, 500, 501, 502, 503, 504}) {
    EXPECT_EQ(exit_for_http_status(s), kCtlRefused) << s;
  }
}

}  // namespace
}  // namespace pgdc::client
