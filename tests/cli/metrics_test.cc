// GET /metrics of a live `vox populi serve`: `promtool check metrics` accepts the exposition, and
// counters move when the matching thing happens (a request, a heartbeat, a lease grant, a
// rate-limit refusal, a task placed); the inbox-depth gauge shows the placed task's assignment.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "cli/serve_process.h"
#include "client/control_plane_api.h"
#include "client/http_client.h"
#include "util/random.h"

namespace populi::testing {
namespace {

constexpr char kMetricsAdminToken[] = "metrics-admin-token-0123456789";
constexpr char kMetricsReaderToken[] = "metrics-reader-token-0123456789";
constexpr char kMetricsScrapeToken[] = "metrics-scrape-token-0123456789";

// The value of the series written exactly as `series` ("name{a=\"b\"}"), 0 when absent.
double SeriesValue(const std::string& text, const std::string& series) {
  const std::string needle = "\n" + series + " ";
  const size_t at = ("\n" + text).find(needle);
  if (at == std::string::npos) return 0;
  return std::strtod(text.c_str() + at + needle.size() - 1, nullptr);
}

// `promtool check metrics` over `text`: its exit status and what it said.
std::pair<int, std::string> Promtool(const std::string& text, const std::string& dir) {
  const std::string in = dir + "/metrics.txt", out = dir + "/promtool.out";
  WriteFile(in, text, 0600);
  const int rc =
      std::system(("promtool check metrics < '" + in + "' > '" + out + "' 2>&1").c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ReadFile(out)};
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(std::system("command -v promtool > /dev/null"), 0)
        << "promtool is missing: run scripts/setup (Debian package prometheus)";
    root_ = (std::filesystem::temp_directory_path() / ("populi-metrics-" + RandomHex(8))).string();
    ServeOptions options;
    options.extra_config = std::string("read_only_token = \"") + kMetricsReaderToken +
                           "\"\n[mesh.observability]\nmetrics_token = \"" + kMetricsScrapeToken +
                           "\"\n[mesh.control.http]\nrate_per_sec = 1\nrate_burst = 5\n";
    serve_ = std::make_unique<ServeProcess>(root_, kMetricsAdminToken, options);
    ASSERT_TRUE(serve_->Start());
  }
  void TearDown() override {
    serve_.reset();
    std::filesystem::remove_all(root_);
  }

  std::string Scrape() {
    client::HttpClient http(serve_->url(), kMetricsScrapeToken);
    auto r = http.Send("GET", "/metrics");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->body : std::string();
  }

  std::string root_;
  std::unique_ptr<ServeProcess> serve_;
};

TEST_F(MetricsTest, PromtoolAcceptsTheExpositionAndCountersMoveWithWhatHappens) {
  const std::string before = Scrape();
  auto [rc, said] = Promtool(before, root_);
  EXPECT_EQ(rc, 0) << said << "\n" << before;

  client::ControlPlaneApi admin(serve_->url(), kMetricsAdminToken);
  mesh::NodeRecord node;
  node.id = "n-metrics";
  node.version = "test";
  ASSERT_TRUE(admin.Join(node).ok());
  ASSERT_TRUE(admin.Heartbeat({.node_id = "n-metrics"}).ok());
  ASSERT_TRUE(admin.Heartbeat({.node_id = "n-metrics"}).ok());
  ASSERT_TRUE(
      admin
          .GrantLease(
              {.scope_key = "job:metrics", .holder_node_id = "n-metrics", .ttl_ms = 600'000})
          .ok());
  mesh::TaskSpec spec;
  spec.command = "true";
  auto submitted = admin.Submit(spec);
  ASSERT_TRUE(submitted.ok()) << submitted.status().ToString();
  ASSERT_EQ(submitted->task.state, mesh::TaskState::kPlaced);
  // One reader floods: past its burst of 5 it is refused.
  client::HttpClient reader(serve_->url(), kMetricsReaderToken);
  reader.set_retry_policy({.max_attempts = 1});
  int refused = 0;
  for (int i = 0; i < 30; ++i) {
    auto r = reader.SendRaw("GET", "/v1/populi/nodes");
    if (r.ok() && r->status == 429) ++refused;
  }
  ASSERT_GT(refused, 0);
  // The flood is one coalesced event for that token (its window is a minute), not one per 429.
  std::vector<mesh::Event> limited;
  for (int tries = 0; tries < 300 && limited.empty(); ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto page = admin.Events({.after = 0, .limit = 1000, .kind = "http.rate_limited"});
    if (!page.ok() && page.status().code() == Code::kResourceExhausted) continue;  // admin's rate
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    limited = page->events;
  }
  ASSERT_EQ(limited.size(), 1u);
  EXPECT_EQ(limited[0].subject, "read_only");
  EXPECT_EQ(limited[0].data_json.find(kMetricsReaderToken), std::string::npos);

  const std::string after = Scrape();
  std::tie(rc, said) = Promtool(after, root_);
  EXPECT_EQ(rc, 0) << said << "\n" << after;
  auto delta = [&](const std::string& series) {
    return SeriesValue(after, series) - SeriesValue(before, series);
  };
  EXPECT_EQ(delta("populi_heartbeats_total"), 2) << after;
  EXPECT_EQ(delta("populi_http_requests_total{route=\"nodes.heartbeat\",method=\"POST\","
                  "status=\"200\"}"),
            2);
  EXPECT_EQ(delta("populi_http_request_duration_seconds_count{route=\"nodes.heartbeat\","
                  "method=\"POST\",status=\"200\"}"),
            2);
  EXPECT_EQ(delta("populi_http_requests_total{route=\"nodes.list\",method=\"GET\",status=\"429\"}"),
            refused);
  EXPECT_EQ(delta("populi_http_refusals_total{reason=\"rate_limit\"}"), refused);
  // The exec lease and the task's lease.
  EXPECT_EQ(delta("populi_lease_transitions_total{transition=\"granted\"}"), 2);
  EXPECT_EQ(delta("populi_events_total{kind=\"task.placed\"}"), 1);
  EXPECT_EQ(delta("populi_placement_decisions_total{outcome=\"placed\"}"), 1);
  EXPECT_EQ(delta("populi_placement_latency_seconds_count{attempt=\"first\"}"), 1);
  EXPECT_EQ(delta("populi_node_transitions_total{event=\"joined\"}"), 1);
  // Scrape-time gauges: the assignment waits in the node's task inbox.
  EXPECT_EQ(SeriesValue(after, "populi_inbox_depth{receiver=\"tasks:n-metrics\"}"), 1);
  EXPECT_EQ(SeriesValue(after, "populi_nodes{state=\"alive\"}"), 1);
  EXPECT_EQ(SeriesValue(after, "populi_tasks{state=\"placed\"}"), 1);
  EXPECT_GT(SeriesValue(after, "populi_store_size_bytes"), 0);
  EXPECT_GT(SeriesValue(after, "populi_store_commit_batch_writes_count"),
            SeriesValue(before, "populi_store_commit_batch_writes_count"));
  // Durable by default: every commit was flushed.
  EXPECT_GT(SeriesValue(after, "populi_store_fsync_seconds_count"), 0);
}

}  // namespace
}  // namespace populi::testing
