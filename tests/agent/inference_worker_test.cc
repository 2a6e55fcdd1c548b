// agent/inference_worker.h against stand-in control planes (plain HTTP on 127.0.0.1): given
// several URLs the worker polls each for jobs on its own (a dead one does not hold the others
// back), and posts every job's chunks to the control plane that handed the job out, never to
// another. The jobs name an engine the node does not have, so each ends at once with one error
// chunk: no engine process is needed.
#include "agent/inference_worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mesh/inference_json.h"
#include "mesh/json.h"

namespace populi::agent {
namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Hands out `total` jobs named "<name>.<n>", one per poll; a poll with no job left is held
// 50 ms, then answered 204. Records the job ids of the chunks posted to it.
class StubRelay {
 public:
  StubRelay(std::string name, int total) : name_(std::move(name)), total_(total) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~StubRelay() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (auto& [fd, conn] : conns_) ::close(fd);
    ::close(listen_fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> chunk_jobs() const {
    std::lock_guard lock(mu_);
    return chunk_jobs_;
  }

 private:
  struct Conn {
    std::string in;
    int64_t hold_until = -1;
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

  void Serve(int fd, Conn& conn) {
    for (;;) {
      const size_t head_end = conn.in.find("\r\n\r\n");
      if (head_end == std::string::npos) return;
      std::string head = conn.in.substr(0, head_end);
      size_t body_len = 0;
      for (auto& c : head) c = static_cast<char>(::tolower(c));
      if (size_t at = head.find("content-length:"); at != std::string::npos)
        body_len = std::stoul(head.substr(at + 15));
      if (conn.in.size() < head_end + 4 + body_len) return;
      const std::string body = conn.in.substr(head_end + 4, body_len);
      std::string status = "200 OK", reply;
      if (head.rfind("get ", 0) == 0) {  // the job poll
        if (handed_ < total_) {
          mesh::InferenceJob job;
          job.id = name_ + "." + std::to_string(++handed_);
          job.request_id = name_;
          job.node_id = "node-1";
          job.endpoint = "http://127.0.0.1:1";  // not one of the node's engines
          job.model = "m";
          job.body = "{}";
          job.deadline_ms = 1;
          reply = mesh::Serialize(mesh::ToJson(job));
        } else {
          if (conn.hold_until < 0) conn.hold_until = SteadyMs() + 50;
          if (SteadyMs() < conn.hold_until) return;  // held
          status = "204 No Content";
        }
      } else {  // a chunk
        boost::system::error_code ec;
        boost::json::value v = boost::json::parse(body, ec);
        std::lock_guard lock(mu_);
        chunk_jobs_.push_back(!ec && v.is_object() && v.as_object().contains("job_id")
                                  ? std::string(v.at("job_id").as_string())
                                  : "?");
        reply = R"({"cancel":false})";
      }
      conn.hold_until = -1;
      conn.in.erase(0, head_end + 4 + body_len);
      const std::string response =
          "HTTP/1.1 " + status +
          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(reply.size()) +
          "\r\n\r\n" + reply;
      for (size_t sent = 0; sent < response.size();) {
        const ssize_t n = ::send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return;
        sent += static_cast<size_t>(n);
      }
    }
  }

  const std::string name_;
  const int total_;
  int handed_ = 0;  // the server thread's only
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::map<int, Conn> conns_;
  mutable std::mutex mu_;
  std::vector<std::string> chunk_jobs_;
  std::thread thread_;
};

TEST(InferenceWorkerTest, PollsEveryControlPlaneAndAnswersEachJobWhereItCameFrom) {
  StubRelay a("a", 2), b("b", 2);
  // A port nothing listens on: a replica that is down.
  const int dead_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(dead_fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::getsockname(dead_fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string dead = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

  InferenceWorkerOptions o;
  o.control_url = dead + ", " + a.url() + "," + b.url() + "/";
  o.node_id = "node-1";
  o.engines = {{"http://127.0.0.1:2", "http://127.0.0.1:2", ""}};
  o.poll_wait_ms = 200;
  o.backoff_base_ms = 20;
  o.backoff_cap_ms = 100;
  o.max_jobs = 4;
  InferenceWorker worker(o, nullptr);
  worker.Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((a.chunk_jobs().size() < 2 || b.chunk_jobs().size() < 2) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  worker.Stop();
  ::close(dead_fd);
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  // Each job's one chunk (its error: no such engine here) went to the stub that handed it out.
  EXPECT_EQ(sorted(a.chunk_jobs()), (std::vector<std::string>{"a.1", "a.2"}));
  EXPECT_EQ(sorted(b.chunk_jobs()), (std::vector<std::string>{"b.1", "b.2"}));
  const InferenceWorkerStats stats = worker.stats();
  EXPECT_EQ(stats.jobs, 4);
  EXPECT_EQ(stats.failed, 4);
}

}  // namespace
}  // namespace populi::agent
