// Test helpers: a server on 127.0.0.1:0 with a small route set, a captured log, and a raw socket
// for byte-level requests (malformed, slow, oversized).
#pragma once

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>

#include "control/http/auth.h"
#include "control/http/server.h"

namespace populi::http::testing {

// A sink that keeps every formatted line in memory.
class StringSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string Text() {
    std::lock_guard lock(mutex_);
    return text_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    text_.append(formatted.data(), formatted.size());
  }
  void flush_() override {}

 private:
  std::string text_;
};

// A logger whose output the test can read back.
class CapturedLog {
 public:
  CapturedLog();
  std::shared_ptr<spdlog::logger> logger() const { return logger_; }
  std::string Text();

 private:
  std::shared_ptr<StringSink> sink_;
  std::shared_ptr<spdlog::logger> logger_;
};

// Options with short timeouts and small pools suited to tests.
ServerOptions TestOptions();

// Shared state the test routes read and write.
struct RouteState {
  std::atomic<bool> ready{false};        // long-poll answers once set
  std::atomic<int> events_available{0};  // SSE emits events 1..events_available
  std::atomic<int> slow_started{0};
  std::atomic<int> slow_ms{300};
  std::atomic<int> flaky_failures_left{0};  // /v1/populi/flaky answers 503 while > 0
  std::atomic<int> polls_started{0};        // /v1/populi/wait requests handled
  std::atomic<int> polls_released{0};       // /v1/populi/wait polls the server let go of
  std::mutex mu;
  std::string last_remote;
};

// Routes:
//   GET  /health                         open
//   GET  /v1/populi/items/{id}           read_only, submitter, worker, mesh → {"id","q","who"}
//   POST /v1/populi/items                submitter, mesh; body limit 1024 → {"size"}
//   POST /v1/populi/nodes/{id}/work      worker, mesh
//   POST /v1/populi/admin/reset          admin only
//   GET  /v1/populi/slow                 open; sleeps slow_ms then 200
//   GET  /v1/populi/wait?timeout_ms=N    open long-poll on topic "ready" (&holder=ID: held by ID;
//                                        &end_when_dropped=1: LongPoll::end_when_dropped)
//   GET  /v1/populi/events               open SSE on topic "events"
//   GET  /v1/populi/throw                open; the handler throws
//   GET  /v1/populi/flaky                open; 503 while flaky_failures_left > 0
Router TestRouter(RouteState& state);

// A connected blocking TCP socket to 127.0.0.1:port.
class RawSocket {
 public:
  explicit RawSocket(int port);
  ~RawSocket();
  bool connected() const { return fd_ >= 0; }
  bool Send(std::string_view bytes);
  // Reads until the peer closes or `timeout_ms` passes without data; returns what arrived.
  std::string ReadAll(int timeout_ms = 5'000);
  // Reads until "\r\n\r\n" plus Content-Length bytes of body are in, or timeout.
  std::string ReadResponse(int timeout_ms = 5'000);
  // True when the peer has closed the connection (read returns 0 or an error) within timeout.
  bool WaitClosed(int timeout_ms);

 private:
  int fd_ = -1;
};

// The status code of a raw HTTP response ("HTTP/1.1 404 Not Found..." → 404), or 0.
int StatusOf(const std::string& raw_response);

}  // namespace populi::http::testing
