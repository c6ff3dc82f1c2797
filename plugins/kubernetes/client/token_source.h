// The bearer token for the Kubernetes API. A token from a file (a projected,
// rotating service-account token) is re-read about every minute and on demand
// after a 401. The token itself is never logged.
//
// Thread-safe: all members may be called from several threads.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace pgdc::kube {

enum class LogSeverity { kDebug, kInfo, kWarn, kError };
// A log sink for the client layer; the plugin maps it to the host's log.
// Called from any thread (TokenSource calls it with its lock held: it must
// not call back into the TokenSource).
using LogFn = std::function<void(LogSeverity, std::string_view message)>;

class TokenSource {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  static constexpr std::chrono::seconds kDefaultReloadInterval{60};

  // `static_token`: used as is, or as the fallback until `token_file` (if set)
  // has been read successfully once. The file is read at construction.
  TokenSource(std::string static_token, std::string token_file,
              std::chrono::steady_clock::duration reload_interval = kDefaultReloadInterval,
              Clock clock = &std::chrono::steady_clock::now, LogFn log = {});

  TokenSource(const TokenSource&) = delete;
  TokenSource& operator=(const TokenSource&) = delete;

  // The current token (empty if there is none); re-reads the file first when
  // the reload interval has passed since the last read.
  std::string token();

  // Re-reads the file now (after a 401). Returns true when the token changed.
  // Without a file: returns false.
  bool refresh();

  bool from_file() const { return !file_.empty(); }
  const std::string& file() const { return file_; }
  // The last read error ("cannot read <file>: ..."), empty after a good read.
  std::string last_error() const;

 private:
  bool reload_locked();  // requires mu_; true when the token changed

  const std::string file_;
  const std::chrono::steady_clock::duration interval_;
  const Clock clock_;
  const LogFn log_;

  mutable std::mutex mu_;
  std::string token_;
  std::chrono::steady_clock::time_point last_read_{};
  std::string last_error_;
};

}  // namespace pgdc::kube
