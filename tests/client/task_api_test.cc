// client::ControlPlaneApi's task calls against a real control plane on 127.0.0.1: the spec survives
// submit and get; an attempt reported through the API (start, logs, signed result) ends the task,
// and its logs read as pages and followed; cancel and wait; and the polling fallback of
// FollowLogs against a server without an event stream.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client/api_server.h"
#include "crypto/ed25519.h"
#include "mesh/json.h"
#include "mesh/replies_json.h"
#include "mesh/task_json.h"

namespace populi::client::testing {
namespace {

using ::testing::HasSubstr;

mesh::TaskSpec Spec(const std::string& script) {
  mesh::TaskSpec spec;
  spec.command = "sh";
  spec.args = {"-c", script};
  return spec;
}

// The records FollowLogs hands over, in order.
struct Collected {
  std::vector<mesh::LogRecord> records;
  LogRecordSink sink() {
    return [this](const mesh::LogRecord& r) { records.push_back(r); };
  }
};

TEST_F(ApiServerTest, SubmitThenGetTaskRoundTripsTheSpec) {
  ControlPlaneApi api = Api();
  mesh::TaskSpec spec = Spec("echo hi");
  spec.client_key = "build-42";
  spec.env = {{"K", "V"}};
  spec.resources.cpus = 2;
  spec.resources.gpus = 1;
  spec.resources.gpu_memory_bytes = uint64_t{12} << 30;
  spec.constraints.required_labels = {{"gpu", "h100"}};
  spec.constraints.node_deny = {"slow-box"};
  spec.priority = 7;
  spec.timeout_ms = 90'000;
  spec.max_attempts = 2;
  // Set, so the server keeps it (an empty one becomes the submit request's span).
  spec.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto submitted = api.Submit(spec);
  ASSERT_TRUE(submitted.ok()) << submitted.status().ToString();
  EXPECT_TRUE(submitted->created);
  EXPECT_EQ(submitted->task.state, mesh::TaskState::kPending) << "no node has joined";

  auto got = api.GetTask(submitted->task.id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(mesh::Serialize(mesh::ToJson(got->spec)), mesh::Serialize(mesh::ToJson(spec)));
  EXPECT_EQ(got->spec.resources.gpu_memory_bytes, uint64_t{12} << 30);
  EXPECT_EQ(got->spec.constraints.required_labels.at("gpu"), "h100");

  auto again = api.Submit(spec);  // the same client key: the same task, not created
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->task.id, submitted->task.id);

  auto pending = api.ListTasks({.state = "pending"});
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  ASSERT_EQ(pending->tasks.size(), 1u);
  EXPECT_EQ(pending->tasks[0].id, submitted->task.id);
  EXPECT_TRUE(api.ListTasks({.state = "succeeded"})->tasks.empty());
}

TEST_F(ApiServerTest, AnAttemptReportedThroughTheApiEndsTheTaskAndItsLogsFollow) {
  ControlPlaneApi api = Api();
  const crypto::Ed25519KeyPair keys = *crypto::GenerateEd25519();
  mesh::NodeRecord node;
  node.id = "w1";
  node.ed25519_pub_key_b64 = crypto::Base64(keys.public_key.data(), keys.public_key.size());
  ASSERT_TRUE(api.Join(node).ok());
  auto submitted = api.Submit(Spec("echo one; echo two >&2"));
  ASSERT_TRUE(submitted.ok()) << submitted.status().ToString();
  const std::string id = submitted->task.id;
  ASSERT_EQ(submitted->task.state, mesh::TaskState::kPlaced);

  // The assignment, as the node's worker claims it.
  ControlPlaneApi worker = Api(kWorkerToken);
  auto inbox = worker.Inbox({.receiver = mesh::TaskInboxFor("w1"), .claimer_node_id = "w1"});
  ASSERT_TRUE(inbox.ok()) << inbox.status().ToString();
  ASSERT_EQ(inbox->messages.size(), 1u);
  auto payload = mesh::ParseJson(inbox->messages[0].payload);
  ASSERT_TRUE(payload.ok());
  auto assignment = mesh::TaskAssignmentFromJson(*payload);
  ASSERT_TRUE(assignment.ok()) << assignment.status().ToString();
  const mesh::AttemptReport ref{assignment->attempt, "w1", assignment->lease_id,
                                assignment->fencing_token};

  mesh::AttemptReport stale = ref;
  stale.fencing_token -= 1;
  Status refused = worker.ReportStart(id, stale);
  EXPECT_EQ(refused.code(), Code::kConflict) << refused.ToString();
  ASSERT_TRUE(worker.ReportStart(id, ref).ok());
  mesh::LogsReport logs;
  static_cast<mesh::AttemptReport&>(logs) = ref;
  logs.chunks = {{"stdout", "one\n"}, {"stderr", "two\n"}};
  ASSERT_TRUE(worker.ReportLogs(id, logs).ok());

  auto page = api.Logs(id, 0);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->logs.size(), 2u);
  EXPECT_EQ(page->logs[0].stream, "stdout");
  EXPECT_EQ(page->logs[1].data, "two\n");
  EXPECT_EQ(page->state, mesh::TaskState::kRunning);

