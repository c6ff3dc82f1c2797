// StateBackend on files in one directory (config key state_dir), for a
// single replica: each object is <dir>/<key>.state (state_file_format.h), its
// version the decimal generation in the file's header.
//
// Invariants:
//  - One process per directory: open() takes an exclusive flock on
//    <dir>/.lock (dir_lock.h) and holds it for the object's lifetime, so the
//    compare in write() cannot race another writer.
//  - A write replaces the file whole or not at all: <key>.state.tmp is
//    written and fsynced, renamed over <key>.state, then the directory is
//    fsynced (docs/configuration.md#state). A crash leaves the old or the
//    new object, never a torn one; a leftover .tmp file is never read and is
//    overwritten by the next write.
//  - A file that does not decode (torn, truncated, edited) is an error
//    (kUnavailable naming the file and the problem) for read and write
//    alike, never "absent": treating it as absent would let the next
//    create-if-absent write silently replace lost state.
//  - Reads need no lock: rename is atomic, so a read sees the old or the new
//    file. Writes are serialised per key (a mutex per key; keys are a small,
//    fixed set, so the mutexes are never freed).
// Timeouts are not applied: these are local system calls, and a write that
// returned is durable.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "state/dir_lock.h"
#include "state/posix_file.h"
#include "state/state_backend.h"

namespace pgdc::state {

class FileStateBackend : public StateBackend {
 public:
  // Creates `dir` if missing (mode 0700, parents too), checks it is a
  // writable directory and takes its lock. Null with a one-line *error
  // otherwise, e.g.
  //   state_dir "/x" is in use by another pgdog-control (pid 42)
  //   state_dir "/x" is not a directory
  static std::unique_ptr<FileStateBackend> open(const std::string& dir, std::string* error);

  std::string describe() const override;
  ReadResult read(const std::string& key, std::chrono::milliseconds timeout) override;
  WriteResult write(const std::string& key, std::string_view value,
                    const std::string& expected_version,
                    std::chrono::milliseconds timeout) override;

 private:
  FileStateBackend(std::string dir, UniqueFd dir_fd, std::unique_ptr<DirLock> lock);

  std::string path_of(const std::string& key) const;
  ReadResult read_file(const std::string& key) const;
  std::mutex& key_mutex(const std::string& key);

  const std::string dir_;
  const UniqueFd dir_fd_;  // every file operation is relative to it (openat)
  const std::unique_ptr<DirLock> lock_;
  std::mutex mutexes_mutex_;
  std::map<std::string, std::unique_ptr<std::mutex>> key_mutexes_;  // guarded by mutexes_mutex_
};

}  // namespace pgdc::state
