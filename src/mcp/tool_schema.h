// Building blocks of the tool catalog's JSON Schemas (tools.cc, tools_mesh.cc), and the
// catalog's parts. Internal to mcp/.
#pragma once

#include <string_view>

#include <boost/json.hpp>

#include "mcp/tools.h"

namespace populi::mcp::schema {
namespace json = boost::json;

inline json::object Str(std::string_view description) {
  return {{"type", "string"}, {"description", description}};
}
inline json::object Int(std::string_view description, int64_t minimum = 0) {
  return {{"type", "integer"}, {"minimum", minimum}, {"description", description}};
}
inline json::object Bool(std::string_view description) {
  return {{"type", "boolean"}, {"description", description}};
}
inline json::object ArrayOf(json::object items, std::string_view description) {
  return {{"type", "array"}, {"items", std::move(items)}, {"description", description}};
}
inline json::object StrMap(std::string_view description) {
  return {{"type", "object"},
          {"additionalProperties", {{"type", "string"}}},
          {"description", description}};
}
inline json::object Nullable(std::string_view type, std::string_view description) {
  return {{"type", json::array{type, "null"}}, {"description", description}};
}

inline json::object Traceparent() {
  json::object s = Str(
      "W3C traceparent (00-<32 hex trace id>-<16 hex span id>-<2 hex flags>). Optional on input: "
      "the mesh's spans of this call join that trace; without it a new trace starts. The output "
      "carries the one used.");
  s["pattern"] = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}";
  return s;
}

// An object schema; `traceparent` is added to every tool's input and output.
inline json::object Object(json::object properties, json::array required, bool closed = true) {
  properties["traceparent"] = Traceparent();
  json::object o{{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) o["required"] = std::move(required);
  if (closed) o["additionalProperties"] = false;
  return o;
}
inline json::object Output(json::object properties, json::array required) {
  required.push_back("traceparent");
  return Object(std::move(properties), std::move(required), /*closed=*/false);
}

inline json::object TaskIdIn() {
  return Str("the task's id as submit_task returned it (\"t-\" and 16 hex digits)");
}

inline json::object TaskSummarySchema() {
  return Output(
      {{"task_id", Str("the task's id")},
       {"state", Str("pending | placed | running | succeeded | failed | cancelled")},
       {"ended", Bool("true once the task reached succeeded, failed or cancelled")},
       {"exit_code", Nullable("integer", "the process exit code once it exited, else null")},
       {"node_id", Str("the node of the latest attempt; empty while pending")},
       {"attempts", Int("attempts so far (a lost node's task is retried up to max_attempts)")},
       {"pending_reason", Str("why the scheduler could not place it yet; empty otherwise")},
       {"error", Str("the latest attempt's error (lease_lost, timeout, spawn_failed: …)")}},
      {"task_id", "state", "ended", "exit_code", "node_id", "attempts"});
}

// The catalog's tools (tools.cc: tasks; tools_mesh.cc: nodes, messages, events).
ToolSpec MeshStatusTool();
ToolSpec ListNodesTool();
ToolSpec SubmitTaskTool();
ToolSpec WaitTaskTool();
ToolSpec TaskLogsTool();
ToolSpec CancelTaskTool();
ToolSpec ExplainTaskTool();
ToolSpec A2ASendTool();
ToolSpec A2AReceiveTool();
ToolSpec EventsSinceTool();

}  // namespace populi::mcp::schema
