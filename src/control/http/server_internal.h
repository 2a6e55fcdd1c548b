// Internals shared by the server TUs (server.cc, session_*.cc). Includes Asio;
// never include this outside those files.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "control/http/rate_limit.h"
#include "control/http/server.h"
#include "control/http/server_pch.h"

namespace populi::http {

namespace asio = boost::asio;

// Notifier over Asio timers. A waiter first Subscribes to a topic (taking the current
// generation), polls, and only then waits: a Notify between the poll and the wait bumps the
// generation, so the wait returns at once and nothing is missed. Topics nobody is subscribed to
// are not kept, so per-task topics do not accumulate.
class TopicNotifier final : public Notifier {
 public:
  class Subscription {
   public:
    Subscription(TopicNotifier& notifier, std::string topic);
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

    // Records the topic's current generation; call right before polling.
    void Refresh();
    // Suspends until the topic is notified after the last Refresh(), `deadline` passes, or the
    // notifier stops. True when notified (or stopped), false on deadline. Run on a strand.
    asio::awaitable<bool> Wait(std::chrono::steady_clock::time_point deadline);

   private:
    TopicNotifier& notifier_;
    std::string topic_;
    uint64_t seen_ = 0;
  };

  void Notify(std::string_view topic) override;
  void NotifyAll() override;
  // Wakes every waiter and makes later waits return at once.
  void StopAll();
  bool stopped() const { return stopped_.load(); }

 private:
  struct Topic {
    uint64_t generation = 0;
    int subscribers = 0;
    std::vector<std::shared_ptr<asio::steady_timer>> waiters;
  };
  static void Wake(std::vector<std::shared_ptr<asio::steady_timer>>& waiters);

  std::mutex mu_;
  std::unordered_map<std::string, Topic> topics_;
  std::atomic<bool> stopped_{false};
};

class Server::Impl {
 public:
  Impl(ServerOptions options, const Router& router, const Authenticator& auth,
       std::shared_ptr<spdlog::logger> logger);
  ~Impl();

  Status Listen();
  void Run();
  void Stop();
  void Wait();

  // Accepted connection → its session (session_plain.cc, then session.h).
  asio::awaitable<void> RunSession(asio::ip::tcp::socket socket);
  std::string NextRequestId();

  // Destroyed last (declared first): coroutine frames destroyed with the io_context touch these.
  const ServerOptions options_;
  const Router router_;
  const Authenticator& auth_;
  std::shared_ptr<spdlog::logger> logger_;
  TopicNotifier notifier_;
  RateLimiter limiter_;
  RateLimiter auth_failures_;  // keyed by source address
  std::string request_id_prefix_;
  std::atomic<uint64_t> request_counter_{0};
  std::atomic<int> connections_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<bool> stopping_{false};
  // Deferred responses (Response::completion) are handed to an I/O thread only while this is
  // open; Stop closes it before the io_contexts stop, so a late completion posts nothing.
  struct CompletionGate {
    std::mutex mu;
    bool open = true;
  };
  std::shared_ptr<CompletionGate> completion_gate_ = std::make_shared<CompletionGate>();
  int port_ = 0;

  std::optional<asio::ssl::context> tls_;
  // One io_context per I/O thread, each run by that thread alone: a connection lives on one of
  // them (chosen round-robin at accept), so its completions never wake another thread. Empty
  // until Listen and after Stop.
  std::vector<std::unique_ptr<asio::io_context>> iocs_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> io_work_;
  size_t next_ioc_ = 0;  // accept loop only
  std::optional<asio::thread_pool> handler_pool_;
  std::optional<asio::ip::tcp::acceptor> acceptor_;
  std::vector<std::thread> io_threads_;

  std::mutex stop_mu_;
  std::condition_variable stopped_cv_;
  bool stop_started_ = false;
  bool stopped_ = false;

 private:
  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> RejectBusy(asio::ip::tcp::socket socket);
};

// Serves one connection's requests until it closes (session.h): over plain TCP
// (session_plain.cc) or TLS after the handshake (session_tls.cc).
asio::awaitable<void> ServeConnection(Server::Impl& server, boost::beast::tcp_stream& stream,
                                      std::string remote);
asio::awaitable<void> ServeConnection(Server::Impl& server,
                                      boost::beast::ssl_stream<boost::beast::tcp_stream>& stream,
                                      std::string remote);

// RAII count of requests being served, for graceful Stop().
class InFlightGuard {
 public:
  explicit InFlightGuard(std::atomic<int>& counter) : counter_(counter) { ++counter_; }
  ~InFlightGuard() { --counter_; }
  InFlightGuard(const InFlightGuard&) = delete;
  InFlightGuard& operator=(const InFlightGuard&) = delete;

 private:
  std::atomic<int>& counter_;
};

}  // namespace populi::http
