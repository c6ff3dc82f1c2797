#include "daemon/signals.h"

#include <csignal>
#include <cstdio>
#include <thread>

#include <pthread.h>
#include <unistd.h>

#include "log/logger.h"

namespace pgdc {
namespace {

int wake_signal() { return SIGRTMIN + 1; }

sigset_t shutdown_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, wake_signal());
  return set;
}

}  // namespace

ShutdownSignals::ShutdownSignals() {
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t set = shutdown_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int ShutdownSignals::wait() {
  sigset_t set = shutdown_set();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      // The default action would end the process without releasing the
      // lease. Nothing here can be reloaded safely in place (timings and the
      // plugin are fixed for a term), so it is ignored, loudly.
      log::warn("core",
                "received SIGHUP: ignored (the configuration is not reloaded; restart the replica "
                "to apply changes)");
      continue;
    }
    return sig == wake_signal() ? 0 : sig;
  }
}

void ShutdownSignals::exit_on_second_signal() {
  std::thread([] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    static const char kMsg[] = "second signal: exiting at once\n";
    (void)!::write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
    ::_exit(1);
  }).detach();
}

void ShutdownSignals::request_stop() { ::kill(::getpid(), wake_signal()); }

}  // namespace pgdc
