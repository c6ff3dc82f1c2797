#include "state/posix_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pgdc::state {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

int UniqueFd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

int UniqueFd::close() {
  // close() is never retried on EINTR: on Linux the descriptor is already
  // released then, and a retry could close another thread's new descriptor.
  const int rc = fd_ >= 0 ? ::close(fd_) : 0;
  fd_ = -1;
  return rc;
}

std::string errno_text(std::string_view what, std::string_view path, int err) {
  return std::string(what) + " \"" + std::string(path) + "\": " + std::strerror(err);
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool read_all(int fd, std::size_t max_bytes, std::string& out) {
  out.clear();
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) return true;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      errno = EFBIG;
      return false;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace pgdc::state
