#include "state/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include "state/posix_file.h"

namespace pgdc::state {
namespace {

// The holder's pid as written in the lock file, or "unknown" (the holder may
// be between taking the lock and writing its pid).
std::string holder_pid(int fd) {
  std::string text;
  if (::lseek(fd, 0, SEEK_SET) != 0 || !read_all(fd, 32, text)) return "unknown";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return "unknown";
  return text;
}

}  // namespace

std::unique_ptr<DirLock> DirLock::take(const std::string& dir, std::string* error) {
  const std::string path = dir + "/.lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) {
    *error = errno_text("cannot open the lock file", path, errno);
    return nullptr;
  }
  int rc;
  do {
    rc = ::flock(fd.get(), LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno == EWOULDBLOCK) {
      *error = "state_dir \"" + dir + "\" is in use by another pgdog-control (pid " +
               holder_pid(fd.get()) + ")";
    } else {
      *error = errno_text("cannot lock", path, errno);
    }
    return nullptr;
  }
  // Only the holder writes the file, so truncating it cannot race another
  // writer; a reader may briefly see it empty ("pid unknown").
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) != 0 ||
      ::pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    *error = errno_text("cannot write the pid into", path, errno);
    return nullptr;
  }
  return std::unique_ptr<DirLock>(new DirLock(std::move(fd)));
}

}  // namespace pgdc::state
