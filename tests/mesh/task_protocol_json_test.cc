// Codecs of the agent ↔ control plane task protocol (mesh/task_json.h): the assignment and the
// three attempt reports round-trip, require the fields that name the attempt, and are strict.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "mesh/json.h"
#include "mesh/parse_json.h"
#include "mesh/task_json.h"

namespace populi::mesh {
namespace {

namespace json = boost::json;

using testing::Parse;

TEST(TaskProtocolJson, AssignmentRoundTripsThroughItsWireText) {
  TaskAssignment a;
  a.task_id = "t-1";
  a.attempt = 2;
  a.lease_id = std::string(32, 'f');
  a.fencing_token = 41;
  a.lease_ttl_ms = 15'000;
  a.gpu_uuids = {"GPU-a", "GPU-b"};
  a.spec.command = "python";
  a.spec.args = {"train.py"};
  a.spec.priority = 7;
  auto back = TaskAssignmentFromJson(Parse(json::serialize(ToJson(a))));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->task_id, a.task_id);
  EXPECT_EQ(back->attempt, 2);
  EXPECT_EQ(back->lease_id, a.lease_id);
  EXPECT_EQ(back->fencing_token, 41);
  EXPECT_EQ(back->lease_ttl_ms, 15'000);
  EXPECT_EQ(back->gpu_uuids, a.gpu_uuids);
  EXPECT_EQ(back->spec.command, "python");
  EXPECT_EQ(back->spec.args, a.spec.args);
  EXPECT_EQ(back->spec.priority, 7);
}

TEST(TaskProtocolJson, AssignmentNeedsItsAttemptFieldsAndNamesWhatIsWrong) {
  auto no_lease =
      TaskAssignmentFromJson(Parse(R"({"task_id":"t","attempt":1,"spec":{"command":"x"}})"));
  ASSERT_FALSE(no_lease.ok());
  EXPECT_NE(no_lease.status().message().find("lease_id"), std::string::npos);
  auto zero = TaskAssignmentFromJson(
      Parse(R"({"task_id":"t","attempt":0,"lease_id":"l","spec":{"command":"x"}})"));
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.status().message().find("attempt"), std::string::npos);
  auto bad_spec = TaskAssignmentFromJson(Parse(
      R"({"task_id":"t","attempt":1,"lease_id":"l","spec":{"command":"x","priority":"hi"}})"));
  ASSERT_FALSE(bad_spec.ok());
  EXPECT_NE(bad_spec.status().message().find("spec.priority"), std::string::npos);
}

TEST(TaskProtocolJson, ReportsRoundTripAndAreStrict) {
  ResultReport r;
  r.attempt = 3;
  r.node_id = "n-1";
  r.lease_id = "l-1";
  r.fencing_token = 9;
  r.exit_code = 2;
  r.error = "timeout";
  r.stdout_tail = "out";
  r.stderr_tail = "err";
  r.signature_b64 = "c2ln";
  auto back = ResultReportFromJson(Parse(json::serialize(ToJson(r))));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->attempt, 3);
  EXPECT_EQ(back->node_id, "n-1");
  EXPECT_EQ(back->fencing_token, 9);
  EXPECT_EQ(back->exit_code, 2);
  EXPECT_EQ(back->error, "timeout");
  EXPECT_EQ(back->stdout_tail, "out");
  EXPECT_EQ(back->stderr_tail, "err");
  EXPECT_EQ(back->signature_b64, "c2ln");

  LogsReport logs;
  static_cast<AttemptReport&>(logs) = r;
  logs.chunks = {{"stdout", "a"}, {"system", "b"}};
  auto logs_back = LogsReportFromJson(Parse(json::serialize(ToJson(logs))));
  ASSERT_TRUE(logs_back.ok());
  ASSERT_EQ(logs_back->chunks.size(), 2u);
  EXPECT_EQ(logs_back->chunks[1].stream, "system");
  EXPECT_EQ(logs_back->chunks[1].data, "b");

  auto bad_stream = LogsReportFromJson(Parse(
      R"({"attempt":1,"node_id":"n","lease_id":"l","chunks":[{"stream":"tty","data":"x"}]})"));
  ASSERT_FALSE(bad_stream.ok());
  EXPECT_NE(bad_stream.status().message().find("chunks[0].stream"), std::string::npos);
  EXPECT_FALSE(bad_stream.status().hint().empty());
  // A mistyped field is an error, not silently the default.
  auto mistyped =
      ResultReportFromJson(Parse(R"({"attempt":1,"node_id":"n","lease_id":"l","exit_code":"0"})"));
  ASSERT_FALSE(mistyped.ok());
  EXPECT_NE(mistyped.status().message().find("exit_code"), std::string::npos);
  auto no_node = AttemptReportFromJson(Parse(R"({"attempt":1,"lease_id":"l"})"));
  ASSERT_FALSE(no_node.ok());
  EXPECT_NE(no_node.status().message().find("node_id"), std::string::npos);
}

}  // namespace
}  // namespace populi::mesh
