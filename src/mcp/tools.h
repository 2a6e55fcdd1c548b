// The mesh as Model Context Protocol tools (docs/mcp.md): each tool's name, the description an
// agent reads to decide when to use it, its input and output JSON Schemas, its annotations, and
// the access it needs. CallTool runs one against a Backend and returns the CallToolResult:
// structuredContent (valid against the output schema) plus the same as a text block, or, when the
// mesh refused or failed, isError with the error's code, message and hint as text.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "mcp/backend.h"

namespace populi::mcp {

// What a tool needs of the caller's credential (docs/api.md's role table):
//   kRead      every role;
//   kSubmit    submitter, worker, mesh, admin (submit and cancel tasks, deliver messages);
//   kNodePlane worker, mesh, admin (claim and acknowledge a node's messages).
enum class Access { kRead, kSubmit, kNodePlane };

struct ToolSpec {
  std::string name;
  std::string title;
  std::string description;
  Access access = Access::kRead;
  bool read_only = true;
  bool destructive = false;
  bool idempotent = true;
  boost::json::object input_schema;
  boost::json::object output_schema;
  boost::json::object example;  // an input that validates against input_schema
};

// Every tool, in a stable order.
const std::vector<ToolSpec>& Tools();
const ToolSpec* FindTool(std::string_view name);
// The tool as tools/list shows it: name, title, description, inputSchema, outputSchema,
// annotations.
boost::json::object ToolListEntry(const ToolSpec& tool);

// Long tools (wait_task) report how far they are: `progress` of `total`, and a one-line message.
using ProgressFn = std::function<void(double progress, double total, const std::string& message)>;

// Runs `tool` with `arguments`: the tools/call result. The call's trace context is the
// `traceparent` argument when given (kInvalidArgument when malformed), else the context current on
// this thread (the HTTP transport's request), else a new root; it is current on this thread while
// the backend runs and is returned as `traceparent`.
boost::json::object CallTool(Backend& backend, const ToolSpec& tool,
                             const boost::json::object& arguments, const ProgressFn& progress);

// Limits of wait_task's wait, in milliseconds.
inline constexpr int64_t kDefaultWaitMs = 30'000;
inline constexpr int64_t kMaxWaitMs = 120'000;

}  // namespace populi::mcp
