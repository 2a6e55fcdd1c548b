// TaskWorker against a stand-in control plane (stub_control_plane.h): many short attempts run
// real processes through the exec runner and are reported, and each finished attempt gives its
// thread back (it is joined, not just finished).
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "agent/stub_control_plane.h"
#include "agent/task_worker.h"
#include "crypto/ed25519.h"

namespace populi::agent {
namespace {

// A number from /proc/self/status ("Threads:", "VmSize:" in kB); -1 when missing.
int64_t StatusField(const std::string& name) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(name, 0) == 0) return std::stoll(line.substr(name.size()));
  }
  return -1;
}

int ThreadCount() {
  return static_cast<int>(StatusField("Threads:"));
}

// A worker for node-1 of `control` that runs anything (open exec policy) under `scratch`.
TaskWorkerOptions OptionsFor(const testing::StubControlPlane& control, const std::string& scratch) {
  TaskWorkerOptions options;
  options.control_url = control.url();
  options.node_id = "node-1";
  options.policy.mode = runners::ExecMode::kOpen;
  options.scratch_root = scratch;
  options.poll_wait_ms = 1'000;
  return options;
}

TEST(TaskWorkerTest, FinishedAttemptsGiveTheirThreadsBack) {
  // 100 attempts: the leak this guards against (an unjoined attempt thread keeps its 8 MiB stack
  // mapped) would grow the address space by 800 MiB, far past the bound checked below.
  constexpr int kAttempts = 100;
  constexpr int kSlots = 4;
  testing::StubControlPlane control(kAttempts, kSlots, {{"command", "true"}});
  std::string scratch = "/tmp/populi-worker-test-XXXXXX";
  ASSERT_NE(::mkdtemp(scratch.data()), nullptr);

  const TaskWorkerOptions options = OptionsFor(control, scratch);
  auto keys = crypto::GenerateEd25519();
  ASSERT_TRUE(keys.ok());
  auto quiet = std::make_shared<spdlog::logger>("task-worker-test");  // no sinks

  const int baseline = ThreadCount();
  ASSERT_GT(baseline, 0);
  const int64_t vm_before_kb = StatusField("VmSize:");
  int peak = baseline;
  {
    TaskWorker worker(options, *keys, nullptr, quiet);
    worker.Start();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
    while (control.results() < kAttempts && std::chrono::steady_clock::now() < deadline) {
      peak = std::max(peak, ThreadCount());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ASSERT_EQ(control.results(), kAttempts);
    // A running attempt holds three threads (its own, its output waiter, its runner's); the
    // poller is one more, and attempts that just ended wait at most a poll round to be joined.
    constexpr int kMaxThreads = 3 * kSlots + 1 + 16;
    EXPECT_LE(peak - baseline, kMaxThreads) << "peak " << peak << ", before " << baseline;
    // An attempt thread that has returned but was never joined no longer counts in Threads:,
    // yet keeps its stack (8 MiB by default) mapped: that is how the old per-attempt leak
    // showed, at about 8 MiB per attempt.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the last ones are joined
    const int64_t vm_grown_mb = (StatusField("VmSize:") - vm_before_kb) / 1024;
    EXPECT_LE(vm_grown_mb, kMaxThreads * 8) << "address space grew by " << vm_grown_mb << " MiB";
    worker.Stop();
  }
  EXPECT_EQ(ThreadCount(), baseline);
  std::error_code ec;
  std::filesystem::remove_all(scratch, ec);
}

// Runs one assignment of `spec` through a worker whose own donation policy is `donation`, and
// returns the result report it sent.
boost::json::object RunOneAssignment(boost::json::object spec, const mesh::DonationPolicy& donation,
                                     const std::string& scratch) {
  testing::StubControlPlane control(1, 1, std::move(spec));
  TaskWorkerOptions options = OptionsFor(control, scratch);
  options.donation = donation;
  auto keys = crypto::GenerateEd25519();
  if (!keys.ok()) return {};
  auto quiet = std::make_shared<spdlog::logger>("task-worker-donation-test");
  TaskWorker worker(options, *keys, nullptr, quiet);
  worker.Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (control.results() < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  worker.Stop();
  auto bodies = control.result_bodies();
  return bodies.empty() ? boost::json::object{} : bodies.front();
}

// The control plane's view of a node's policy may be older than the node's own (its operator
// just turned donation off): the worker itself refuses another submitter's work, never starts
// the command, and says why in the result. Its own operator's work still runs.
TEST(TaskWorkerTest, ANodeThatDoesNotDonateRefusesOtherSubmittersWorkItself) {
  std::string scratch = "/tmp/populi-worker-donation-XXXXXX";
  ASSERT_NE(::mkdtemp(scratch.data()), nullptr);
  const std::string marker = scratch + "/ran";
  const boost::json::object command{{"command", "sh"},
                                    {"args", boost::json::array{"-c", "touch " + marker}}};
  mesh::DonationPolicy closed;
  closed.enabled = false;

  boost::json::object foreign = command;
  foreign["submitter_node_id"] = "node-2";
  const boost::json::object refused = RunOneAssignment(foreign, closed, scratch);
  ASSERT_TRUE(refused.contains("exit_code")) << boost::json::serialize(refused);
  EXPECT_EQ(refused.at("exit_code").as_int64(), -1);
  const std::string error(refused.at("error").as_string());
  EXPECT_NE(error.find("does not donate"), std::string::npos) << error;
  EXPECT_FALSE(std::filesystem::exists(marker)) << "the refused command ran";

  boost::json::object own = command;
  own["submitter_node_id"] = "node-1";
  const boost::json::object ran = RunOneAssignment(own, closed, scratch);
  ASSERT_TRUE(ran.contains("exit_code")) << boost::json::serialize(ran);
  EXPECT_EQ(ran.at("exit_code").as_int64(), 0);
  EXPECT_TRUE(std::filesystem::exists(marker)) << "its own operator's work did not run";

  mesh::DonationPolicy gpu_only;
  gpu_only.accepted_kinds = {"inference"};
  std::filesystem::remove(marker);
  const boost::json::object wrong_kind = RunOneAssignment(foreign, gpu_only, scratch);
  ASSERT_TRUE(wrong_kind.contains("error")) << boost::json::serialize(wrong_kind);
  EXPECT_NE(std::string(wrong_kind.at("error").as_string()).find("kind exec"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(marker));
  std::error_code ec;
  std::filesystem::remove_all(scratch, ec);
}

}  // namespace
}  // namespace populi::agent
