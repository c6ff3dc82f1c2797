#include "client/token_source.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace pgdc::client {
namespace {

namespace fs = std::filesystem;

class TokenSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("pgdc-token-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  fs::path dir_;
};

TEST_F(TokenSourceTest, FirstTokenLineTrimmedSkippingCommentsAndBlanks) {
  const auto r = resolve_token(write("t", "# admin\n\n  secret-1 \r\nsecret-2\n"), nullptr);
  ASSERT_TRUE(r.token) << r.error;
  EXPECT_EQ(*r.token, "secret-1");
}

TEST_F(TokenSourceTest, FileWinsOverTheEnvironment) {
  const auto r = resolve_token(write("t", "from-file"), "from-env");
  ASSERT_TRUE(r.token) << r.error;
  EXPECT_EQ(*r.token, "from-file");
}

TEST_F(TokenSourceTest, EnvironmentOrNothing) {
  auto r = resolve_token("", " from-env\n");
  ASSERT_TRUE(r.token) << r.error;
  EXPECT_EQ(*r.token, "from-env");
  r = resolve_token("", nullptr);
  ASSERT_TRUE(r.token) << r.error;
  EXPECT_EQ(*r.token, "");
}

TEST_F(TokenSourceTest, MissingFileNamesTheFile) {
  const std::string path = (dir_ / "absent").string();
  const auto r = resolve_token(path, "from-env");
  EXPECT_FALSE(r.token);
  EXPECT_EQ(r.error, "cannot read token file \"" + path + "\": No such file or directory");
}

TEST_F(TokenSourceTest, DirectoryIsNotATokenFile) {
  const auto r = resolve_token(dir_.string(), nullptr);
  EXPECT_FALSE(r.token);
  EXPECT_EQ(r.error,
            "cannot read token file \"" + dir_.string() + "\": not a regular file (a directory)");
}

TEST_F(TokenSourceTest, FileWithoutTokenIsAnError) {
  const std::string path = write("t", "# only a comment\n\n   \n");
  const auto r = resolve_token(path, nullptr);
  EXPECT_FALSE(r.token);
  EXPECT_EQ(r.error, "token file \"" + path + "\" holds no token (only empty lines or # comments)");
}

TEST_F(TokenSourceTest, TokenWithInnerSpaceIsRefusedWithoutEchoingIt) {
  const std::string path = write("t", "secret part2\n");
  auto r = resolve_token(path, nullptr);
  EXPECT_FALSE(r.token);
  EXPECT_EQ(r.error,
            "token file \"" + path + "\": the token contains whitespace or control characters");
  r = resolve_token("", "secret\x01");
  EXPECT_FALSE(r.token);
  EXPECT_EQ(r.error.find("secret"), std::string::npos);
}

}  // namespace
}  // namespace pgdc::client