  mesh::ResultReport result;
  static_cast<mesh::AttemptReport&>(result) = ref;
  result.exit_code = 0;
  result.stdout_tail = "one\n";
  result.stderr_tail = "two\n";
  result.signature_b64 = crypto::SignBase64(
      keys, mesh::ResultSigningText(id, ref.attempt, ref.lease_id, ref.fencing_token, 0, "",
                                    crypto::Sha256Hex("one\n\ntwo\n")));
  ASSERT_TRUE(worker.ReportResult(id, result).ok());

  Collected all;
  auto end = api.FollowLogs(id, 0, all.sink());
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  EXPECT_EQ(end->state, mesh::TaskState::kSucceeded);
  EXPECT_EQ(end->exit_code, 0);
  ASSERT_EQ(all.records.size(), 2u);
  EXPECT_EQ(all.records[0].data, "one\n");
  EXPECT_EQ(all.records[1].stream, "stderr");
  Collected rest;
  ASSERT_TRUE(api.FollowLogs(id, all.records[0].seq, rest.sink()).ok());
  ASSERT_EQ(rest.records.size(), 1u);
  EXPECT_EQ(rest.records[0].data, "two\n");

  auto explained = api.Explain(id);
  ASSERT_TRUE(explained.ok()) << explained.status().ToString();
  EXPECT_EQ(explained->state, mesh::TaskState::kSucceeded);
  ASSERT_EQ(explained->attempts.size(), 1u);
  EXPECT_EQ(explained->attempts[0].node_id, "w1");
  EXPECT_EQ(explained->attempts[0].state, mesh::AttemptState::kSucceeded);
  auto waited = api.Wait(id, 1'000);
  ASSERT_TRUE(waited.ok()) << waited.status().ToString();
  EXPECT_EQ(waited->state, mesh::TaskState::kSucceeded);
}

TEST_F(ApiServerTest, CancelEndsAPendingTaskOnceAndWaitSeesIt) {
  ControlPlaneApi api = Api();
  auto submitted = api.Submit(Spec("sleep 60"));
  ASSERT_TRUE(submitted.ok()) << submitted.status().ToString();
  const std::string id = submitted->task.id;
  auto pending = api.Wait(id, 50);  // no node: still pending when the wait runs out
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  EXPECT_EQ(pending->state, mesh::TaskState::kPending);

  auto cancelled = api.Cancel(id);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status().ToString();
  EXPECT_EQ(cancelled->state, mesh::TaskState::kCancelled);
  auto again = api.Cancel(id);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kFailedPrecondition);
  EXPECT_THAT(again.status().hint(), HasSubstr(id));
  EXPECT_EQ(api.Wait(id, 1'000)->state, mesh::TaskState::kCancelled);

  Collected none;
  auto end = api.FollowLogs(id, 0, none.sink());
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  EXPECT_EQ(end->state, mesh::TaskState::kCancelled);
  EXPECT_TRUE(none.records.empty());
}

TEST_F(ApiServerTest, FollowingAnUnknownTaskIsNotFoundAtOnce) {
  Collected none;
  auto end = Api().FollowLogs("t-no-such", 0, none.sink());
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.status().code(), Code::kNotFound);
}

// A control plane whose log route only pages (no event stream): FollowLogs polls from the last
// seq it handed over, hands each record over once, and reads the end from the task.
TEST(ControlPlaneApiFollow, WithoutAnEventStreamItPagesFromTheLastSeqToTheEnd) {
  auto record = [](int64_t seq, const std::string& data) {
    return mesh::LogRecord{seq, 1, "stdout", data, 1};
  };
  std::vector<int64_t> asked_after;
  CannedServer server({
      {"/v1/populi/tasks/{id}/logs",
       [&](http::Request& req) {
         const int64_t after = std::stoll(req.query.at("after"));
         asked_after.push_back(after);
         mesh::LogPage page;
         page.state = mesh::TaskState::kRunning;
         if (after == 0) page.logs = {record(1, "a"), record(2, "b")};
         if (after == 2) page.logs = {record(2, "b"), record(3, "c")};  // one it already had
         if (after == 3) page.state = mesh::TaskState::kFailed;
         page.next_after = page.logs.empty() ? after : page.logs.back().seq;
         return http::JsonResponse(mesh::Serialize(mesh::ToJson(page)));
       }},
      {"/v1/populi/tasks/{id}",
       [](http::Request&) {
         mesh::Task task;
         task.id = "t-1";
         task.spec.command = "x";
         task.state = mesh::TaskState::kFailed;
         task.exit_code = 3;
         return http::JsonResponse(mesh::Serialize(mesh::ToJson(task)));
       }},
  });
  ControlPlaneApi api(server.url());
  Collected got;
  auto end = api.FollowLogs("t-1", 0, got.sink());
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  EXPECT_EQ(end->state, mesh::TaskState::kFailed);
  EXPECT_EQ(end->exit_code, 3);
  std::string text;
  for (const auto& r : got.records) text += r.data;
  EXPECT_EQ(text, "abc");
  // The first ask is the event stream's (answered with a page it cannot use), then the pages.
  EXPECT_EQ(asked_after, (std::vector<int64_t>{0, 0, 2, 3}));
}

}  // namespace
}  // namespace populi::client::testing
