// FileStateBackend: compare-and-swap, durability across instances, the
// directory lock, and that damage is an error rather than absence.
#include "state/file_state_backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pgdc::state {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr milliseconds kTimeout{1000};

class FileStateBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::temp_directory_path() /
            ("pgdc_file_state_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    dir_ = (root_ / "state").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<FileStateBackend> open_ok() {
    std::string error;
    auto backend = FileStateBackend::open(dir_, &error);
    EXPECT_NE(backend, nullptr) << error;
    EXPECT_EQ(error, "");
    return backend;
  }
  std::string file(const std::string& name) const { return dir_ + "/" + name; }
  static std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static void spit(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }

  fs::path root_;
  std::string dir_;
};

TEST_F(FileStateBackendTest, OpenCreatesThePrivateDirectoryAndDescribesIt) {
  auto b = open_ok();
  ASSERT_TRUE(b);
  struct stat st {};
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(b->describe(), "files in \"" + dir_ + "\"");
}

TEST_F(FileStateBackendTest, OpenCreatesMissingParents) {
  dir_ = (root_ / "a" / "b" / "state").string();
  auto b = open_ok();
  EXPECT_TRUE(fs::is_directory(dir_));
}

TEST_F(FileStateBackendTest, AbsentObjectIsNotFound) {
  auto b = open_ok();
  const ReadResult r = b->read("nodes", kTimeout);
  EXPECT_EQ(r.status, StoreStatus::kOk) << r.error;
  EXPECT_FALSE(r.found);
  EXPECT_EQ(r.version, "");
  EXPECT_EQ(r.value, "");
}

TEST_F(FileStateBackendTest, CreateIfAbsentThenCompareAndSwap) {
  auto b = open_ok();
  const WriteResult w1 = b->write("nodes", "one", "", kTimeout);
  ASSERT_EQ(w1.status, StoreStatus::kOk) << w1.error;
  EXPECT_EQ(w1.version, "1");

  ReadResult r = b->read("nodes", kTimeout);
  ASSERT_EQ(r.status, StoreStatus::kOk) << r.error;
  EXPECT_TRUE(r.found);
  EXPECT_EQ(r.value, "one");
  EXPECT_EQ(r.version, w1.version);

  const WriteResult w2 = b->write("nodes", "two", w1.version, kTimeout);
  ASSERT_EQ(w2.status, StoreStatus::kOk) << w2.error;
  EXPECT_NE(w2.version, w1.version);
  r = b->read("nodes", kTimeout);
  EXPECT_EQ(r.value, "two");
  EXPECT_EQ(r.version, w2.version);
}

TEST_F(FileStateBackendTest, CreateWhenPresentConflictsAndChangesNothing) {
  auto b = open_ok();
  const WriteResult w1 = b->write("nodes", "one", "", kTimeout);
  ASSERT_EQ(w1.status, StoreStatus::kOk) << w1.error;
  const WriteResult again = b->write("nodes", "other", "", kTimeout);
  EXPECT_EQ(again.status, StoreStatus::kConflict);
  EXPECT_EQ(again.error, "state key \"nodes\" is at version \"1\", not (absent)");
  const ReadResult r = b->read("nodes", kTimeout);
  EXPECT_EQ(r.value, "one");
  EXPECT_EQ(r.version, w1.version);
}

TEST_F(FileStateBackendTest, StaleVersionConflictsAndChangesNothing) {
  auto b = open_ok();
  const WriteResult w1 = b->write("nodes", "one", "", kTimeout);
  const WriteResult w2 = b->write("nodes", "two", w1.version, kTimeout);
  ASSERT_EQ(w2.status, StoreStatus::kOk) << w2.error;
  // A deposed writer still holding version 1:
  const WriteResult stale = b->write("nodes", "stale", w1.version, kTimeout);
  EXPECT_EQ(stale.status, StoreStatus::kConflict);
  EXPECT_EQ(stale.error, "state key \"nodes\" is at version \"2\", not \"1\"");
  const ReadResult r = b->read("nodes", kTimeout);
  EXPECT_EQ(r.value, "two");
  EXPECT_EQ(r.version, w2.version);
}

TEST_F(FileStateBackendTest, UpdateOfAnAbsentObjectConflicts) {
  auto b = open_ok();
  const WriteResult w = b->write("nodes", "x", "3", kTimeout);
  EXPECT_EQ(w.status, StoreStatus::kConflict);
  EXPECT_EQ(w.error, "state key \"nodes\" is at version (absent), not \"3\"");
  EXPECT_FALSE(b->read("nodes", kTimeout).found);
  EXPECT_FALSE(fs::exists(file("nodes.state")));
}

TEST_F(FileStateBackendTest, KeysAreIndependent) {
  auto b = open_ok();
  ASSERT_EQ(b->write("a", "1", "", kTimeout).status, StoreStatus::kOk);
  ASSERT_EQ(b->write("b", "2", "", kTimeout).status, StoreStatus::kOk);
  EXPECT_EQ(b->read("a", kTimeout).value, "1");
  EXPECT_EQ(b->read("b", kTimeout).value, "2");
}

