// A stand-in control plane for TaskWorker tests (agent/testing StubServer). It hands out `total`
// task assignments to one node, never more than `slots` unreported at a time (as placement would),
// and accepts every start, log, lease renew, ack and result.
#pragma once

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

namespace populi::agent::testing {

class StubControlPlane : public StubServer {
 public:
  StubControlPlane(int total, int slots, boost::json::object spec)
      : total_(total), slots_(slots), spec_(std::move(spec)) {
    Start();
  }
  ~StubControlPlane() override { Stop(); }

  int results() const { return results_; }
  // The bodies of the result reports received so far, in arrival order.
  std::vector<boost::json::object> result_bodies() const {
    std::lock_guard lock(mu_);
    return result_bodies_;
  }

 private:
  std::optional<StubReply> Handle(const StubRequest& request, int64_t held_since_ms) override {
    const std::string& path = request.path;
    StubReply reply;
    if (path == "/v1/populi/a2a/inbox") {
      const int free_slots = std::min(slots_ - (handed_ - results_), total_ - handed_);
      if (free_slots <= 0 && NowMs() < held_since_ms + 50) return std::nullopt;  // long-poll
      reply.body = Assignments(std::clamp(free_slots, 0, 8));
    } else if (path.size() > 7 && path.compare(path.size() - 7, 7, "/result") == 0) {
      boost::system::error_code ec;
      boost::json::value v = boost::json::parse(request.body, ec);
      {
        std::lock_guard lock(mu_);
        result_bodies_.push_back(!ec && v.is_object() ? v.as_object() : boost::json::object{});
      }
      ++results_;
    }
    return reply;
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
  std::atomic<int> results_{0};
  int handed_ = 0;  // the server thread's only
  mutable std::mutex mu_;
  std::vector<boost::json::object> result_bodies_;  // guarded by mu_
};

}  // namespace populi::agent::testing
