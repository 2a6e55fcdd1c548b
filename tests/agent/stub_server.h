// A stand-in HTTP/1.1 server for the agent's tests: plain HTTP on 127.0.0.1, one thread,
// poll(). A subclass answers each complete request in Handle(), or holds it (a long-poll) by
// answering nullopt: it is asked again every few ms until it answers.
//
// Contract: a subclass calls Start() at the end of its constructor and Stop() first in its
// destructor, so Handle() never runs on a half-built or half-destroyed object.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace populi::agent::testing {

struct StubRequest {
  std::string method;  // lower case: "get", "post"
  std::string path;    // with the query
  std::string body;
};

struct StubReply {
  std::string status = "200 OK";
  std::string body = "{}";
};

class StubServer {
 public:
  virtual ~StubServer() { Stop(); }
  StubServer(const StubServer&) = delete;
  StubServer& operator=(const StubServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

 protected:
  StubServer() = default;

  // The reply to `request`, or nullopt to hold it; `held_since_ms` is when it was first asked.
  virtual std::optional<StubReply> Handle(const StubRequest& request, int64_t held_since_ms) = 0;

  void Start() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listen_fd_, 64) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (auto& [fd, conn] : conns_) ::close(fd);
    conns_.clear();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
  }

 private:
  struct Conn {
    std::string in;
    int64_t held_since = -1;  // the request at the front is held since then
  };

  void Loop() {
    while (!stop_) {
      std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}};
      for (auto& [fd, conn] : conns_) fds.push_back({fd, POLLIN, 0});
      ::poll(fds.data(), fds.size(), 5);
      if ((fds[0].revents & POLLIN) != 0) {
        int fd;
        while ((fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC)) >= 0) conns_[fd];
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        char buf[16384];
        const ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
        if (n <= 0) {
          ::close(fds[i].fd);
          conns_.erase(fds[i].fd);
          continue;
        }
        conns_[fds[i].fd].in.append(buf, static_cast<size_t>(n));
      }
      for (auto& [fd, conn] : conns_) Serve(fd, conn);
    }
  }

  // Answers the complete requests buffered on `conn`, in order.
  void Serve(int fd, Conn& conn) {
    for (;;) {
      const size_t head_end = conn.in.find("\r\n\r\n");
      if (head_end == std::string::npos) return;
      std::string head = conn.in.substr(0, head_end);
      std::transform(head.begin(), head.end(), head.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      size_t body_len = 0;
      if (size_t at = head.find("content-length:"); at != std::string::npos) {
        body_len = std::stoul(head.substr(at + 15));
      }
      if (conn.in.size() < head_end + 4 + body_len) return;
      StubRequest request;
      const size_t sp = head.find(' ');
      request.method = head.substr(0, sp);
      request.path = conn.in.substr(sp + 1, head.find(' ', sp + 1) - sp - 1);  // as sent
      request.body = conn.in.substr(head_end + 4, body_len);
      if (conn.held_since < 0) conn.held_since = NowMs();
      std::optional<StubReply> reply = Handle(request, conn.held_since);
      if (!reply) return;  // held
      conn.held_since = -1;
      conn.in.erase(0, head_end + 4 + body_len);
      const std::string response = "HTTP/1.1 " + reply->status +
                                   "\r\nContent-Type: application/json\r\nContent-Length: " +
                                   std::to_string(reply->body.size()) + "\r\n\r\n" + reply->body;
      for (size_t sent = 0; sent < response.size();) {
        const ssize_t n = ::send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return;
        sent += static_cast<size_t>(n);
      }
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::map<int, Conn> conns_;  // the server thread's only
  std::thread thread_;
};

}  // namespace populi::agent::testing
