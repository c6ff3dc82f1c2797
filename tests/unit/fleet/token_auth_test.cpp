#include "fleet/token_auth.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace pgdc::fleet {
namespace {

std::string temp_file(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

ApiConfig two_deployments() {
  ApiConfig c;
  c.deployments.push_back({"prod", {"prod-token-0123456789"}, ""});
  c.deployments.push_back({"staging", {"staging-token-0123456789"}, ""});
  c.web_admin_tokens = {"admin-token-0123456789"};
  c.web_read_tokens = {"read-token-0123456789"};
  return c;
}

TEST(TokenAuth, FindsEachRoleAndNothingElse) {
  TokenLoad load = load_tokens(two_deployments());
  ASSERT_TRUE(load.auth) << load.errors.front();
  const TokenAuth& auth = *load.auth;
  EXPECT_EQ(auth.find("prod-token-0123456789").role, TokenRole::kDeployment);
  EXPECT_EQ(auth.find("prod-token-0123456789").deployment, "prod");
  EXPECT_EQ(auth.find("staging-token-0123456789").deployment, "staging");
  EXPECT_EQ(auth.find("admin-token-0123456789").role, TokenRole::kWebAdmin);
  EXPECT_EQ(auth.find("read-token-0123456789").role, TokenRole::kWebRead);
  EXPECT_EQ(auth.find("").role, TokenRole::kNone);
  EXPECT_EQ(auth.find("prod-token-012345678").role, TokenRole::kNone);    // prefix
  EXPECT_EQ(auth.find("prod-token-01234567890").role, TokenRole::kNone);  // longer
  EXPECT_EQ(auth.find("PROD-TOKEN-0123456789").role, TokenRole::kNone);   // case
}

TEST(TokenAuth, NoDeploymentsMeansNoMachineToken) {
  TokenLoad load = load_tokens(ApiConfig{});
  ASSERT_TRUE(load.auth);
  EXPECT_EQ(load.auth->size(), 0u);
  EXPECT_EQ(load.auth->find("anything-at-all-0123").role, TokenRole::kNone);
}

TEST(TokenAuth, TokenFileOnePerLineCommentsAndBlanksSkipped) {
  ApiConfig c;
  c.deployments.push_back(
      {"prod",
       {},
       temp_file("tokens.txt",
                 "# prod tokens\n\n  file-token-aaaaaaaaaa  \nfile-token-bbbbbbbbbb\r\n")});
  TokenLoad load = load_tokens(c);
  ASSERT_TRUE(load.auth) << load.errors.front();
  EXPECT_EQ(load.auth->find("file-token-aaaaaaaaaa").deployment, "prod");
  EXPECT_EQ(load.auth->find("file-token-bbbbbbbbbb").deployment, "prod");
  EXPECT_EQ(load.auth->size(), 2u);
}

TEST(TokenAuth, FileProblemsNameTheLineNeverTheToken) {
  ApiConfig c;
  c.deployments.push_back({"prod", {}, temp_file("bad.txt", "short-secret\n")});
  c.deployments.push_back({"empty", {}, temp_file("empty.txt", "# nothing\n")});
  c.deployments.push_back({"missing", {}, ::testing::TempDir() + "/does-not-exist.txt"});
  TokenLoad load = load_tokens(c);
  ASSERT_FALSE(load.auth);
  ASSERT_EQ(load.errors.size(), 3u);
  EXPECT_NE(load.errors[0].find("bad.txt:1: a token must be at least 16 characters"),
            std::string::npos)
      << load.errors[0];
  EXPECT_NE(load.errors[1].find("holds no token"), std::string::npos) << load.errors[1];
  EXPECT_NE(load.errors[2].find("cannot read token file"), std::string::npos) << load.errors[2];
  for (const auto& e : load.errors) EXPECT_EQ(e.find("short-secret"), std::string::npos) << e;
}

TEST(TokenAuth, SameTokenInTwoPlacesIsRejected) {
  ApiConfig c = two_deployments();
  c.deployments[1].token_file = temp_file("dup.txt", "prod-token-0123456789\n");
  TokenLoad load = load_tokens(c);
  ASSERT_FALSE(load.auth);
  ASSERT_EQ(load.errors.size(), 1u);
  EXPECT_NE(load.errors[0].find("already given at api.deployments[0].tokens[0]"), std::string::npos)
      << load.errors[0];
  EXPECT_EQ(load.errors[0].find("prod-token-0123456789"), std::string::npos);
}

TEST(TokenAuth, FingerprintIsAShortHashPrefix) {
  EXPECT_EQ(TokenAuth::fingerprint("abc"), "ba7816bf8f01");
}

TEST(TokenAuth, TokenFilesMustBeRegularFiles) {
  const std::string fifo = ::testing::TempDir() + "/tokens.fifo";
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ApiConfig c;
  c.deployments.push_back({"prod", {}, fifo});
  TokenLoad load = load_tokens(c);  // returns: a FIFO never blocks the start
  ASSERT_EQ(load.errors.size(), 1u);
  EXPECT_EQ(load.errors[0], "api.deployments[0].token_file: cannot read token file \"" + fifo +
                                "\": not a regular file (a FIFO)");
  ::unlink(fifo.c_str());
}

TEST(TokenAuth, WarnsWhenATokenFileIsReadableByOthers) {
  const std::string open_file = temp_file("open.tokens", "prod-token-0123456789\n");
  ::chmod(open_file.c_str(), 0644);
  const std::string closed = temp_file("closed.tokens", "staging-token-0123456789\n");
  ::chmod(closed.c_str(), 0640);
  ApiConfig c;
  c.deployments.push_back({"prod", {}, open_file});
  c.deployments.push_back({"staging", {}, closed});
  TokenLoad load = load_tokens(c);
  ASSERT_TRUE(load.auth);
  ASSERT_EQ(load.warnings.size(), 1u);
  EXPECT_NE(load.warnings[0].find("api.deployments[0].token_file"), std::string::npos);
  EXPECT_NE(load.warnings[0].find("readable by every user"), std::string::npos) << load.warnings[0];
  // The warning names the file, never a token.
  EXPECT_EQ(load.warnings[0].find("prod-token"), std::string::npos);
}

}  // namespace
}  // namespace pgdc::fleet
