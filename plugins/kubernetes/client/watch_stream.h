// One watch request of CpprestTransport, from the GET to the last line.
// Internal to the cpprest transport (it brings in cpprest headers: include it
// only from .cpp files).
//
// cpprest writes the response body, on its own thread pool, into a
// producer/consumer buffer; the thread in watch() reads it from there. The
// two meet in a State (mutex, condition variable, what the callbacks saw)
// that the callbacks hold by shared_ptr, so a callback that runs after the
// watch ended touches nothing freed.
//
// Thread-safety: one WatchStream is used by one thread (the caller of
// watch()). Destroying it cancels the request and closes the buffer, which
// ends cpprest's side of it.
#pragma once

#include "api_transport.h"

#include <cpprest/http_client.h>
#include <cpprest/producerconsumerstream.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

namespace pgdc::kube::detail {

class WatchStream {
 public:
  using Clock = std::chrono::steady_clock;
  using LineHandler = std::function<bool(std::string_view line)>;

  WatchStream();
  ~WatchStream();
  WatchStream(const WatchStream&) = delete;
  WatchStream& operator=(const WatchStream&) = delete;

  // Sends `request` on `client`, its body going into this stream. Called
  // once. Throws what cpprest throws for a request it cannot send.
  void start(web::http::client::http_client& client, web::http::http_request request);

  struct Headers {
    bool stopped = false;  // stop was requested while waiting
    bool arrived = false;  // false: the deadline passed first
    // Set when the headers arrived; empty when the request failed instead:
    std::optional<web::http::http_response> response;
    std::string error;   // then cpprest's message...
    int error_code = 0;  // ...and its error code (0 when none)
  };
  // Waits for the response headers (or the request's failure) until `deadline`.
  Headers wait_for_headers(Clock::time_point deadline, std::stop_token stop);

  // Waits until the body is complete, `deadline` or stop, then returns what
  // the buffer holds: the small body of an error status.
  std::string read_whole_body(Clock::time_point deadline, std::stop_token stop);

  // The body of a 200: hands each complete line (a trailing '\r' removed,
  // empty lines skipped) to on_line as it arrives, until the stream ends,
  // on_line returns false or throws, a line passes 64 MiB, nothing arrives
  // for `idle_timeout`, or stop is requested. Sets result.stopped,
  // result.timed_out and result.transport_error (messages name `path`).
  void read_lines(const std::string& path, std::chrono::milliseconds idle_timeout,
                  const LineHandler& on_line, std::stop_token stop, WatchResult& result);

 private:
  struct State;
  struct Progress {
    bool stopped = false;    // stop was requested while waiting
    bool body_done = false;  // the body ended...
    std::string body_error;  // ...broken with this error; empty when it ended cleanly
  };

  // Waits until bytes are available, the body ended, `deadline` or stop.
  Progress wait_for_data(Clock::time_point deadline, std::stop_token stop);
  // Appends what the buffer holds now to `out`, without waiting; notes the
  // end of the stream in eof_.
  void drain(std::string& out);

  // Declared in this order so they are destroyed in the reverse one, after
  // the destructor's cancel and close: the cancellation source, the buffer,
  // then (the callbacks' reference aside) the state.
  std::shared_ptr<State> state_;
  concurrency::streams::producer_consumer_buffer<uint8_t> buffer_;
  pplx::cancellation_token_source cancel_;
  // A getc() continuation is pending and will report the next bytes.
  bool data_signal_armed_ = false;
  // drain() has read the end of the stream (stays true).
  bool eof_ = false;
};

// Hands each complete line of `pending` to on_line (a trailing '\r' removed,
// empty lines skipped) and keeps only the unfinished tail. Returns false,
// leaving `pending` as it was, when the watch must end: on_line returned
// false, or it threw (then `error` says so).
bool deliver_lines(std::string& pending, const WatchStream::LineHandler& on_line,
                   std::string& error);

}  // namespace pgdc::kube::detail
