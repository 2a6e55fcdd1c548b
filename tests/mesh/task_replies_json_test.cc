// Codecs of the task replies (mesh/replies_json.h): the task list, log records and pages, the end
// of a log stream and explain round-trip, keep the server's document shape, name the field path
// of a wrong type, refuse unknown enum values and ignore unknown fields.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "mesh/replies_json.h"
#include "mesh/replies_test_util.h"
#include "mesh/task_json.h"

namespace populi::mesh {
namespace {

using testing::ErrorOf;
using testing::ExpectSameDocument;
using ::testing::HasSubstr;
using testing::ThroughWire;

Task SampleTask() {
  Task t;
  t.id = "t-1";
  t.spec.command = "sh";
  t.spec.args = {"-c", "echo hi"};
  t.spec.resources.gpus = 1;
  t.state = TaskState::kRunning;
  t.created_ms = 10;
  Attempt a;
  a.number = 1;
  a.node_id = "gpu-2";
  a.dispatch = DispatchKind::kFallback;
  a.state = AttemptState::kRunning;
  a.placement_summary = "1 node fits";
  t.attempts.push_back(a);
  return t;
}

TEST(TaskListJson, RoundTripsAndNamesTheFieldPathInsideATask) {
  TaskList l{{SampleTask()}};
  TaskList back = ThroughWire(l, TaskListFromJson);
  ASSERT_EQ(back.tasks.size(), 1u);
  EXPECT_EQ(back.tasks[0].spec.args, l.tasks[0].spec.args);
  EXPECT_EQ(back.tasks[0].attempts[0].dispatch, DispatchKind::kFallback);
  // The server writes each task with ToJson(Task): a list read back is the same document.
  ExpectSameDocument(boost::json::serialize(
                         boost::json::object{{"tasks", boost::json::array{ToJson(l.tasks[0])}}}),
                     TaskListFromJson);
  EXPECT_THAT(ErrorOf(R"({"tasks":[{"id":"t","spec":{"command":"x","resources":{"gpus":"1"}}}]})",
                      TaskListFromJson),
              HasSubstr("tasks[0].spec.resources.gpus:"));
  EXPECT_THAT(ErrorOf(R"({"tasks":[{"id":"t","spec":{"command":"x"},"state":"paused"}]})",
                      TaskListFromJson),
              HasSubstr("tasks[0].state: "));
  EXPECT_THAT(ErrorOf(R"({})", TaskListFromJson), HasSubstr("tasks"));
  EXPECT_TRUE(TaskListFromJson(testing::Parse(R"({"tasks":[],"next":"x"})")).ok());
}

TEST(LogRecordJson, RoundTripsAndKnowsOnlyTheThreeStreams) {
  LogRecord c{7, 2, "stderr", "oops\n", 99};
  LogRecord back = ThroughWire(c, LogRecordFromJson);
  EXPECT_EQ(back.seq, 7);
  EXPECT_EQ(back.attempt, 2);
  EXPECT_EQ(back.stream, "stderr");
  EXPECT_EQ(back.data, "oops\n");
  EXPECT_EQ(back.ts_ms, 99);
  ExpectSameDocument(R"({"seq":1,"attempt":1,"stream":"stdout","data":"hi\n","ts_ms":5})",
                     LogRecordFromJson);
  EXPECT_THAT(ErrorOf(R"({"seq":1,"stream":"stdlog"})", LogRecordFromJson),
              HasSubstr("stream: unknown output stream 'stdlog'"));
  EXPECT_THAT(ErrorOf(R"({"seq":"1","stream":"stdout"})", LogRecordFromJson), HasSubstr("seq:"));
  EXPECT_THAT(ErrorOf(R"({"stream":"stdout"})", LogRecordFromJson), HasSubstr("seq"));
  EXPECT_TRUE(LogRecordFromJson(testing::Parse(R"({"seq":1,"stream":"system","pid":4})")).ok());
}

TEST(LogPageJson, RoundTripsAndNamesTheRecordThatIsWrong) {
  LogPage p;
  p.logs = {{1, 1, "stdout", "a", 5}, {2, 1, "stderr", "b", 6}};
  p.next_after = 2;
  p.state = TaskState::kSucceeded;
  LogPage back = ThroughWire(p, LogPageFromJson);
  ASSERT_EQ(back.logs.size(), 2u);
  EXPECT_EQ(back.logs[1].data, "b");
  EXPECT_EQ(back.next_after, 2);
  EXPECT_EQ(back.state, TaskState::kSucceeded);
  ExpectSameDocument(R"({"logs":[],"next_after":0,"state":"pending"})", LogPageFromJson);
  EXPECT_THAT(ErrorOf(R"({"logs":[{"seq":1,"stream":"stdout"},{"seq":2,"stream":"stdout",
                          "data":5}],"state":"running"})",
                      LogPageFromJson),
              HasSubstr("logs[1].data: expected a string"));
  EXPECT_THAT(ErrorOf(R"({"logs":[],"state":"napping"})", LogPageFromJson), HasSubstr("state: "));
  EXPECT_THAT(ErrorOf(R"({"logs":[]})", LogPageFromJson), HasSubstr("state"));
  EXPECT_TRUE(LogPageFromJson(testing::Parse(R"({"logs":[],"state":"failed","x":{}})")).ok());
}

