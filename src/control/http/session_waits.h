// The waits of a Session (session.h): a held long-poll with its dropped-connection watch, a
// deferred completion, and a server-sent event stream. None holds a thread while it waits.
// Internal to src/control/http/; included by session_plain.cc and session_tls.cc after session.h.
#pragma once

#include "control/http/session.h"

namespace populi::http::session_detail {

template <typename Stream>
// Watches a waiting long-poll's connection for the client closing it: when the socket turns
// readable with nothing to read (EOF, reset), sets gone() and wakes the poll's topic. Bytes
// waiting (a pipelined request, a TLS alert) end the watch without a verdict. The destructor
// cancels the wait; the handler touches only what it owns.
class Session<Stream>::DropWatch {
 public:
  DropWatch(Session& session, const std::string& topic)
      : socket_(session.Lowest().socket()), gone_(std::make_shared<std::atomic<bool>>(false)) {
    if (session.buffer_.size() != 0) return;  // a pipelined request is already here
    watching_ = true;
    socket_.async_wait(
        asio::ip::tcp::socket::wait_read,
        [gone = gone_, fd = socket_.native_handle(), &notifier = session.server_.notifier_,
         topic](const boost::system::error_code& ec) {
          if (ec) return;  // cancelled: the poll ended first
          char byte;
          const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            gone->store(true);
            notifier.Notify(topic);
          }
        });
  }
  ~DropWatch() {
    if (!watching_) return;
    boost::system::error_code ignored;
    socket_.cancel(ignored);
  }
  DropWatch(const DropWatch&) = delete;
  DropWatch& operator=(const DropWatch&) = delete;
  bool gone() const { return gone_->load(); }

 private:
  asio::ip::tcp::socket& socket_;
  std::shared_ptr<std::atomic<bool>> gone_;
  bool watching_ = false;
};

template <typename Stream>
asio::awaitable<bool> Session<Stream>::FinishLongPoll(Exchange& ex) {
  std::shared_ptr<LongPoll> poll = std::move(ex.response.long_poll);
  ex.response.long_poll.reset();
  const auto deadline = SteadyClock::time_point(std::chrono::milliseconds(poll->deadline_ms));
  TopicNotifier::Subscription sub(server_.notifier_, poll->topic);
  std::optional<DropWatch> watch;
  const bool reports_holder = !poll->holder.empty() && opts_.on_long_poll_dropped;
  if (reports_holder || poll->end_when_dropped) watch.emplace(*this, poll->topic);
  for (;;) {
    sub.Refresh();
    auto ready = co_await OnPool<std::optional<Response>>(*server_.handler_pool_,
                                                          [&poll]() -> std::optional<Response> {
                                                            try {
                                                              return poll->poll();
                                                            } catch (const std::exception& e) {
                                                              return HandlerFailed("", e.what());
                                                            }
                                                          });
    if (ready) {
      ex.response = std::move(*ready);
      co_return true;
    }
    if (SteadyClock::now() >= deadline || server_.notifier_.stopped()) break;
    co_await sub.Wait(deadline);
    if (watch && watch->gone()) {
      if (reports_holder && SteadyClock::now() < deadline) opts_.on_long_poll_dropped(poll->holder);
      co_return false;
    }
  }
  ex.response = co_await OnPool<Response>(*server_.handler_pool_, [&poll] {
    try {
      return poll->on_timeout();
    } catch (const std::exception& e) {
      return HandlerFailed("", e.what());
    }
  });
  co_return true;
}

template <typename Stream>
// Waits, holding no thread, for the response a handler deferred (Response::completion). The
// completing thread posts the response to this connection's strand, which cancels `wake`.
// The completion may outlive this frame and the io_context (a store write finishing after
// Stop), so it holds only `Waiter`: the executor in it is dropped by this frame's guard, and
// nothing is posted once the server's completion gate has closed.
struct Session<Stream>::Waiter {
  std::mutex mu;
  std::optional<asio::any_io_executor> executor;  // empty once the waiting frame is gone
  asio::steady_timer* wake = nullptr;
  std::optional<Response> response;
};

template <typename Stream>
asio::awaitable<void> Session<Stream>::AwaitCompletion(Exchange& ex) {
  std::shared_ptr<Completion> completion = std::move(ex.response.completion);
  ex.response.completion.reset();
  asio::steady_timer wake(co_await asio::this_coro::executor,
                          asio::steady_timer::time_point::max());
  auto waiter = std::make_shared<Waiter>();
  waiter->executor = wake.get_executor();
  waiter->wake = &wake;
  struct Detach {
    Waiter& waiter;
    ~Detach() {
      std::lock_guard lock(waiter.mu);
      waiter.executor.reset();
      waiter.wake = nullptr;
    }
  } detach{*waiter};
  completion->OnComplete([waiter, gate = server_.completion_gate_](Response response) {
    std::lock_guard gate_lock(gate->mu);
    std::lock_guard lock(waiter->mu);
    if (!gate->open || !waiter->executor) return;  // nobody waits any more
    waiter->response = std::move(response);
    // Runs on the connection's strand, so only after the frame below has suspended.
    asio::post(*waiter->executor, [waiter] {
      std::lock_guard lock(waiter->mu);
      if (waiter->wake != nullptr) waiter->wake->cancel();
    });
  });
  boost::system::error_code ec;
  for (;;) {
    {
      std::lock_guard lock(waiter->mu);
      if (waiter->response) {
        ex.response = std::move(*waiter->response);
        break;
      }
    }
    co_await wake.async_wait(Redirect(ec));
  }
}

template <typename Stream>
asio::awaitable<void> Session<Stream>::StreamEvents(Exchange& ex) {
  std::shared_ptr<EventStream> events = ex.response.stream;
  Response& head = ex.response;
  head.status = 200;
  head.content_type = "text/event-stream";
  const bool has_cache_control =
      std::any_of(head.headers.begin(), head.headers.end(),
                  [](const auto& h) { return beast::iequals(h.first, "cache-control"); });
  if (!has_cache_control) head.headers.emplace_back("cache-control", "no-cache");
  // No length and no keep-alive: the stream ends with the connection.
  FormatResponseHead(head, ex.request.request_id, /*keep_alive=*/false, std::nullopt, &head_);
  boost::system::error_code ec;
  Lowest().expires_after(std::chrono::milliseconds(opts_.write_timeout_ms));
  co_await asio::async_write(stream_, asio::buffer(head_), Redirect(ec));
  Log(ex, 200);
  TopicNotifier::Subscription sub(server_.notifier_, events->topic);
  while (!ec) {
    sub.Refresh();
    auto text = co_await OnPool<std::optional<std::string>>(
        *server_.handler_pool_, [&events]() -> std::optional<std::string> {
          try {
            return events->next(events->cursor);
          } catch (const std::exception&) {
            return std::nullopt;
          }
        });
    if (!text) break;
    if (text->empty()) {
      if (server_.notifier_.stopped()) break;
      Lowest().expires_never();
      const bool notified =
          co_await sub.Wait(SteadyClock::now() + std::chrono::milliseconds(opts_.sse_keepalive_ms));
      if (notified) continue;
      *text = ": keepalive\n\n";  // finds out whether the client is still there
    }
    Lowest().expires_after(std::chrono::milliseconds(opts_.write_timeout_ms));
    co_await asio::async_write(stream_, asio::buffer(*text), Redirect(ec));
  }
  co_await Close();
}

}  // namespace populi::http::session_detail
