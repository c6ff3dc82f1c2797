#include "fleet/token_file_watch.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace pgdc::fleet {
namespace {

constexpr const char* kOld = "shop-old-token-0123456789abcdef";
constexpr const char* kNew = "shop-new-token-0123456789abcdef";
constexpr const char* kAdmin = "admin-token-0123456789abcdef";

// A fresh directory per test (TempDir is shared by the whole binary).
std::string fresh_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/token-watch-" + name;
  std::system(("rm -rf '" + dir + "'").c_str());
  ::mkdir(dir.c_str(), 0700);
  return dir;
}

void write_in_place(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
  ::chmod(path.c_str(), 0640);
}

// How an editor or `kubectl cp` replaces a file: a new inode renamed over it.
void replace(const std::string& path, const std::string& text) {
  write_in_place(path + ".tmp", text);
  ASSERT_EQ(std::rename((path + ".tmp").c_str(), path.c_str()), 0);
}

ApiConfig shop_with_file(const std::string& path) {
  ApiConfig c;
  c.deployments.push_back({"shop", {}, path});
  c.web_admin_tokens = {kAdmin};  // inline: never reloaded, always there
  return c;
}

TokenRole role(const TokenLoad& l, const std::string& token) {
  return l.auth ? l.auth->find(token).role : TokenRole::kNone;
}

TEST(TokenFileWatch, NothingChangedNothingReloaded) {
  const std::string dir = fresh_dir("unchanged");
  write_in_place(dir + "/shop", std::string(kOld) + "\n");
  TokenFileWatch w(shop_with_file(dir + "/shop"));
  EXPECT_TRUE(w.has_files());
  TokenLoad first = w.load();
  ASSERT_TRUE(first.auth) << first.errors.front();
  EXPECT_EQ(role(first, kOld), TokenRole::kDeployment);
  EXPECT_FALSE(w.poll());
  EXPECT_FALSE(w.poll());
}

TEST(TokenFileWatch, InlineTokensOnlyHaveNothingToWatch) {
  ApiConfig c;
  c.deployments.push_back({"shop", {kOld}, ""});
  TokenFileWatch w(c);
  EXPECT_FALSE(w.has_files());
  ASSERT_TRUE(w.load().auth);
  EXPECT_FALSE(w.poll());
}

TEST(TokenFileWatch, RotationTakesTheNewTokenAndDropsTheOld) {
  const std::string dir = fresh_dir("rotate");
  const std::string path = dir + "/shop";
  write_in_place(path, std::string(kOld) + "\n");
  TokenFileWatch w(shop_with_file(path));
  ASSERT_TRUE(w.load().auth);

  // Step 1 of a rotation: both tokens.
  replace(path, std::string(kOld) + "\n" + kNew + "\n");
  auto r = w.poll();
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->load.auth) << r->load.errors.front();
  EXPECT_EQ(role(r->load, kOld), TokenRole::kDeployment);
  EXPECT_EQ(role(r->load, kNew), TokenRole::kDeployment);
  EXPECT_EQ(r->load.auth->find(kNew).deployment, "shop");
  EXPECT_EQ(role(r->load, kAdmin), TokenRole::kWebAdmin) << "inline tokens stay";
  ASSERT_EQ(r->changes.size(), 1u);
  EXPECT_EQ(r->changes[0], "api.deployments[0].token_file (shop): +1 token [" +
                               TokenAuth::fingerprint(kNew) + "]");

  // Step 3: the old one removed.
  replace(path, std::string(kNew) + "\n");
  r = w.poll();
  ASSERT_TRUE(r && r->load.auth);
  EXPECT_EQ(role(r->load, kOld), TokenRole::kNone);
  EXPECT_EQ(role(r->load, kNew), TokenRole::kDeployment);
  ASSERT_EQ(r->changes.size(), 1u);
  EXPECT_EQ(r->changes[0], "api.deployments[0].token_file (shop): -1 token [" +
                               TokenAuth::fingerprint(kOld) + "]");
  EXPECT_FALSE(w.poll());
}

TEST(TokenFileWatch, InPlaceRewriteIsSeen) {
  const std::string dir = fresh_dir("in-place");
  const std::string path = dir + "/shop";
  write_in_place(path, std::string(kOld) + "\n");
  TokenFileWatch w(shop_with_file(path));
  ASSERT_TRUE(w.load().auth);
  write_in_place(path, std::string("# rotated\n") + kNew + "\n");  // same inode, new size
  auto r = w.poll();
  ASSERT_TRUE(r && r->load.auth);
  EXPECT_EQ(role(r->load, kNew), TokenRole::kDeployment);
  EXPECT_EQ(role(r->load, kOld), TokenRole::kNone);
}

