// The control plane's own footprint stays flat under sustained work: its thread count and memory
// mappings do not grow over 5,500 A2A cycles and 1,100 tasks, and its resident memory levels
// off instead of growing with the work. The test speaks the worker protocol itself over HTTP
// (docs/tasks.md: claim the assignment, report start, report a signed result, acknowledge), so the
// one process measured is a real `vox populi serve`.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include "cli/serve_process.h"
#include "client/http_client.h"
#include "crypto/ed25519.h"
#include "mesh/json.h"
#include "mesh/task.h"
#include "mesh/task_json.h"

namespace populi::testing {
namespace {

namespace json = boost::json;

struct Footprint {
  int64_t threads = 0;
  int64_t mappings = 0;
  int64_t rss_kib = 0;
};

Footprint Measure(pid_t pid) {
  Footprint f;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    std::istringstream in(line);
    std::string key;
    in >> key;
    if (key == "Threads:") in >> f.threads;
    if (key == "VmRSS:") in >> f.rss_kib;
  }
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  for (std::string line; std::getline(maps, line);) ++f.mappings;
  return f;
}

class ServeResources : public ::testing::Test {
 protected:
  static constexpr const char* kToken = "resources-admin-token-0123456789";
  static constexpr const char* kNode = "w1";

  void SetUp() override {
    ServeOptions options;
    // A small ASan quarantine: freed memory is then reused, so resident memory measures what the
    // control plane keeps rather than what the sanitizer holds back.
    options.env["ASAN_OPTIONS"] = "detect_leaks=0:quarantine_size_mb=4:handle_sigill=1";
    // One client drives the whole load: no per-caller rate limit.
    // Spans are kept in memory up to span_retention by design: a small bound, reached during the
    // warm-up, so what is measured is memory kept beyond it.
    options.extra_config =
        "[mesh.control.http]\nrate_per_sec = 0\n[mesh.observability]\nspan_retention = 1000\n";
    serve_ = std::make_unique<ServeProcess>(dir_.path(), kToken, options);
    ASSERT_TRUE(serve_->Start());
    http_ = std::make_unique<client::HttpClient>(serve_->url(), kToken);
    auto keys = crypto::GenerateEd25519();
    ASSERT_TRUE(keys.ok());
    keys_ = *keys;
    mesh::NodeRecord node;
    node.id = kNode;
    node.ed25519_pub_key_b64 = crypto::Base64(keys_.public_key.data(), keys_.public_key.size());
    node.cpu.cores = node.cpu.threads = 8;
    node.cpu.memory_total_bytes = node.cpu.memory_available_bytes = uint64_t{16} << 30;
    ASSERT_TRUE(Post("/v1/populi/join", mesh::ToJson(node)).ok());
  }

  // The "worker" stays alive as an agent would: a heartbeat at least every second.
  void HeartbeatWhenDue() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_heartbeat_ < std::chrono::seconds(1)) return;
    last_heartbeat_ = now;
    mesh::HeartbeatRequest beat;
    beat.node_id = kNode;
    auto r = Post("/v1/populi/heartbeat", mesh::ToJson(beat));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  Result<json::value> Post(const std::string& path, const json::object& body) {
    POPULI_ASSIGN_OR_RETURN(auto response, http_->Send("POST", path, json::serialize(body)));
    if (response.body.empty()) return json::value();
    return mesh::ParseJson(response.body);
  }

  // `count` A2A cycles in batches of 50: deliver-batch, claim, ack with the claim's token.
  void A2ACycles(int count) {
    for (int done = 0; done < count; done += 50) {
      ASSERT_NO_FATAL_FAILURE(HeartbeatWhenDue());
      json::array batch;
      for (int i = 0; i < 50; ++i) {
        batch.push_back(json::object{{"sender", "load"},
                                     {"receiver", "load-inbox"},
                                     {"message_type", "task_progress"},
                                     {"payload", "{\"i\":" + std::to_string(done + i) + "}"}});
      }
      ASSERT_TRUE(Post("/v1/populi/a2a/deliver-batch", json::object{{"messages", batch}}).ok());
      mesh::InboxRequest claim;
      claim.receiver = "load-inbox";
      claim.claimer_node_id = kNode;
      claim.max_messages = 50;
      auto reply = Post("/v1/populi/a2a/inbox", mesh::ToJson(claim));
      ASSERT_TRUE(reply.ok()) << reply.status().ToString();
      auto page = mesh::InboxPageFromJson(*reply);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      ASSERT_EQ(page->messages.size(), 50u);
      mesh::AckRequest ack;
      ack.receiver = "load-inbox";
      ack.claim_token = page->messages.front().claim_token;
      for (const auto& m : page->messages) ack.message_ids.push_back(m.id);
      auto acked = Post("/v1/populi/a2a/ack", mesh::ToJson(ack));
      ASSERT_TRUE(acked.ok()) << acked.status().ToString();
      ASSERT_EQ(acked->at("acked").as_array().size(), 50u);
    }
  }

