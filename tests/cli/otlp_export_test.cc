// Spans leave a real `vox populi serve` as OTLP/HTTP JSON for a collector listening on
// 127.0.0.1: batches with the ExportTraceServiceRequest shape, no token or secret in any span or
// log line, and a collector that accepts connections but never answers does not slow the API.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "cli/serve_process.h"
#include "client/control_plane_api.h"
#include "config/test_files.h"

namespace populi::testing {
namespace {

namespace json = boost::json;

constexpr char kOtlpToken[] = "otlp-test-admin-token-0123456789abcdefgh";
constexpr char kOtlpSecret[] = "otlp-test-secret-value-9f8e7d6c5b4a";

// An HTTP listener on 127.0.0.1 that keeps the body of every POST /v1/traces and answers 200,
// or, when `answer` is false, reads requests and never answers (a stalled collector).
class CollectorListener {
 public:
  explicit CollectorListener(bool answer) : answer_(answer) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    listen(fd_, 16);
    thread_ = std::thread([this] { Accept(); });
  }
  ~CollectorListener() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
    for (int c : held_) close(c);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> bodies() const {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  std::vector<std::string> request_lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  void Accept() {
    while (!stop_) {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      if (!answer_) {
        held_.push_back(c);  // read nothing, answer nothing: the exporter waits
        continue;
      }
      Serve(c);
      close(c);
    }
  }
  // One request per connection (the answer closes it).
  void Serve(int c) {
    std::string data;
    char buf[65536];
    size_t header_end = std::string::npos;
    size_t length = 0;
    for (;;) {
      const ssize_t n = read(c, buf, sizeof(buf));
      if (n <= 0) return;
      data.append(buf, static_cast<size_t>(n));
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end == std::string::npos) continue;
        std::string head = data.substr(0, header_end);
        for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        const size_t at = head.find("content-length:");
        if (at != std::string::npos) length = std::stoul(head.substr(at + 15));
      }
      if (data.size() >= header_end + 4 + length) break;
    }
    {
      std::lock_guard lock(mu_);
      lines_.push_back(data.substr(0, data.find("\r\n")));
      bodies_.push_back(data.substr(header_end + 4, length));
    }
    const std::string reply =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
        "Connection: close\r\n\r\n{}";
    (void)!write(c, reply.data(), reply.size());
  }

  const bool answer_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<int> held_;
  mutable std::mutex mu_;
  std::vector<std::string> bodies_, lines_;
};

bool OtlpWaitUntil(const std::function<bool()>& done, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 50) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

ServeOptions OtlpServe(const std::string& root, const std::string& endpoint, int timeout_ms) {
  WriteFile(root + "/cpu.json", R"({"cpu":{"model":"Demo CPU","cores":4,"threads":8}})");
  ServeOptions options;
  options.worker = true;
  options.env = {{"VOX_MESH_PROBE_ORDER", "mock"},
                 {"VOX_MESH_PROBE_MOCK_FIXTURE", root + "/cpu.json"},
                 {"VOX_MESH_POLICY_ALLOWED_COMMANDS", "sh"}};
  // No per-token rate limit: the stalled-collector test sends requests as fast as it can.
  options.extra_config =
      "[mesh.control.http]\nrate_per_sec = 0\n[mesh.observability]\notlp_endpoint = \"" + endpoint +
      "\"\notlp_timeout_ms = " + std::to_string(timeout_ms) + "\n";
  return options;
}

TEST(OtlpExportTest, SpansReachTheCollectorInOtlpShapeWithoutTokensOrSecrets) {
  CollectorListener collector(/*answer=*/true);
  TempDir dir;
  const std::string root = dir.Sub("mesh");
  ServeProcess serve(root, kOtlpToken, OtlpServe(root, collector.url() + "/v1/traces", 5'000));
  ASSERT_TRUE(serve.Start());

  // A task whose environment carries a secret, run by the local worker.
  VoxRun run = serve.Vox({"populi", "submit", "--env", std::string("API_KEY=") + kOtlpSecret, "--",
                          "sh", "-c", "echo done"});
  ASSERT_EQ(run.exit_code, 0) << run.err;

  // The control plane's spans and the agent's arrive (batches go out within about a second).
  std::set<std::string> names;
  std::string everything;
  ASSERT_TRUE(OtlpWaitUntil(
      [&] {
        names.clear();
        everything.clear();
        for (const auto& body : collector.bodies()) {
          everything += body;
          auto doc = json::parse(body);
          for (const auto& r : doc.at("resourceSpans").as_array()) {
            for (const auto& ss : r.at("scopeSpans").as_array()) {
              for (const auto& s : ss.at("spans").as_array()) {
                names.insert(std::string(s.at("name").as_string()));
              }
            }
          }
        }
        return names.count("task.place") && names.count("task.process") &&
               names.count("POST /v1/populi/tasks");
      },
      20'000))
      << everything;
  for (const auto& line : collector.request_lines()) EXPECT_EQ(line, "POST /v1/traces HTTP/1.1");
  for (const auto& body : collector.bodies()) {
    auto doc = json::parse(body);
    for (const auto& r : doc.at("resourceSpans").as_array()) {
      ASSERT_TRUE(r.at("resource").at("attributes").is_array());
      for (const auto& ss : r.at("scopeSpans").as_array()) {
        EXPECT_EQ(ss.at("scope").at("name"), "populi");
        for (const auto& s : ss.at("spans").as_array()) {
          EXPECT_EQ(s.at("traceId").as_string().size(), 32u);
          EXPECT_EQ(s.at("spanId").as_string().size(), 16u);
          EXPECT_TRUE(s.at("startTimeUnixNano").is_string());
          EXPECT_TRUE(s.at("kind").is_int64());
        }
      }
    }
  }

  serve.Stop();
  const std::string log = ReadFile(root + "/serve.log");
  EXPECT_NE(log.find("http request_id="), std::string::npos);  // the log was written
  for (const std::string& text : {everything, log}) {
    EXPECT_EQ(text.find(kOtlpToken), std::string::npos);
    EXPECT_EQ(text.find(kOtlpSecret), std::string::npos);
  }
}

TEST(OtlpExportTest, AStalledCollectorDoesNotSlowTheApi) {
  CollectorListener stalled(/*answer=*/false);
  TempDir dir;
  const std::string root = dir.Sub("mesh");
  // The exporter would wait two minutes on each batch: if a request waited on it, the calls
  // below would run into their own 10 s limit.
  ServeProcess serve(root, kOtlpToken, OtlpServe(root, stalled.url(), 120'000));
  ASSERT_TRUE(serve.Start());
  client::ControlPlaneApi api(serve.url(), kOtlpToken);
  api.set_default_timeout_ms(10'000);
  // While the exporter's thread waits on the collector, spans queue (and past the queue's bound
  // are dropped: obs_test covers that); requests never wait.
  for (int i = 0; i < 600; ++i) {
    auto health = api.Health();
    ASSERT_TRUE(health.ok()) << i << ": " << health.status().ToString();
  }
  VoxRun run = serve.Vox({"populi", "submit", "--", "sh", "-c", "echo still-fine"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "still-fine\n");
}

}  // namespace
}  // namespace populi::testing
