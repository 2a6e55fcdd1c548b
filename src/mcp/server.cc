#include "mcp/server.h"

#include <array>

#include <boost/json.hpp>

namespace populi::mcp {
namespace json = boost::json;
namespace {

constexpr std::array<std::string_view, 3> kVersions = {"2025-06-18", "2025-03-26", "2024-11-05"};

constexpr std::string_view kInstructions =
    "Populi is a compute mesh. Start with mesh_status or list_nodes, run commands with "
    "submit_task, then wait_task and task_logs; explain_task says why a task waits or where it "
    "ran. Errors are tool results with a code, a message and a hint saying what to do next.";

bool Allowed(const CallContext& ctx, Access access) {
  return !ctx.allowed || ctx.allowed(access);
}

}  // namespace

std::span<const std::string_view> SupportedProtocolVersions() {
  return kVersions;
}

bool IsSupportedVersion(std::string_view version) {
  for (std::string_view v : kVersions) {
    if (v == version) return true;
  }
  return false;
}

std::string_view NegotiateVersion(std::string_view requested) {
  return IsSupportedVersion(requested) ? requested : kLatestProtocolVersion;
}

Server::Server(Backend& backend, std::string version)
    : backend_(backend), version_(std::move(version)) {}

std::optional<json::object> Server::HandleText(std::string_view text, const CallContext& ctx) {
  auto parsed = ParseMessage(text);
  if (auto* error = std::get_if<json::object>(&parsed)) return std::move(*error);
  return Handle(std::get<Incoming>(parsed), ctx);
}

std::optional<json::object> Server::Handle(const Incoming& message, const CallContext& ctx) {
  if (message.kind != Incoming::Kind::kRequest) return std::nullopt;  // nothing to answer
  const std::string& m = message.method;
  if (m == "initialize") return MakeResult(message.id, Initialize(message.params));
  if (m == "ping") return MakeResult(message.id, json::object{});
  if (m == "tools/list") return MakeResult(message.id, ListTools(ctx));
  if (m == "tools/call") return CallToolRequest(message, ctx);
  return MakeError(message.id, kMethodNotFound, "Method not found: " + m);
}

json::object Server::Initialize(const json::object& params) const {
  std::string_view requested;
  if (const json::value* v = params.if_contains("protocolVersion"); v && v->is_string()) {
    requested = v->as_string();
  }
  return {{"protocolVersion", NegotiateVersion(requested)},
          {"capabilities", {{"tools", {{"listChanged", false}}}}},
          {"serverInfo", {{"name", "populi"}, {"title", "Populi mesh"}, {"version", version_}}},
          {"instructions", kInstructions}};
}

json::object Server::ListTools(const CallContext& ctx) const {
  json::array tools;
  for (const ToolSpec& t : Tools()) {
    if (Allowed(ctx, t.access)) tools.push_back(ToolListEntry(t));
  }
  return {{"tools", std::move(tools)}};
}

json::object Server::CallToolRequest(const Incoming& message, const CallContext& ctx) {
  const json::value* name = message.params.if_contains("name");
  if (!name || !name->is_string()) {
    return MakeError(message.id, kInvalidParams, "Invalid params: tools/call needs a name");
  }
  const ToolSpec* tool = FindTool(name->as_string());
  if (!tool || !Allowed(ctx, tool->access)) {
    return MakeError(message.id, kInvalidParams,
                     "Unknown tool: " + std::string(name->as_string()) +
                         (tool ? " (not open to this credential's role)" : ""));
  }
  json::object arguments;
  if (const json::value* a = message.params.if_contains("arguments"); a && !a->is_null()) {
    if (!a->is_object()) {
      return MakeError(message.id, kInvalidParams, "Invalid params: arguments must be an object");
    }
    arguments = a->as_object();
  }
  // Progress notifications, when the request asked for them (params._meta.progressToken).
  ProgressFn progress;
  const json::value* meta = message.params.if_contains("_meta");
  const json::value* token =
      meta && meta->is_object() ? meta->as_object().if_contains("progressToken") : nullptr;
  if (token && (token->is_string() || token->is_int64() || token->is_uint64()) && ctx.notify) {
    json::value progress_token = *token;
    progress = [&ctx, progress_token](double done, double total, const std::string& text) {
      ctx.notify(MakeNotification("notifications/progress", {{"progressToken", progress_token},
                                                             {"progress", done},
                                                             {"total", total},
                                                             {"message", text}}));
    };
  }
  return MakeResult(message.id, CallTool(backend_, *tool, arguments, progress));
}

}  // namespace populi::mcp