TEST_F(FileStateBackendTest, BinaryAndLargestValuesRoundTrip) {
  auto b = open_ok();
  std::string value(kMaxValueBytes, '\0');
  for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(i * 31);
  const WriteResult w = b->write("big", value, "", kTimeout);
  ASSERT_EQ(w.status, StoreStatus::kOk) << w.error;
  EXPECT_EQ(b->read("big", kTimeout).value, value);
}

TEST_F(FileStateBackendTest, OversizedValueIsRefused) {
  auto b = open_ok();
  const WriteResult w = b->write("big", std::string(kMaxValueBytes + 1, 'x'), "", kTimeout);
  EXPECT_EQ(w.status, StoreStatus::kUnavailable);
  EXPECT_THAT(w.error, HasSubstr("exceeds the maximum of 786432"));
  EXPECT_FALSE(fs::exists(file("big.state")));
}

TEST_F(FileStateBackendTest, InvalidKeysAreRefusedAndNeverTouchTheDisk) {
  auto b = open_ok();
  const std::vector<std::string> keys = {"",    "../escape",         "Upper", "-a", "a-",
                                         "a.b", std::string(64, 'a')};
  for (const std::string& key : keys) {
    SCOPED_TRACE(key);
    const WriteResult w = b->write(key, "x", "", kTimeout);
    EXPECT_EQ(w.status, StoreStatus::kUnavailable);
    EXPECT_THAT(w.error, HasSubstr("state key"));
    const ReadResult r = b->read(key, kTimeout);
    EXPECT_EQ(r.status, StoreStatus::kUnavailable);
    EXPECT_FALSE(r.error.empty());
  }
  EXPECT_FALSE(fs::exists(root_ / "escape.state"));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{".lock"});
}

TEST_F(FileStateBackendTest, ANewInstanceReadsWhatThePreviousWrote) {
  std::string version;
  {
    auto b = open_ok();
    ASSERT_EQ(b->write("nodes", "v1", "", kTimeout).status, StoreStatus::kOk);
    const WriteResult w = b->write("nodes", "v2", "1", kTimeout);
    ASSERT_EQ(w.status, StoreStatus::kOk) << w.error;
    version = w.version;
  }
  auto b = open_ok();
  ASSERT_TRUE(b);
  const ReadResult r = b->read("nodes", kTimeout);
  ASSERT_EQ(r.status, StoreStatus::kOk) << r.error;
  EXPECT_EQ(r.value, "v2");
  EXPECT_EQ(r.version, version);
  // The versions continue: the old version is stale for the new instance too.
  EXPECT_EQ(b->write("nodes", "x", "1", kTimeout).status, StoreStatus::kConflict);
  EXPECT_EQ(b->write("nodes", "v3", version, kTimeout).status, StoreStatus::kOk);
}

TEST_F(FileStateBackendTest, TheDirectoryIsExclusiveWhileAnInstanceLives) {
  auto first = open_ok();
  ASSERT_TRUE(first);
  std::string error;
  auto second = FileStateBackend::open(dir_, &error);
  EXPECT_EQ(second, nullptr);
  EXPECT_EQ(error, "state_dir \"" + dir_ + "\" is in use by another pgdog-control (pid " +
                       std::to_string(::getpid()) + ")");
  EXPECT_EQ(slurp(file(".lock")), std::to_string(::getpid()) + "\n");
  first.reset();  // releases the lock
  EXPECT_NE(FileStateBackend::open(dir_, &error), nullptr) << error;
}

TEST_F(FileStateBackendTest, ACorruptFileIsAnErrorNeverAbsence) {
  auto b = open_ok();
  const WriteResult w = b->write("nodes", "{\"a\":1}", "", kTimeout);
  ASSERT_EQ(w.status, StoreStatus::kOk);
  const std::string good = slurp(file("nodes.state"));

  struct Damage {
    std::string bytes;
    std::string problem;
  };
  std::string edited = good;
  edited[edited.size() - 2] = '2';
  const std::vector<Damage> damages = {
      {"", "the file is empty"},
      {good.substr(0, good.size() - 3), "the header says 7 bytes of value, the file holds 4"},
      {good.substr(0, 10), "the header line is incomplete"},
      {edited, "the checksum does not match the content"},
      {"{\"a\":1}", "it does not start with \"pgdc-state\""},
  };
  for (const Damage& d : damages) {
    SCOPED_TRACE(d.problem);
    spit(file("nodes.state"), d.bytes);
    const ReadResult r = b->read("nodes", kTimeout);
    EXPECT_EQ(r.status, StoreStatus::kUnavailable);
    EXPECT_FALSE(r.found);
    EXPECT_THAT(r.error, HasSubstr("state file \"" + file("nodes.state") +
                                   "\" is corrupt: " + d.problem + " ("));
    // Neither a create-if-absent nor an update may replace it unseen.
    for (const std::string expected : {"", "1"}) {
      const WriteResult over = b->write("nodes", "new", expected, kTimeout);
      EXPECT_EQ(over.status, StoreStatus::kUnavailable);
      EXPECT_EQ(over.error, r.error);
    }
    EXPECT_EQ(slurp(file("nodes.state")), d.bytes);
  }
}

