#include "http/test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <thread>

#include "util/clock.h"

namespace populi::http::testing {

CapturedLog::CapturedLog()
    : sink_(std::make_shared<StringSink>()),
      logger_(std::make_shared<spdlog::logger>("http-test", sink_)) {
  logger_->set_level(spdlog::level::debug);
}

std::string CapturedLog::Text() {
  return sink_->Text();
}

ServerOptions TestOptions() {
  ServerOptions options;
  options.bind = "127.0.0.1:0";
  options.header_timeout_ms = 1'500;
  options.body_timeout_ms = 1'500;
  options.idle_timeout_ms = 3'000;
  options.io_threads = 2;
  options.handler_threads = 4;
  options.shutdown_grace_ms = 3'000;
  options.sse_keepalive_ms = 500;
  return options;
}

Router TestRouter(RouteState& state) {
  Router router;
  auto add = [&router](Method method, std::string pattern, std::vector<Role> roles,
                       std::string name, Handler handler, size_t max_body = 64 * 1024) {
    Route route;
    route.method = method;
    route.pattern = std::move(pattern);
    route.roles = std::move(roles);
    route.name = std::move(name);
    route.handler = std::move(handler);
    route.max_body_bytes = max_body;
    router.Add(std::move(route));
  };
  add(Method::kGet, "/health", {}, "health", [&state](Request& req) {
    std::lock_guard lock(state.mu);
    state.last_remote = req.remote_addr;
    return JsonResponse(R"({"ok":true})");
  });
  add(Method::kGet, "/v1/populi/items/{id}",
      {Role::kReadOnly, Role::kSubmitter, Role::kWorker, Role::kMesh}, "items.get",
      [](Request& req) {
        boost::json::object out;
        out["id"] = req.params["id"];
        out["q"] = req.query.count("q") ? req.query["q"] : "";
        out["who"] = req.principal.token_label;
        return JsonResponse(boost::json::serialize(out));
      });
  add(
      Method::kPost, "/v1/populi/items", {Role::kSubmitter, Role::kMesh}, "items.create",
      [](Request& req) {
        return JsonResponse("{\"size\":" + std::to_string(req.body.size()) + "}", 201);
      },
      1024);
  add(Method::kPost, "/v1/populi/nodes/{id}/work", {Role::kWorker, Role::kMesh}, "nodes.work",
      [](Request&) { return NoContent(); });
  add(Method::kPost, "/v1/populi/admin/reset", {Role::kAdmin}, "admin.reset",
      [](Request&) { return NoContent(); });
  add(Method::kGet, "/v1/populi/slow", {}, "slow", [&state](Request&) {
    ++state.slow_started;
    std::this_thread::sleep_for(std::chrono::milliseconds(state.slow_ms.load()));
    return JsonResponse(R"({"slow":true})");
  });
  add(Method::kGet, "/v1/populi/wait", {}, "wait", [&state](Request& req) {
    int64_t timeout_ms = req.query.count("timeout_ms") ? std::stoll(req.query["timeout_ms"]) : 0;
    ++state.polls_started;
    Response response;
    response.long_poll = std::make_shared<LongPoll>();
    response.long_poll->topic = "ready";
    response.long_poll->deadline_ms = SystemClock::Instance().MonotonicMs() + timeout_ms;
    if (req.query.count("holder")) response.long_poll->holder = req.query["holder"];
    response.long_poll->end_when_dropped = req.query.count("end_when_dropped") != 0;
    // Counts the poll's release: its functions hold the only reference.
    struct Released {
      explicit Released(std::atomic<int>& c) : count(c) {}
      ~Released() { ++count; }
      std::atomic<int>& count;
    };
    auto released = std::make_shared<Released>(state.polls_released);
    response.long_poll->poll = [&state, released]() -> std::optional<Response> {
      if (!state.ready.load()) return std::nullopt;
      return JsonResponse(R"({"ready":true})");
    };
    response.long_poll->on_timeout = [] { return JsonResponse(R"({"ready":false})"); };
    return response;
  });
  add(Method::kGet, "/v1/populi/events", {}, "events", [&state](Request&) {
    Response response;
    response.stream = std::make_shared<EventStream>();
    response.stream->topic = "events";
    response.stream->next = [&state](int64_t& cursor) -> std::optional<std::string> {
      int available = state.events_available.load();
      if (available < 0) return std::nullopt;  // the stream ends
      std::string out;
      while (cursor < available) {
        ++cursor;
        out +=
            "id: " + std::to_string(cursor) + "\ndata: {\"n\":" + std::to_string(cursor) + "}\n\n";
      }
      return out;
    };
    return response;
  });
  add(Method::kGet, "/v1/populi/throw", {}, "throw",
      [](Request&) -> Response { throw std::runtime_error("handler exploded"); });
  add(Method::kGet, "/v1/populi/flaky", {}, "flaky", [&state](Request& req) {
    if (state.flaky_failures_left.fetch_sub(1) > 0) {
      return ErrorResponse(Unavailable("try again", "retry"), req.request_id);
    }
    return JsonResponse(R"({"ok":true})");
  });
  return router;
}

RawSocket::RawSocket(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

RawSocket::~RawSocket() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawSocket::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string RawSocket::ReadAll(int timeout_ms) {
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) break;
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string RawSocket::ReadResponse(int timeout_ms) {
  std::string out;
  char buf[4096];
  for (;;) {
    size_t header_end = out.find("\r\n\r\n");
    if (header_end != std::string::npos) {
      size_t length = 0;
      size_t pos = out.find("Content-Length: ");
      if (pos != std::string::npos && pos < header_end) length = std::stoul(out.substr(pos + 16));
      if (out.size() >= header_end + 4 + length) return out;
    }
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) return out;
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

bool RawSocket::WaitClosed(int timeout_ms) {
  char buf[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
  return false;
}

int StatusOf(const std::string& raw) {
  if (raw.size() < 12 || raw.compare(0, 5, "HTTP/") != 0) return 0;
  return std::atoi(raw.c_str() + 9);
}

}  // namespace populi::http::testing
