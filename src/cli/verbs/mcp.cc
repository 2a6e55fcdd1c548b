// `vox populi mcp`: the Model Context Protocol server over stdio (docs/mcp.md). An agent starts it
// as a child process and writes one JSON-RPC message per line to its stdin; every answer and
// notification is one line on stdout, which carries nothing else (warnings and logs go to
// stderr). The tools talk to the control plane like any client verb: configuration, mesh.token
// and the control URL, through client::ControlPlaneApi.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "agent/identity.h"
#include "cli/build_info.h"
#include "cli/verb.h"
#include "cli/verbs/mesh_view.h"
#include "cli/verbs/task_client.h"
#include "client/control_plane_api.h"
#include "mcp/server.h"

namespace populi::cli {
namespace {

// The tools' backend over the control plane's HTTP API. The HTTP client sends the calling
// thread's trace context (the tool call's) as traceparent.
class ApiBackend : public mcp::Backend {
 public:
  ApiBackend(client::ControlPlaneApi api, std::string node_id)
      : api_(std::move(api)), node_id_(std::move(node_id)) {}

  Result<mesh::NodeList> Nodes() override { return Mapped(api_.Nodes()); }
  Result<mcp::Submitted> Submit(const mesh::TaskSpec& spec) override {
    auto s = api_.Submit(spec);
    if (!s.ok()) return ControlPlaneStatus(s.status());
    return mcp::Submitted{std::move(s->task), s->created};
  }
  Result<mesh::Task> Wait(const std::string& id, int64_t wait_ms) override {
    return Mapped(api_.Wait(id, wait_ms));
  }
  Result<mesh::LogPage> Logs(const std::string& id, int64_t after) override {
    return Mapped(api_.Logs(id, after));
  }
  Result<mesh::Task> Cancel(const std::string& id) override { return Mapped(api_.Cancel(id)); }
  Result<mesh::TaskExplanation> Explain(const std::string& id) override {
    return Mapped(api_.Explain(id));
  }
  Result<mesh::DeliverReply> Deliver(const mesh::NewMessage& message) override {
    return Mapped(api_.Deliver(message));
  }
  Result<mesh::InboxPage> Inbox(const mesh::InboxRequest& request) override {
    return Mapped(api_.Inbox(request));
  }
  Result<mesh::AckReply> Ack(const mesh::AckRequest& request) override {
    return Mapped(api_.Ack(request));
  }
  Result<mesh::EventPage> Events(int64_t after, int limit) override {
    return Mapped(api_.Events(after, limit));
  }
  std::string LocalNodeId() const override { return node_id_; }

 private:
  template <typename T>
  static Result<T> Mapped(Result<T> r) {
    if (!r.ok()) return ControlPlaneStatus(r.status());
    return r;
  }

  client::ControlPlaneApi api_;
  std::string node_id_;
};

// This node's id for the tools (mesh.node_id, else the stored identity's); empty when none.
std::string McpNodeId(const config::Config& cfg) {
  const std::string configured = cfg.GetString("mesh.node_id");
  auto identity = agent::LoadIdentity(cfg.data_dir(), configured);
  if (identity.ok() && *identity) return (*identity)->node_id;
  return configured;
}

int RunMcp(Context& ctx) {
  config::Config cfg;
  auto api = TaskClient(ctx, &cfg);
  if (!api.ok()) return ctx.Fail(api.status());
  ApiBackend backend(std::move(*api), McpNodeId(cfg));
  mcp::Server server(backend, GetBuildInfo().version);
  std::ostream& out = *ctx.out;
  mcp::CallContext call;
  call.notify = [&out](const boost::json::object& n) {
    out << boost::json::serialize(n) << "\n" << std::flush;
  };
  for (std::string line; std::getline(std::cin, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (auto reply = server.HandleText(line, call)) {
      out << boost::json::serialize(*reply) << "\n" << std::flush;
    }
  }
  return ctx.exit_code = kExitOk;  // the client closed stdin: the session is over
}

}  // namespace

void AddMcpVerbs(CLI::App& /*root*/, CLI::App& populi, Context& ctx) {
  auto* verb = populi.add_subcommand(
      "mcp", "Serve the mesh's tools to an AI agent over the Model Context Protocol (stdio)");
  verb->footer(
      "Reads JSON-RPC messages, one per line, on stdin and answers on stdout until stdin closes.\n"
      "Add it to an agent's MCP configuration as the command `vox populi mcp` (docs/mcp.md).\n"
      "Example: vox populi mcp --control-url http://gpu-01:7070");
  AddClientOptions(*verb, ctx);
  verb->callback([&ctx] { RunMcp(ctx); });
}

}  // namespace populi::cli
