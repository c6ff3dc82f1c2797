// Reading the daemon's own input files (config.yaml, token files) safely:
//  - regular files only: a FIFO would block open() for ever (and the daemon
//    blocks its signals from the start, so not even SIGTERM would end it), a
//    device such as /dev/zero never ends;
//  - at most max_bytes, checked on the size and again while reading (a file
//    may grow, and /proc files report size 0);
//  - open() does not wait (O_NONBLOCK) and follows symlinks, as Kubernetes
//    Secret and ConfigMap mounts need.
// Errors name the file and the reason, e.g.
//   cannot read config file "/x": not a regular file (a FIFO)
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace pgdc {

inline constexpr std::size_t kMaxConfigFileBytes = 1 << 20;  // 1 MiB
inline constexpr std::size_t kMaxTokenFileBytes = 1 << 20;   // 1 MiB

struct SmallFile {
  std::optional<std::string> text;  // set when read
  std::string error;                // the reason when not (without the path)
  bool readable_by_others = false;  // mode has S_IROTH: anyone on the host may read it
};

SmallFile read_small_file(const std::string& path, std::size_t max_bytes);

}  // namespace pgdc
