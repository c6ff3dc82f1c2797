// The bearer token: static, or re-read from a rotating file on an interval
// and on demand; never logged.
#include "client/token_source.h"

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "kube_client/test_tls_server.h"

namespace pgdc::kube {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

struct FakeClock {
  std::atomic<std::chrono::steady_clock::rep> ticks{1'000'000'000};
  TokenSource::Clock fn() {
    return [this] {
      return std::chrono::steady_clock::time_point(
          std::chrono::steady_clock::duration(ticks.load()));
    };
  }
  void advance(std::chrono::steady_clock::duration d) { ticks += d.count(); }
};

struct LogCapture {
  std::mutex mu;
  std::vector<std::string> lines;
  LogFn fn() {
    return [this](LogSeverity, std::string_view m) {
      std::lock_guard lock(mu);
      lines.emplace_back(m);
    };
  }
  std::string all() {
    std::lock_guard lock(mu);
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }
};

TEST(TokenSource, StaticToken) {
  TokenSource t(" static-token\n", "");
  EXPECT_EQ(t.token(), "static-token");
  EXPECT_FALSE(t.refresh());
  EXPECT_FALSE(t.from_file());
}

TEST(TokenSource, FileIsReReadAfterTheInterval) {
  TempDir dir;
  const std::string file = dir.write("token", "first\n");
  FakeClock clock;
  TokenSource t("", file, 60s, clock.fn());
  EXPECT_EQ(t.token(), "first");
  dir.write("token", "second");
  clock.advance(59s);
  EXPECT_EQ(t.token(), "first");
  clock.advance(1s);
  EXPECT_EQ(t.token(), "second");
}

TEST(TokenSource, RefreshReadsNowAndSaysWhetherItChanged) {
  TempDir dir;
  const std::string file = dir.write("token", "one");
  FakeClock clock;
  TokenSource t("", file, 1h, clock.fn());
  EXPECT_EQ(t.token(), "one");
  dir.write("token", "two");
  EXPECT_EQ(t.token(), "one");
  EXPECT_TRUE(t.refresh());
  EXPECT_EQ(t.token(), "two");
  EXPECT_FALSE(t.refresh());
}

TEST(TokenSource, KeepsTheLastTokenWhenTheFileGoesAwayAndNeverLogsIt) {
  TempDir dir;
  const std::string file = dir.write("token", "secret-token-value");
  FakeClock clock;
  LogCapture log;
  TokenSource t("", file, 60s, clock.fn(), log.fn());
  std::filesystem::remove(file);
  clock.advance(61s);
  EXPECT_EQ(t.token(), "secret-token-value");
  EXPECT_EQ(t.last_error(), "cannot read " + file + ": No such file or directory");
  EXPECT_FALSE(t.refresh());
  dir.write("token", "rotated-secret");
  EXPECT_TRUE(t.refresh());
  EXPECT_EQ(t.token(), "rotated-secret");
  EXPECT_EQ(t.last_error(), "");
  const std::string logged = log.all();
  EXPECT_NE(logged.find("cannot read " + file), std::string::npos) << logged;
  EXPECT_NE(logged.find("reloaded a new token from " + file), std::string::npos) << logged;
  EXPECT_EQ(logged.find("secret"), std::string::npos) << logged;
  // One warning per failure streak, not one per read.
  EXPECT_EQ(log.lines.size(), 3u) << logged;
}

TEST(TokenSource, StaticTokenIsTheFallbackUntilTheFileIsReadable) {
  TempDir dir;
  FakeClock clock;
  TokenSource t("fallback", dir.file("token"), 60s, clock.fn());
  EXPECT_EQ(t.token(), "fallback");
  dir.write("token", "from-file");
  clock.advance(60s);
  EXPECT_EQ(t.token(), "from-file");
}

TEST(TokenSource, EmptyFileKeepsThePreviousToken) {
  TempDir dir;
  const std::string file = dir.write("token", "good");
  TokenSource t("", file, 1h);
  dir.write("token", "  \n");
  EXPECT_FALSE(t.refresh());
  EXPECT_EQ(t.token(), "good");
  EXPECT_EQ(t.last_error(), "token file " + file + " is empty");
}

TEST(TokenSource, ConcurrentReadersAndRefreshers) {
  TempDir dir;
  const std::string file = dir.write("token", "t0");
  TokenSource t("", file, 1ms);
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      while (!done) {
        const std::string tok = i % 2 == 0 ? t.token() : (t.refresh(), t.token());
        EXPECT_EQ(tok.rfind("t", 0), 0u);
      }
    });
  }
  for (int n = 1; n < 50; ++n) dir.write("token", "t" + std::to_string(n));
  done = true;
  for (auto& th : threads) th.join();
  EXPECT_TRUE(t.refresh() || t.token() == "t49");
  EXPECT_EQ(t.token(), "t49");
}

}  // namespace
}  // namespace pgdc::kube
