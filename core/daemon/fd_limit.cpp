#include "daemon/fd_limit.h"

#include <sys/resource.h>

#include <algorithm>

namespace pgdc {

std::string raise_fd_limit(std::size_t max_connections) {
  const rlim_t wanted = static_cast<rlim_t>(max_connections + kReservedFds);
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return "";
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    return "the open-file limit (" + std::to_string(limit.rlim_cur) +
           ", ulimit -n) is below http.max_connections (" + std::to_string(max_connections) +
           ") + " + std::to_string(kReservedFds) +
           ": accept() may fail before the connection cap; raise the limit or lower "
           "http.max_connections";
  }
  return "";
}

}  // namespace pgdc
