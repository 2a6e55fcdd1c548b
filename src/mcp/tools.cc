// The tool catalog: descriptions and JSON Schemas (2020-12 dialect, the MCP default). The
// implementations are in tool_calls.cc.
#include "mcp/tools.h"

#include <boost/json.hpp>

#include "mcp/tool_schema.h"

namespace populi::mcp {
namespace json = boost::json;

const std::vector<ToolSpec>& Tools() {
  using namespace schema;
  static const std::vector<ToolSpec> tools = {
      MeshStatusTool(), ListNodesTool(),   SubmitTaskTool(), WaitTaskTool(),   TaskLogsTool(),
      CancelTaskTool(), ExplainTaskTool(), A2ASendTool(),    A2AReceiveTool(), EventsSinceTool()};
  return tools;
}

const ToolSpec* FindTool(std::string_view name) {
  for (const ToolSpec& t : Tools()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

json::object ToolListEntry(const ToolSpec& tool) {
  return {{"name", tool.name},
          {"title", tool.title},
          {"description", tool.description},
          {"inputSchema", tool.input_schema},
          {"outputSchema", tool.output_schema},
          {"annotations",
           {{"title", tool.title},
            {"readOnlyHint", tool.read_only},
            {"destructiveHint", tool.destructive},
            {"idempotentHint", tool.idempotent},
            {"openWorldHint", false}}}};
}

namespace schema {

ToolSpec SubmitTaskTool() {
  return {
      "submit_task",
      "Submit a task",
      "Runs a command on some node of the mesh (an exec task) and returns at once with the task "
      "id and where the scheduler placed it or, when it is still pending, why. Follow it with "
      "wait_task, then task_logs. The node's exec policy decides which commands may run. Costs "
      "one task slot on the chosen node for as long as the command runs. A repeated call with "
      "the same client_key returns the same task instead of starting another.",
      Access::kSubmit,
      false,
      false,
      false,
      Object({{"command", Str("the program to run (an absolute path or a name on PATH)")},
              {"args", ArrayOf(Str("argument"), "its arguments")},
              {"cpus", Int("logical CPUs it needs; 0 = no requirement")},
              {"memory_bytes", Int("memory it needs; 0 = no requirement")},
              {"gpus", Int("GPUs it needs; 0 = none")},
              {"timeout_ms", Int("kill it after this long; 0 = no limit")},
              {"max_attempts", Int("attempts when its node is lost (1..10; default 3)", 1)},
              {"required_labels", StrMap("labels the node must have")},
              {"node_allow", ArrayOf(Str("node id"), "only these nodes may run it")},
              {"client_key", Str("an idempotency key: resubmitting it returns the same task")}},
             {"command"}),
      Output({{"task_id", Str("the new task's id: pass it to wait_task, task_logs, cancel_task")},
              {"state", Str("pending | placed | running | …")},
              {"created", Bool("false when client_key named a task that already existed")},
              {"likely_node_id",
               Str("the node it was placed on, per the scheduler's explain; empty while pending")},
              {"reason", Str("the scheduler's reason: the placement summary or why it waits")}},
             {"task_id", "state", "created", "likely_node_id", "reason"}),
      {{"command", "echo"}, {"args", json::array{"hello"}}}};
}

ToolSpec WaitTaskTool() {
  json::object out = TaskSummarySchema();
  out["properties"].as_object()["timed_out"] =
      Bool("true when wait_ms passed before the task ended; call wait_task again");
  out["required"].as_array().push_back("timed_out");
  return {"wait_task",
          "Wait for a task",
          "Waits until the task ends or wait_ms passes (at most 120000), whichever comes first, "
          "and returns its state and exit code. Sends progress notifications while it waits when "
          "the request has a progressToken. Holds the call open for up to wait_ms; nothing else "
          "is consumed.",
          Access::kRead,
          true,
          false,
          true,
          Object({{"task_id", TaskIdIn()},
                  {"wait_ms", Int("how long to wait at most (default 30000, at most 120000)")}},
                 {"task_id"}),
          std::move(out),
          {{"task_id", "t-0123456789abcdef"}, {"wait_ms", 1000}}};
}

ToolSpec TaskLogsTool() {
  json::object record{{"type", "object"},
                      {"properties",
                       {{"seq", Int("increasing per task")},
                        {"attempt", Int("the attempt that wrote it")},
                        {"stream", Str("stdout | stderr | system")},
                        {"data", Str("the text")},
                        {"ts_ms", Int("when, Unix ms")}}},
                      {"required", json::array{"seq", "stream", "data"}}};
  return {"task_logs",
          "Read a task's output",
          "One page (up to 1000 records) of a task's stdout and stderr after seq `after`. Pass "
          "next_after back as `after` to read on; the page is complete when the task has ended "
          "and a call returns no records. Cheap: one read, no waiting.",
          Access::kRead,
          true,
          false,
          true,
          Object({{"task_id", TaskIdIn()},
                  {"after", Int("return records after this seq (default 0: from the start)")}},
                 {"task_id"}),
          Output({{"task_id", Str("the task's id")},
                  {"state", Str("the task's state when the page was read")},
                  {"logs", ArrayOf(std::move(record), "the records, in seq order")},
                  {"next_after", Int("the seq to pass as `after` next")},
                  {"stdout", Str("this page's stdout records joined")},
                  {"stderr", Str("this page's stderr records joined")}},
                 {"task_id", "state", "logs", "next_after"}),
          {{"task_id", "t-0123456789abcdef"}}};
}

ToolSpec CancelTaskTool() {
  return {"cancel_task",
          "Cancel a task",
          "Stops a task: revokes its lease, so its node kills the process, and marks it "
          "cancelled. Destructive and final: its output so far stays readable, but it cannot be "
          "resumed. Fails with failed_precondition when the task already ended.",
          Access::kSubmit,
          false,
          true,
          false,
          Object({{"task_id", TaskIdIn()}}, {"task_id"}),
          TaskSummarySchema(),
          {{"task_id", "t-0123456789abcdef"}}};
}

ToolSpec ExplainTaskTool() {
  json::object attempt{{"type", "object"},
                       {"properties",
                        {{"number", Int("1-based")},
                         {"node_id", Str("where it ran")},
                         {"dispatch", Str("local | remote | fallback")},
                         {"state", Str("placed | running | succeeded | failed | lost | cancelled")},
                         {"placement_summary", Str("the scheduler's reason for this node")},
                         {"error", Str("why it ended, when it failed")},
                         {"exit_code", Nullable("integer", "its exit code, when it exited")}}},
                       {"required", json::array{"number", "node_id", "state"}}};
  return {"explain_task",
          "Explain a task's placement",
          "Why a task is where it is: the scheduler's reason for each attempt's node, or why it "
          "is still pending (no node with enough free GPUs, labels not matched, …). Use it when a "
          "task waits longer than expected or failed. Cheap: one read.",
          Access::kRead,
          true,
          false,
          true,
          Object({{"task_id", TaskIdIn()}}, {"task_id"}),
          Output({{"task_id", Str("the task's id")},
                  {"state", Str("the task's state")},
                  {"pending_reason", Str("why it is not placed yet; empty otherwise")},
                  {"attempts", ArrayOf(std::move(attempt), "its attempts, oldest first")}},
                 {"task_id", "state", "pending_reason", "attempts"}),
          {{"task_id", "t-0123456789abcdef"}}};
}

}  // namespace schema
}  // namespace populi::mcp
