// The process's open-file limit against http.max_connections: each
// connection is a file descriptor, and accept() failing with EMFILE would
// stall every client (the server retries every 100 ms) instead of refusing
// the surplus cleanly at the connection cap.
#pragma once

#include <cstddef>
#include <string>

namespace pgdc {

// Descriptors kept for everything but connections (plugin, logs, the
// Kubernetes client, token files, forwards).
inline constexpr std::size_t kReservedFds = 256;

// Raises the soft RLIMIT_NOFILE towards the hard limit, as far as
// max_connections + kReservedFds needs. Returns a warning to log when even
// the hard limit is too low, else "".
std::string raise_fd_limit(std::size_t max_connections);

}  // namespace pgdc
