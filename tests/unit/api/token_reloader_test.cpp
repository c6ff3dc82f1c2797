#include "api/token_reloader.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "api/api_auth.h"
#include "metrics/metrics.h"

namespace pgdc::api {
namespace {

constexpr const char* kOld = "shop-old-token-0123456789abcdef";
constexpr const char* kNew = "shop-new-token-0123456789abcdef";

std::string fresh_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/token-reloader-" + name;
  std::system(("rm -rf '" + dir + "'").c_str());
  ::mkdir(dir.c_str(), 0700);
  return dir;
}

void replace(const std::string& path, const std::string& text) {
  std::ofstream(path + ".tmp", std::ios::trunc) << text;
  ::chmod((path + ".tmp").c_str(), 0640);
  ASSERT_EQ(std::rename((path + ".tmp").c_str(), path.c_str()), 0);
}

HttpRequest with_token(const std::string& token) {
  HttpRequest r;
  r.method = "GET";
  r.target = r.path = "/api/v2/commands";
  r.headers["authorization"] = "Bearer " + token;
  return r;
}

// The HTTP status a machine-API request with `token` gets from `auth` (200:
// admitted).
int status(const ApiAuth& auth, const std::string& token) {
  auto v = auth.check(ApiAuth::Need::kDeployment, with_token(token));
  return v.refusal ? v.refusal->status : 200;
}

std::string sample(const std::string& text, const std::string& series) {
  const std::string key = "\n" + series + " ";
  const auto at = text.find(key);
  if (at == std::string::npos) return "";
  const auto end = text.find('\n', at + key.size());
  return text.substr(at + key.size(), end - at - key.size());
}

struct Fixture {
  explicit Fixture(const std::string& name) : dir(fresh_dir(name)), path(dir + "/shop") {
    replace(path, std::string(kOld) + "\n");
    config.deployments.push_back({"shop", {}, path});
  }
  // Startup: the first load, then the ApiAuth using it.
  std::unique_ptr<ApiAuth> start(fleet::TokenFileWatch& watch) {
    fleet::TokenLoad first = watch.load();
    EXPECT_TRUE(first.auth);
    return std::make_unique<ApiAuth>(std::move(*first.auth), WebReadAccess::kOpen);
  }
  std::string reloads(const std::string& result) const {
    return sample(metrics.serialize(),
                  R"(pgdog_control_token_reloads_total{result=")" + result + R"("})");
  }

  const std::string dir;
  const std::string path;
  ApiConfig config;
  Metrics metrics;
  FleetMetrics fleet_metrics{metrics, {"shop"}};
};

TEST(TokenReloader, ARotatedTokenIsAcceptedAndTheOldOneRefused) {
  Fixture f("rotate");
  fleet::TokenFileWatch watch(f.config);
  auto auth = f.start(watch);
  TokenReloader reloader(std::move(watch), f.fleet_metrics,
                         [&](auto t) { auth->replace_tokens(std::move(t)); });
  EXPECT_EQ(status(*auth, kOld), 200);
  EXPECT_EQ(status(*auth, kNew), 401);
  EXPECT_EQ(f.reloads("ok"), "0");

  replace(f.path, std::string(kNew) + "\n");
  reloader.poll_once();
  EXPECT_EQ(status(*auth, kNew), 200);
  EXPECT_EQ(status(*auth, kOld), 401);
  EXPECT_EQ(f.reloads("ok"), "1");
  EXPECT_EQ(f.reloads("error"), "0");

  reloader.poll_once();  // nothing changed: nothing counted
  EXPECT_EQ(f.reloads("ok"), "1");
}

TEST(TokenReloader, ABrokenRotationKeepsTheTokensInUse) {
  Fixture f("broken");
  fleet::TokenFileWatch watch(f.config);
  auto auth = f.start(watch);
  int applied = 0;
  TokenReloader reloader(std::move(watch), f.fleet_metrics, [&](auto t) {
    ++applied;
    auth->replace_tokens(std::move(t));
  });

  replace(f.path, "short\n");
  reloader.poll_once();
  EXPECT_EQ(applied, 0);
  EXPECT_EQ(status(*auth, kOld), 200) << "the old token still works";
  EXPECT_EQ(f.reloads("error"), "1");

  ASSERT_EQ(std::remove(f.path.c_str()), 0);
  reloader.poll_once();
  EXPECT_EQ(status(*auth, kOld), 200);
  EXPECT_EQ(f.reloads("error"), "2");

  replace(f.path, std::string(kNew) + "\n");  // it reappears, fixed
  reloader.poll_once();
  EXPECT_EQ(applied, 1);
  EXPECT_EQ(status(*auth, kNew), 200);
  EXPECT_EQ(status(*auth, kOld), 401);
  EXPECT_EQ(f.reloads("ok"), "1");
}

// The thread: a rotation is taken within the period while other threads
// check tokens all along (run under TSan by make test-tsan).
TEST(TokenReloader, TheThreadTakesARotationWhileRequestsAreChecked) {
  Fixture f("thread");
  fleet::TokenFileWatch watch(f.config);
  auto auth = f.start(watch);
  TokenReloader reloader(
      std::move(watch), f.fleet_metrics, [&](auto t) { auth->replace_tokens(std::move(t)); },
      std::chrono::milliseconds(10));
  std::atomic<bool> done{false};
  std::atomic<int> checks{0};
  std::thread requests([&] {
    while (!done) {
      const int old_status = status(*auth, kOld);
      const int new_status = status(*auth, kNew);
      // Each check sees one whole token set; in between they may differ.
      EXPECT_TRUE(old_status == 200 || old_status == 401);
      EXPECT_TRUE(new_status == 200 || new_status == 401);
      ++checks;
    }
  });
  reloader.start();
  replace(f.path, std::string(kNew) + "\n");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (status(*auth, kNew) != 200 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(status(*auth, kNew), 200);
  EXPECT_EQ(status(*auth, kOld), 401);
  reloader.stop();
  reloader.stop();  // idempotent
  done = true;
  requests.join();
  EXPECT_GT(checks.load(), 0);
  EXPECT_EQ(f.reloads("ok"), "1");
}

TEST(TokenReloader, NoTokenFileNoThread) {
  ApiConfig c;
  c.deployments.push_back({"shop", {kOld}, ""});
  Metrics metrics;
  FleetMetrics fm(metrics, {"shop"});
  bool applied = false;
  TokenReloader reloader(
      fleet::TokenFileWatch(c), fm, [&](auto) { applied = true; }, std::chrono::milliseconds(1));
  reloader.start();
  reloader.poll_once();
  reloader.stop();
  EXPECT_FALSE(applied);
}

}  // namespace
}  // namespace pgdc::api