TEST(LogEndJson, RoundTripsAndNeedsAKnownState) {
  LogEnd e{TaskState::kFailed, 3};
  LogEnd back = ThroughWire(e, LogEndFromJson);
  EXPECT_EQ(back.state, TaskState::kFailed);
  EXPECT_EQ(back.exit_code, 3);
  ExpectSameDocument(R"({"state":"succeeded","exit_code":0})", LogEndFromJson);
  EXPECT_THAT(ErrorOf(R"({"state":"gone"})", LogEndFromJson), HasSubstr("state: "));
  EXPECT_THAT(ErrorOf(R"({"state":"failed","exit_code":"3"})", LogEndFromJson),
              HasSubstr("exit_code:"));
  EXPECT_THAT(ErrorOf(R"({"exit_code":0})", LogEndFromJson), HasSubstr("state"));
  EXPECT_TRUE(LogEndFromJson(testing::Parse(R"({"state":"cancelled","why":"x"})")).ok());
}

TEST(TaskExplanationJson, IsWhatExplainSaysOfATaskAndNamesTheAttemptThatIsWrong) {
  Task t = SampleTask();
  t.attempts[0].error = "lease_lost";
  TaskExplanation x = Explain(t);
  TaskExplanation back = ThroughWire(x, TaskExplanationFromJson);
  EXPECT_EQ(back.task_id, "t-1");
  EXPECT_EQ(back.state, TaskState::kRunning);
  ASSERT_EQ(back.attempts.size(), 1u);
  EXPECT_EQ(back.attempts[0].node_id, "gpu-2");
  EXPECT_EQ(back.attempts[0].dispatch, DispatchKind::kFallback);
  EXPECT_EQ(back.attempts[0].placement_summary, "1 node fits");
  EXPECT_EQ(back.attempts[0].error, "lease_lost");
  // Every attempt field is written, empty or not, as explain always has.
  ExpectSameDocument(
      R"({"task_id":"t","state":"pending","pending_reason":"","attempts":[{"number":1,
          "node_id":"n","dispatch":"remote","state":"lost","placement_summary":"",
          "error":"","exit_code":-1}]})",
      TaskExplanationFromJson);
  EXPECT_THAT(ErrorOf(R"({"task_id":"t","state":"pending","attempts":[{"number":1},
                          {"dispatch":"teleport"}]})",
                      TaskExplanationFromJson),
              HasSubstr("attempts[1].dispatch: "));
  EXPECT_THAT(
      ErrorOf(R"({"task_id":"t","state":"pending","pending_reason":[]})", TaskExplanationFromJson),
      HasSubstr("pending_reason: expected a string"));
  EXPECT_THAT(ErrorOf(R"({"state":"pending"})", TaskExplanationFromJson), HasSubstr("task_id"));
  EXPECT_TRUE(
      TaskExplanationFromJson(testing::Parse(R"({"task_id":"t","state":"placed","y":1})")).ok());
}

}  // namespace
}  // namespace populi::mesh
