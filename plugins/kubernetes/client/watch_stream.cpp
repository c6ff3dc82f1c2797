#include "watch_stream.h"

#include "text.h"

#include <condition_variable>
#include <exception>
#include <mutex>
#include <utility>

namespace pgdc::kube::detail {

namespace {

namespace whttp = web::http;
using Buffer = concurrency::streams::producer_consumer_buffer<uint8_t>;

constexpr std::size_t kMaxLine = 64 * 1024 * 1024;  // one watch event

}  // namespace

// What cpprest's callbacks report to the reading thread, under `mu`.
struct WatchStream::State {
  std::mutex mu;
  std::condition_variable_any cv;
  bool headers = false;  // the response (or an error) arrived
  std::optional<whttp::http_response> response;
  std::string error;
  int error_code = 0;
  bool body_done = false;  // the body ended (or failed)
  std::string body_error;
  bool data = false;  // bytes are available in the buffer
};

WatchStream::WatchStream() : state_(std::make_shared<State>()) {}

WatchStream::~WatchStream() {
  cancel_.cancel();
  try {
    buffer_.close(std::ios_base::out).wait();
    buffer_.close(std::ios_base::in).wait();
  } catch (...) {
  }
}

void WatchStream::start(web::http::client::http_client& client, whttp::http_request request) {
  request.set_response_stream(buffer_.create_ostream());
  // Two callbacks, both recording into the state: the headers (or why the
  // request failed), then the end of the body (or why it broke).
  client.request(request, cancel_.get_token())
      .then([state = state_](pplx::task<whttp::http_response> t) {
        std::optional<whttp::http_response> response;
        std::string error;
        int code = 0;
        try {
          response = t.get();
        } catch (const whttp::http_exception& e) {
          error = e.what();
          code = e.error_code().value();
        } catch (const pplx::task_canceled&) {
          error = "canceled";
        } catch (const std::exception& e) {
          error = e.what();
        }
        {
          std::lock_guard lock(state->mu);
          state->headers = true;
          state->response = response;
          state->error = std::move(error);
          state->error_code = code;
          state->cv.notify_all();
        }
        if (!response) return;
        response->content_ready().then([state](pplx::task<whttp::http_response> done) {
          std::string body_error;
          try {
            done.wait();
          } catch (const std::exception& e) {
            body_error = e.what();
            if (body_error.empty()) body_error = "the stream broke";
          }
          std::lock_guard lock(state->mu);
          state->body_done = true;
          state->body_error = std::move(body_error);
          state->cv.notify_all();
        });
      });
}

WatchStream::Headers WatchStream::wait_for_headers(Clock::time_point deadline,
                                                   std::stop_token stop) {
  std::unique_lock lock(state_->mu);
  Headers h;
  h.arrived = state_->cv.wait_until(lock, stop, deadline, [&] { return state_->headers; });
  h.stopped = stop.stop_requested();
  if (h.arrived) {
    h.response = state_->response;
    h.error = state_->error;
    h.error_code = state_->error_code;
  }
  return h;
}

std::string WatchStream::read_whole_body(Clock::time_point deadline, std::stop_token stop) {
  {
    std::unique_lock lock(state_->mu);
    state_->cv.wait_until(lock, stop, deadline, [&] { return state_->body_done; });
  }
  std::string body;
  drain(body);
  return body;
}

void WatchStream::read_lines(const std::string& path, std::chrono::milliseconds idle_timeout,
                             const LineHandler& on_line, std::stop_token stop,
                             WatchResult& result) {
  std::string pending;  // received, not yet delivered: at most one unfinished line
  auto last_activity = Clock::now();
  for (;;) {
    // a. Bytes, the end of the body, stop, or the idle deadline.
    const Progress progress = wait_for_data(last_activity + idle_timeout, stop);
    if (progress.stopped) {
      result.stopped = true;
      return;
    }
    // b. Take what arrived; any byte counts as activity.
    const std::size_t before = pending.size();
    drain(pending);
    if (pending.size() != before) last_activity = Clock::now();
    // c. Deliver the complete lines; an unfinished one waits for its end.
    if (!deliver_lines(pending, on_line, result.transport_error)) return;
    if (pending.size() > kMaxLine) {
      result.transport_error = "watch GET " + path + ": a line is longer than 64 MiB";
      return;
    }
    // d. The end of the stream. The buffer can run dry before cpprest's
    //    content_ready() says whether the body ended cleanly: wait for that.
    if (progress.body_done || eof_) {
      if (!progress.body_done) continue;
      drain(pending);  // anything written just before completion
      if (!progress.body_error.empty()) {
        result.transport_error = "watch GET " + path + ": the stream broke: " + progress.body_error;
      } else if (!pending.empty()) {
        result.transport_error = "watch GET " + path + ": the stream ended inside a line";
      }
      return;
    }
    // e. Nothing for the idle timeout.
    if (Clock::now() >= last_activity + idle_timeout) {
      result.timed_out = true;
      result.transport_error =
          "watch GET " + path + ": nothing received for " + ms_text(idle_timeout);
      return;
    }
  }
}

WatchStream::Progress WatchStream::wait_for_data(Clock::time_point deadline, std::stop_token stop) {
  std::unique_lock lock(state_->mu);
  if (!data_signal_armed_ && !state_->body_done) {
    // getc() completes when a byte is available (without consuming it) or
    // the buffer is closed; one such signal is pending at a time.
    data_signal_armed_ = true;
    state_->data = false;
    lock.unlock();
    buffer_.getc().then([state = state_](pplx::task<int> t) {
      try {
        t.wait();
      } catch (...) {
      }
      std::lock_guard guard(state->mu);
      state->data = true;
      state->cv.notify_all();
    });
    lock.lock();
  }
  state_->cv.wait_until(lock, stop, deadline, [&] { return state_->data || state_->body_done; });
  Progress p;
  p.stopped = stop.stop_requested();
  if (p.stopped) return p;
  p.body_done = state_->body_done;
  p.body_error = state_->body_error;
  if (state_->data) data_signal_armed_ = false;
  return p;
}

void WatchStream::drain(std::string& out) {
  for (;;) {
    const auto c = buffer_.sbumpc();
    if (c == Buffer::traits::eof()) {
      eof_ = true;
      return;
    }
    if (c == Buffer::traits::requires_async()) return;
    out.push_back(static_cast<char>(c));
  }
}

bool deliver_lines(std::string& pending, const WatchStream::LineHandler& on_line,
                   std::string& error) {
  std::size_t start = 0;
  for (;;) {
    const auto nl = pending.find('\n', start);
    if (nl == std::string::npos) break;
    std::string_view line(pending.data() + start, nl - start);
    start = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    bool more = false;
    try {
      more = on_line(line);
    } catch (const std::exception& e) {
      error = std::string("watch line handler threw: ") + e.what();
      return false;
    } catch (...) {
      error = "watch line handler threw";
      return false;
    }
    if (!more) return false;
  }
  pending.erase(0, start);
  return true;
}

}  // namespace pgdc::kube::detail