TEST_F(FileStateBackendTest, AnObjectThatIsNotAFileIsAnError) {
  auto b = open_ok();
  fs::create_directory(file("nodes.state"));
  const ReadResult r = b->read("nodes", kTimeout);
  EXPECT_EQ(r.status, StoreStatus::kUnavailable);
  EXPECT_EQ(r.error, "state file \"" + file("nodes.state") + "\" is not a file");
}

TEST_F(FileStateBackendTest, ALeftoverTmpFileIsIgnoredAndReplaced) {
  auto b = open_ok();
  ASSERT_EQ(b->write("nodes", "kept", "", kTimeout).status, StoreStatus::kOk);
  // A crash between writing the temporary file and the rename:
  spit(file("nodes.state.tmp"), "pgdc-state 1 9 3 0000");
  spit(file("other.state.tmp"), "garbage");
  ReadResult r = b->read("nodes", kTimeout);
  EXPECT_EQ(r.value, "kept");
  EXPECT_EQ(r.version, "1");
  r = b->read("other", kTimeout);
  EXPECT_EQ(r.status, StoreStatus::kOk);
  EXPECT_FALSE(r.found);
  const WriteResult w = b->write("nodes", "next", "1", kTimeout);
  ASSERT_EQ(w.status, StoreStatus::kOk) << w.error;
  EXPECT_EQ(b->read("nodes", kTimeout).value, "next");
  EXPECT_FALSE(fs::exists(file("nodes.state.tmp"))) << "renamed into place";
}

TEST_F(FileStateBackendTest, AFailedWriteIsUnavailableNamesThePathAndChangesNothing) {
  auto b = open_ok();
  ASSERT_EQ(b->write("nodes", "kept", "", kTimeout).status, StoreStatus::kOk);
  // The temporary file cannot be created where a directory stands.
  fs::create_directory(file("nodes.state.tmp"));
  const WriteResult w = b->write("nodes", "lost", "1", kTimeout);
  EXPECT_EQ(w.status, StoreStatus::kUnavailable);
  EXPECT_THAT(w.error, HasSubstr("cannot create \"" + file("nodes.state.tmp") + "\": "));
  EXPECT_THAT(w.error, HasSubstr("directory"));  // strerror(EISDIR)
  const ReadResult r = b->read("nodes", kTimeout);
  EXPECT_EQ(r.value, "kept");
  EXPECT_EQ(r.version, "1");
}

TEST_F(FileStateBackendTest, ADirectoryThatCannotBeCreatedIsAClearError) {
  // Under a regular file: mkdir fails even for root (permission bits would not).
  spit((root_ / "plain").string(), "x");
  dir_ = (root_ / "plain" / "state").string();
  std::string error;
  EXPECT_EQ(FileStateBackend::open(dir_, &error), nullptr);
  EXPECT_THAT(error, HasSubstr("state_dir \"" + dir_ + "\""));
  EXPECT_THAT(error, HasSubstr("Not a directory"));
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

TEST_F(FileStateBackendTest, AFileAsStateDirIsAClearError) {
  spit(dir_, "x");
  std::string error;
  EXPECT_EQ(FileStateBackend::open(dir_, &error), nullptr);
  EXPECT_EQ(error, "state_dir \"" + dir_ + "\" is not a directory");
}

TEST_F(FileStateBackendTest, AnEmptyStateDirIsRefused) {
  std::string error;
  EXPECT_EQ(FileStateBackend::open("", &error), nullptr);
  EXPECT_EQ(error, "state_dir must not be empty");
}

TEST_F(FileStateBackendTest, ConcurrentWritesToDifferentKeysAllLand) {
  auto b = open_ok();
  constexpr int kThreads = 4;
  constexpr int kWrites = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string key = "key-" + std::to_string(t);
      std::string version;
      for (int i = 0; i < kWrites; ++i) {
        const WriteResult w = b->write(key, key + ":" + std::to_string(i), version, kTimeout);
        if (w.status != StoreStatus::kOk) ++failures;
        version = w.version;
        if (b->read(key, kTimeout).version != version) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    const std::string key = "key-" + std::to_string(t);
    const ReadResult r = b->read(key, kTimeout);
    EXPECT_EQ(r.value, key + ":" + std::to_string(kWrites - 1));
    EXPECT_EQ(r.version, std::to_string(kWrites));
  }
}

TEST_F(FileStateBackendTest, ConcurrentWritersOfOneKeyNeverBothWin) {
  auto b = open_ok();
  ASSERT_EQ(b->write("nodes", "0", "", kTimeout).status, StoreStatus::kOk);
  // Every thread tries to move version 1 on; exactly one may succeed.
  constexpr int kThreads = 4;
  std::atomic<int> wins{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const WriteResult w = b->write("nodes", std::to_string(t), "1", kTimeout);
      if (w.status == StoreStatus::kOk) ++wins;
      if (w.status == StoreStatus::kConflict) ++conflicts;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
  EXPECT_EQ(b->read("nodes", kTimeout).version, "2");
}

}  // namespace
}  // namespace pgdc::state
