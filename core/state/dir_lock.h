// The exclusive claim of one process on a state directory: flock(LOCK_EX |
// LOCK_NB) on <dir>/.lock, held while this object lives, with the holder's
// pid written into the file for the message another process gets.
//
// Why: two processes writing one state_dir would each compare-and-swap
// against their own view and both succeed; the lock makes the second one
// refuse to start instead. flock locks belong to the open file description,
// so a second DirLock in the same process conflicts too, and the kernel
// drops the lock when the process dies (no stale lock after a crash).
#pragma once

#include <memory>
#include <string>

#include "state/posix_file.h"

namespace pgdc::state {

class DirLock {
 public:
  // Null with a one-line *error when the lock is held elsewhere, e.g.
  //   state_dir "/x" is in use by another pgdog-control (pid 42)
  // or when the lock file cannot be opened. `dir` must exist.
  static std::unique_ptr<DirLock> take(const std::string& dir, std::string* error);

  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock() = default;  // closing the descriptor releases the lock

 private:
  explicit DirLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace pgdc::state
