#include "config/small_file.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace pgdc {
namespace {

class SmallFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("pgdc_small_file_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text, mode_t mode = 0600) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(SmallFileTest, ReadsARegularFileAndItsMode) {
  SmallFile f = read_small_file(write("a", "hello\n"), 100);
  ASSERT_TRUE(f.text) << f.error;
  EXPECT_EQ(*f.text, "hello\n");
  EXPECT_FALSE(f.readable_by_others);
  f = read_small_file(write("b", "x", 0644), 100);
  ASSERT_TRUE(f.text);
  EXPECT_TRUE(f.readable_by_others);
}

TEST_F(SmallFileTest, FollowsSymlinksAsSecretMountsNeed) {
  const std::string target = write("target", "x");
  std::filesystem::create_symlink(target, dir_ / "link");
  SmallFile f = read_small_file((dir_ / "link").string(), 100);
  ASSERT_TRUE(f.text) << f.error;
  EXPECT_EQ(*f.text, "x");
}

TEST_F(SmallFileTest, RefusesWhatIsNotARegularFileWithoutBlocking) {
  const std::string fifo = (dir_ / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  SmallFile f = read_small_file(fifo, 100);  // would block for ever without O_NONBLOCK
  EXPECT_FALSE(f.text);
  EXPECT_EQ(f.error, "not a regular file (a FIFO)");
  EXPECT_EQ(read_small_file("/dev/zero", 100).error, "not a regular file (a character device)");
  EXPECT_EQ(read_small_file(dir_.string(), 100).error, "not a regular file (a directory)");
  EXPECT_EQ(read_small_file((dir_ / "absent").string(), 100).error, "No such file or directory");
}

TEST_F(SmallFileTest, SizeLimitIsExact) {
  EXPECT_TRUE(read_small_file(write("ten", std::string(10, 'x')), 10).text);
  SmallFile f = read_small_file(write("eleven", std::string(11, 'x')), 10);
  EXPECT_FALSE(f.text);
  EXPECT_EQ(f.error, "larger than 10 bytes");
}

// /proc files report size 0: the limit holds while reading too.
TEST_F(SmallFileTest, SizeLimitHoldsForFilesThatReportNoSize) {
  SmallFile f = read_small_file("/proc/self/maps", 16);
  EXPECT_FALSE(f.text);
  EXPECT_EQ(f.error, "larger than 16 bytes");
}

}  // namespace
}  // namespace pgdc