TEST(TokenFileWatch, BrokenRotationIsRefusedOnceAndTheFixIsTaken) {
  const std::string dir = fresh_dir("broken");
  const std::string path = dir + "/shop";
  write_in_place(path, std::string(kOld) + "\n");
  TokenFileWatch w(shop_with_file(path));
  ASSERT_TRUE(w.load().auth);

  replace(path, std::string(kNew) + "\ntoo-short\n");
  auto r = w.poll();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->load.auth);
  ASSERT_EQ(r->load.errors.size(), 1u);
  EXPECT_NE(r->load.errors[0].find("api.deployments[0].token_file: " + path + ":2:"),
            std::string::npos)
      << r->load.errors[0];
  EXPECT_EQ(r->load.errors[0].find("too-short"), std::string::npos) << "never the token";
  EXPECT_FALSE(w.poll()) << "the same broken state is reported once";

  // A token the admin role already has: refused too (one token, one role).
  replace(path, std::string(kAdmin) + "\n");
  r = w.poll();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->load.auth);
  EXPECT_NE(r->load.errors.at(0).find("the same token is already given at"), std::string::npos);

  replace(path, std::string(kNew) + "\n");
  r = w.poll();
  ASSERT_TRUE(r && r->load.auth);
  // Changes are against the tokens in use (the last good load), not the
  // broken attempts.
  ASSERT_EQ(r->changes.size(), 1u);
  EXPECT_EQ(r->changes[0], "api.deployments[0].token_file (shop): +1 token [" +
                               TokenAuth::fingerprint(kNew) + "], -1 token [" +
                               TokenAuth::fingerprint(kOld) + "]");
}

TEST(TokenFileWatch, AFileThatDisappearsAndReappears) {
  const std::string dir = fresh_dir("reappear");
  const std::string path = dir + "/shop";
  write_in_place(path, std::string(kOld) + "\n");
  TokenFileWatch w(shop_with_file(path));
  ASSERT_TRUE(w.load().auth);

  ASSERT_EQ(::unlink(path.c_str()), 0);
  auto r = w.poll();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->load.auth);
  EXPECT_NE(r->load.errors.at(0).find("cannot read token file"), std::string::npos);
  EXPECT_FALSE(w.poll());

  write_in_place(path, std::string(kNew) + "\n");
  r = w.poll();
  ASSERT_TRUE(r && r->load.auth);
  EXPECT_EQ(role(r->load, kNew), TokenRole::kDeployment);
}

TEST(TokenFileWatch, UnchangedTokensInAChangedFileAreNoChange) {
  const std::string dir = fresh_dir("same");
  const std::string path = dir + "/shop";
  write_in_place(path, std::string(kOld) + "\n");
  TokenFileWatch w(shop_with_file(path));
  ASSERT_TRUE(w.load().auth);
  replace(path, std::string("# same token, new comment\n") + kOld + "\n");
  auto r = w.poll();
  ASSERT_TRUE(r && r->load.auth);
  EXPECT_TRUE(r->changes.empty());
}

// The kubelet's atomic writer: the visible file is a symlink through `..data`
// to a timestamped directory; an update writes a new directory, points a new
// symlink at it and renames that over `..data`, then removes the old one.
TEST(TokenFileWatch, KubeletSymlinkSwapIsSeen) {
  const std::string dir = fresh_dir("kubelet");
  const auto sh = [](const std::string& cmd) { ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd; };
  sh("cd '" + dir + "' && mkdir ..2026_01 && printf '%s\\n' " + kOld +
     " > ..2026_01/shop && chmod 0440 ..2026_01/shop && ln -s ..2026_01 ..data && "
     "ln -s ..data/shop shop");
  ApiConfig c = shop_with_file(dir + "/shop");
  c.web_read_token_file = dir + "/read";  // a second file, never changed
  write_in_place(dir + "/read", "read-token-0123456789abcdef\n");
  TokenFileWatch w(c);
  TokenLoad first = w.load();
  ASSERT_TRUE(first.auth) << first.errors.front();
  EXPECT_EQ(role(first, kOld), TokenRole::kDeployment);
  EXPECT_FALSE(w.poll());

  sh("cd '" + dir + "' && mkdir ..2026_02 && printf '%s\\n' " + kNew +
     " > ..2026_02/shop && chmod 0440 ..2026_02/shop && ln -s ..2026_02 ..data_tmp && "
     "mv -T ..data_tmp ..data && rm -rf ..2026_01");
  auto r = w.poll();
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->load.auth) << r->load.errors.front();
  EXPECT_EQ(role(r->load, kNew), TokenRole::kDeployment);
  EXPECT_EQ(role(r->load, kOld), TokenRole::kNone);
  EXPECT_EQ(role(r->load, "read-token-0123456789abcdef"), TokenRole::kWebRead);
  ASSERT_EQ(r->changes.size(), 1u) << "only the changed key is reported";
  EXPECT_EQ(r->changes[0].rfind("api.deployments[0].token_file (shop): ", 0), 0u);
}

TEST(TokenFileWatch, WebKeysAreNamed) {
  const std::string dir = fresh_dir("web");
  ApiConfig c;
  c.web_admin_token_file = dir + "/admin";
  write_in_place(c.web_admin_token_file, std::string(kAdmin) + "\n");
  TokenFileWatch w(c);
  ASSERT_TRUE(w.load().auth);
  replace(c.web_admin_token_file, std::string(kNew) + "\n");
  auto r = w.poll();
  ASSERT_TRUE(r && r->load.auth);
  EXPECT_EQ(role(r->load, kNew), TokenRole::kWebAdmin);
  ASSERT_EQ(r->changes.size(), 1u);
  EXPECT_EQ(r->changes[0].rfind("api.web.admin_token_file: +1 token [", 0), 0u) << r->changes[0];
  EXPECT_EQ(r->changes[0].find(kNew), std::string::npos);
}

}  // namespace
}  // namespace pgdc::fleet
