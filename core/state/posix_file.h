// Small POSIX file helpers for FileStateBackend: an owning descriptor, whole
// reads and writes that survive EINTR and short transfers, and the one-line
// error text every failure carries (what was done, the path, strerror).
#pragma once

#include <string>
#include <string_view>

namespace pgdc::state {

// Owns a file descriptor; closes it once. -1 means none.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release();
  void reset();
  // Closes now and reports close()'s result (0 or -1 with errno): after a
  // write, a failed close may be the only sign the data did not land.
  int close();

 private:
  int fd_ = -1;
};

// "<what> \"<path>\": <strerror(err)>", e.g.
//   cannot fsync "/var/lib/x/nodes.state.tmp": No space left on device
std::string errno_text(std::string_view what, std::string_view path, int err);

// Writes all of `data`; false with errno set on failure.
bool write_all(int fd, std::string_view data);

// Reads until end of file, at most `max_bytes` (more: false with errno
// EFBIG); false with errno set on failure.
bool read_all(int fd, std::size_t max_bytes, std::string& out);

}  // namespace pgdc::state
