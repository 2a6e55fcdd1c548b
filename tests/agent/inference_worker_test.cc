// agent/inference_worker.h against stand-in control planes (plain HTTP on 127.0.0.1): given
// several URLs the worker polls each for jobs on its own (a dead one does not hold the others
// back), and posts every job's chunks to the control plane that handed the job out, never to
// another. The jobs name an engine the node does not have, so each ends at once with one error
// chunk: no engine process is needed.
#include "agent/inference_worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
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

#include "agent/stub_server.h"
#include "mesh/inference_json.h"
#include "mesh/json.h"

namespace populi::agent {
namespace {

// Hands out `total` jobs named "<name>.<n>", one per poll; a poll with no job left is held
// 50 ms, then answered 204. Records the job ids of the chunks posted to it.
class StubRelay : public testing::StubServer {
 public:
  StubRelay(std::string name, int total) : name_(std::move(name)), total_(total) { Start(); }
  ~StubRelay() override { Stop(); }
  std::vector<std::string> chunk_jobs() const {
    std::lock_guard lock(mu_);
    return chunk_jobs_;
  }

 private:
  std::optional<testing::StubReply> Handle(const testing::StubRequest& request,
                                           int64_t held_since_ms) override {
    testing::StubReply reply;
    if (request.method == "get") {  // the job poll
      if (handed_ < total_) {
        mesh::InferenceJob job;
        job.id = name_ + "." + std::to_string(++handed_);
        job.request_id = name_;
        job.node_id = "node-1";
        job.endpoint = "http://127.0.0.1:1";  // not one of the node's engines
        job.model = "m";
        job.body = "{}";
        job.deadline_ms = 1;
        reply.body = mesh::Serialize(mesh::ToJson(job));
      } else {
        if (NowMs() < held_since_ms + 50) return std::nullopt;  // held
        reply.status = "204 No Content";
        reply.body.clear();
      }
    } else {  // a chunk
      boost::system::error_code ec;
      boost::json::value v = boost::json::parse(request.body, ec);
      std::lock_guard lock(mu_);
      chunk_jobs_.push_back(!ec && v.is_object() && v.as_object().contains("job_id")
                                ? std::string(v.at("job_id").as_string())
                                : "?");
      reply.body = R"({"cancel":false})";
    }
    return reply;
  }

  const std::string name_;
  const int total_;
  int handed_ = 0;  // the server thread's only
  mutable std::mutex mu_;
  std::vector<std::string> chunk_jobs_;
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