  // `count` tasks, each submitted, claimed by this "worker", started and ended with exit 0.
  void Tasks(int count) {
    for (int i = 0; i < count; ++i) {
      ASSERT_NO_FATAL_FAILURE(HeartbeatWhenDue());
      mesh::TaskSpec spec;
      spec.command = "true";
      spec.resources.cpus = 1;
      auto submitted = Post("/v1/populi/tasks", mesh::ToJson(spec));
      ASSERT_TRUE(submitted.ok()) << submitted.status().ToString();
      const std::string id(submitted->at("id").as_string());
      mesh::InboxRequest claim;
      claim.receiver = mesh::TaskInboxFor(kNode);
      claim.claimer_node_id = kNode;
      claim.wait_ms = 5'000;
      auto reply = Post("/v1/populi/a2a/inbox", mesh::ToJson(claim));
      ASSERT_TRUE(reply.ok()) << reply.status().ToString();
      auto page = mesh::InboxPageFromJson(*reply);
      ASSERT_TRUE(page.ok() && page->messages.size() == 1u) << json::serialize(*reply);
      const mesh::A2AMessage& message = page->messages.front();
      auto payload = mesh::ParseJson(message.payload);
      ASSERT_TRUE(payload.ok());
      auto assignment = mesh::TaskAssignmentFromJson(*payload);
      ASSERT_TRUE(assignment.ok()) << assignment.status().ToString();
      ASSERT_EQ(assignment->task_id, id);
      mesh::ResultReport result;
      result.attempt = assignment->attempt;
      result.node_id = kNode;
      result.lease_id = assignment->lease_id;
      result.fencing_token = assignment->fencing_token;
      result.exit_code = 0;
      const std::string base = "/v1/populi/tasks/" + id;
      auto started =
          Post(base + "/start", mesh::ToJson(static_cast<const mesh::AttemptReport&>(result)));
      ASSERT_TRUE(started.ok()) << started.status().ToString();
      result.signature_b64 = crypto::SignBase64(
          keys_, mesh::ResultSigningText(id, result.attempt, result.lease_id, result.fencing_token,
                                         0, "", crypto::Sha256Hex("\n")));
      auto ended = Post(base + "/result", mesh::ToJson(result));
      ASSERT_TRUE(ended.ok()) << ended.status().ToString();
      ASSERT_EQ(ended->at("state").as_string(), "succeeded");
      mesh::AckRequest ack;
      ack.receiver = claim.receiver;
      ack.message_id = message.id;
      ack.claim_token = message.claim_token;
      auto acked = Post("/v1/populi/a2a/ack", mesh::ToJson(ack));
      ASSERT_TRUE(acked.ok()) << acked.status().ToString();
    }
  }

  TempDir dir_;
  std::unique_ptr<ServeProcess> serve_;
  std::unique_ptr<client::HttpClient> http_;
  crypto::Ed25519KeyPair keys_;
  std::chrono::steady_clock::time_point last_heartbeat_ = std::chrono::steady_clock::now();
};

TEST_F(ServeResources, StayFlatOverThousandsOfA2ACyclesAndTasks) {
  // Warm-up: the handler pool and the allocator reach their working size.
  ASSERT_NO_FATAL_FAILURE(A2ACycles(500));
  ASSERT_NO_FATAL_FAILURE(Tasks(100));
  const Footprint start = Measure(serve_->pid());
  ASSERT_NO_FATAL_FAILURE(A2ACycles(2'500));
  ASSERT_NO_FATAL_FAILURE(Tasks(500));
  const Footprint middle = Measure(serve_->pid());
  ASSERT_NO_FATAL_FAILURE(A2ACycles(2'500));
  ASSERT_NO_FATAL_FAILURE(Tasks(500));
  const Footprint end = Measure(serve_->pid());
  const std::string figures =
      "threads " + std::to_string(start.threads) + " → " + std::to_string(middle.threads) + " → " +
      std::to_string(end.threads) + ", mappings " + std::to_string(start.mappings) + " → " +
      std::to_string(middle.mappings) + " → " + std::to_string(end.mappings) + ", resident KiB " +
      std::to_string(start.rss_kib) + " → " + std::to_string(middle.rss_kib) + " → " +
      std::to_string(end.rss_kib);
  RecordProperty("footprint", figures);
  // Nothing is kept per request or per task: no thread, no mapping...
  EXPECT_LE(end.threads, start.threads + 2) << figures;
  EXPECT_LE(end.mappings, start.mappings + 32) << figures;
  // ...and resident memory levels off: the store's page caches fill as its file grows, so the
  // first half may grow; memory kept per task or per cycle would grow the second half as much
  // (the 4 MiB is measurement noise: page faults, allocator slack).
  const int64_t first_half = middle.rss_kib - start.rss_kib;
  const int64_t second_half = end.rss_kib - middle.rss_kib;
  EXPECT_LE(second_half, first_half / 2 + 4 * 1024) << figures;
}

}  // namespace
}  // namespace populi::testing
