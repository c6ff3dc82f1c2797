#include "state/file_state_backend.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "state/state_file_format.h"
#include "state/state_key.h"

namespace pgdc::state {
namespace {

constexpr std::string_view kSuffix = ".state";
constexpr std::string_view kTmpSuffix = ".state.tmp";
// A header is far shorter (state_file_format.h); anything larger is not ours.
constexpr std::size_t kMaxFileBytes = kMaxValueBytes + 256;

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// mkdir -p with mode 0700 for every directory it creates.
bool make_dirs(const std::string& dir, std::string* error) {
  for (std::size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      *error = "cannot create state_dir " + quoted(dir) + ": " + errno_text("mkdir", prefix, errno);
      return false;
    }
  }
  return true;
}

WriteResult write_failure(std::string error) {
  WriteResult out;
  out.status = StoreStatus::kUnavailable;
  out.error = std::move(error);
  return out;
}

ReadResult read_failure(std::string error) {
  ReadResult out;
  out.status = StoreStatus::kUnavailable;
  out.error = std::move(error);
  return out;
}

}  // namespace

std::unique_ptr<FileStateBackend> FileStateBackend::open(const std::string& dir,
                                                         std::string* error) {
  if (dir.empty()) {
    *error = "state_dir must not be empty";
    return nullptr;
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      *error = errno_text("cannot use state_dir", dir, errno);
      return nullptr;
    }
    if (!make_dirs(dir, error)) return nullptr;
  }
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) {
    *error = errno == ENOTDIR ? "state_dir " + quoted(dir) + " is not a directory"
                              : errno_text("cannot open state_dir", dir, errno);
    return nullptr;
  }
  // Root passes this whatever the mode bits say; a read-only mount still
  // fails it (EROFS).
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    *error = "state_dir " + quoted(dir) + " is not writable: " + errno_text("access", dir, errno);
    return nullptr;
  }
  std::unique_ptr<DirLock> lock = DirLock::take(dir, error);
  if (!lock) return nullptr;
  return std::unique_ptr<FileStateBackend>(
      new FileStateBackend(dir, std::move(dir_fd), std::move(lock)));
}

FileStateBackend::FileStateBackend(std::string dir, UniqueFd dir_fd, std::unique_ptr<DirLock> lock)
    : dir_(std::move(dir)), dir_fd_(std::move(dir_fd)), lock_(std::move(lock)) {}

std::string FileStateBackend::describe() const { return "files in " + quoted(dir_); }

std::string FileStateBackend::path_of(const std::string& key) const {
  return dir_ + "/" + key + std::string(kSuffix);
}

std::mutex& FileStateBackend::key_mutex(const std::string& key) {
  std::lock_guard<std::mutex> guard(mutexes_mutex_);
  std::unique_ptr<std::mutex>& m = key_mutexes_[key];
  if (!m) m = std::make_unique<std::mutex>();
  return *m;
}

ReadResult FileStateBackend::read_file(const std::string& key) const {
  const std::string path = path_of(key);
  const std::string name = key + std::string(kSuffix);
  UniqueFd fd(::openat(dir_fd_.get(), name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    if (errno == ENOENT) {
      ReadResult absent;
      absent.status = StoreStatus::kOk;
      return absent;
    }
    return read_failure(errno_text("cannot open state file", path, errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return read_failure(errno_text("cannot stat", path, errno));
  if (!S_ISREG(st.st_mode)) return read_failure("state file " + quoted(path) + " is not a file");
  std::string bytes;
  if (!read_all(fd.get(), kMaxFileBytes, bytes)) {
    if (errno == EFBIG) {
      return read_failure("state file " + quoted(path) + " is corrupt: larger than " +
                          std::to_string(kMaxFileBytes) + " bytes");
    }
    return read_failure(errno_text("cannot read state file", path, errno));
  }
  DecodedStateFile decoded = decode_state_file(bytes);
  if (!decoded.ok) {
    return read_failure("state file " + quoted(path) + " is corrupt: " + decoded.problem +
                        " (a torn write or an edit; it is not treated as absent: restore it or "
                        "move it away)");
  }
  ReadResult out;
  out.status = StoreStatus::kOk;
  out.found = true;
  out.value = std::move(decoded.value);
  out.version = std::to_string(decoded.generation);
  return out;
}

ReadResult FileStateBackend::read(const std::string& key, std::chrono::milliseconds) {
  if (std::string problem = key_problem(key); !problem.empty()) return read_failure(problem);
  return read_file(key);
}

WriteResult FileStateBackend::write(const std::string& key, std::string_view value,
                                    const std::string& expected_version,
                                    std::chrono::milliseconds) {
  if (std::string problem = key_problem(key); !problem.empty()) return write_failure(problem);
  if (value.size() > kMaxValueBytes) {
    return write_failure("state key \"" + key + "\": a value of " + std::to_string(value.size()) +
                         " bytes exceeds the maximum of " + std::to_string(kMaxValueBytes));
  }
  std::lock_guard<std::mutex> guard(key_mutex(key));

  // The compare: only this process writes the directory (the lock) and only
  // this thread this key (the mutex), so the version cannot move before the
  // rename below.
  const ReadResult current = read_file(key);
  if (current.status != StoreStatus::kOk) return write_failure(current.error);
  if (current.version != expected_version) {
    WriteResult conflict;
    conflict.status = StoreStatus::kConflict;
    conflict.error = "state key \"" + key + "\" is at version " +
                     (current.found ? quoted(current.version) : "(absent)") + ", not " +
                     (expected_version.empty() ? "(absent)" : quoted(expected_version));
    return conflict;
  }
  // The version is the generation this file decoded to, so it parses.
  const std::uint64_t generation = current.found ? std::stoull(current.version) + 1 : 1;

  const std::string tmp_name = key + std::string(kTmpSuffix);
  const std::string tmp_path = dir_ + "/" + tmp_name;
  const std::string name = key + std::string(kSuffix);
  UniqueFd fd(::openat(dir_fd_.get(), tmp_name.c_str(),
                       O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return write_failure(errno_text("cannot create", tmp_path, errno));
  const auto fail = [&](std::string_view what) {
    const int err = errno;
    fd.reset();
    ::unlinkat(dir_fd_.get(), tmp_name.c_str(), 0);  // best effort; the next write truncates it
    return write_failure(errno_text(what, tmp_path, err));
  };
  if (!write_all(fd.get(), encode_state_file(generation, value))) return fail("cannot write");
  if (::fsync(fd.get()) != 0) return fail("cannot fsync");
  if (fd.close() != 0) return fail("cannot close");
  if (::renameat(dir_fd_.get(), tmp_name.c_str(), dir_fd_.get(), name.c_str()) != 0) {
    return fail("cannot rename to " + quoted(name) + " the file");
  }
  // Until the directory entry is on disk, a power loss may bring back the
  // old file: the outcome is unknown, which kUnavailable says.
  if (::fsync(dir_fd_.get()) != 0) {
    return write_failure(errno_text("renamed, but cannot fsync the directory", dir_, errno));
  }
  WriteResult out;
  out.status = StoreStatus::kOk;
  out.version = std::to_string(generation);
  return out;
}

}  // namespace pgdc::state
