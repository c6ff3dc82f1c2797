// Shutdown signals, handled synchronously with sigwait on one thread.
//
// Construct ShutdownSignals in main() before any other thread exists: it
// blocks SIGTERM, SIGINT, SIGHUP and an internal wake-up signal in the calling
// thread, and every thread created later inherits that mask, so only wait()
// sees them. SIGHUP is logged and ignored (by default it would end the
// process without releasing the lease; nothing is reloaded).
// SIGPIPE is ignored (a peer closing a socket is an error code, not a death).
#pragma once

namespace pgdc {

class ShutdownSignals {
 public:
  ShutdownSignals();

  // Blocks until SIGTERM, SIGINT or request_stop(); returns the signal
  // number (0 for request_stop).
  int wait();

  // After the first signal: a second SIGTERM/SIGINT ends the process at once
  // with exit status 1, whatever the shutdown is doing.
  void exit_on_second_signal();

  // Wakes wait() from any thread (a runtime failure that must stop the daemon).
  static void request_stop();
};

}  // namespace pgdc
