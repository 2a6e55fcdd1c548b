// A stand-in control plane for TaskWorker tests: plain HTTP/1.1 on 127.0.0.1, one thread, poll().
// It hands out `total` task assignments to one node, never more than `slots` unreported at a
// time (as placement would), and accepts every start, log, lease renew, ack and result.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace populi::agent::testing {

class StubControlPlane {
 public:
  StubControlPlane(int total, int slots, boost::json::object spec)
      : total_(total), slots_(slots), spec_(std::move(spec)) {
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
  ~StubControlPlane() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (auto& [fd, conn] : conns_) ::close(fd);
    ::close(listen_fd_);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int results() const { return results_; }
  // The bodies of the result reports received so far, in arrival order.
  std::vector<boost::json::object> result_bodies() const {
    std::lock_guard lock(mu_);
    return result_bodies_;
  }

 private:
  struct Conn {
    std::string in;
    int64_t hold_until = -1;  // an inbox poll waiting for a free slot
  };

  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

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
      std::transform(head.begin(), head.end(), head.begin(), ::tolower);
      size_t body_len = 0;
      if (size_t at = head.find("content-length:"); at != std::string::npos) {
        body_len = std::stoul(head.substr(at + 15));
      }
      if (conn.in.size() < head_end + 4 + body_len) return;
      const size_t sp = head.find(' ');
      const std::string path = head.substr(sp + 1, head.find(' ', sp + 1) - sp - 1);
      std::string body = "{}";
      if (path == "/v1/populi/a2a/inbox") {
        if (conn.hold_until < 0) conn.hold_until = NowMs() + 50;
        const int free_slots = std::min(slots_ - (handed_ - results_), total_ - handed_);
        if (free_slots <= 0 && NowMs() < conn.hold_until) return;  // long-poll
        body = Assignments(std::clamp(free_slots, 0, 8));
      } else if (path.size() > 7 && path.compare(path.size() - 7, 7, "/result") == 0) {
        boost::system::error_code ec;
        boost::json::value v = boost::json::parse(conn.in.substr(head_end + 4, body_len), ec);
        {
          std::lock_guard lock(mu_);
          result_bodies_.push_back(!ec && v.is_object() ? v.as_object() : boost::json::object{});
        }
        ++results_;
      }
      conn.hold_until = -1;
      conn.in.erase(0, head_end + 4 + body_len);
      const std::string response =
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
          "Content-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body;
      for (size_t sent = 0; sent < response.size();) {
        const ssize_t n = ::send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return;
        sent += static_cast<size_t>(n);
      }
    }
  }

  std::string Assignments(int count) {
    boost::json::array messages;
    for (int i = 0; i < count; ++i) {
      const int n = ++handed_;
      boost::json::object payload{{"task_id", "t-" + std::to_string(n)},
                                  {"attempt", 1},
                                  {"lease_id", "lease-" + std::to_string(n)},
                                  {"fencing_token", n},
                                  {"spec", spec_}};
      messages.push_back(boost::json::object{{"id", n},
                                             {"sender", "control"},
                                             {"receiver", "tasks:node-1"},
                                             {"message_type", "task_submit"},
                                             {"payload", boost::json::serialize(payload)}});
    }
    return boost::json::serialize(boost::json::object{{"messages", std::move(messages)}});
  }

  const int total_;
  const int slots_;
  const boost::json::object spec_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> results_{0};
  int handed_ = 0;
  std::map<int, Conn> conns_;  // the server thread's only
  mutable std::mutex mu_;
  std::vector<boost::json::object> result_bodies_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace populi::agent::testing
