// `vox populi chat -m MODEL "prompt"`: one chat completion through the mesh's OpenAI-compatible
// front door (docs/inference.md), from any box: the answer's tokens go to stdout as they arrive,
// and the node that served it to stderr.
#include <CLI/CLI.hpp>
#include <memory>
#include <ostream>

#include "cli/verb.h"
#include "cli/verbs/mesh_view.h"
#include "client/control_plane_api.h"
#include "mesh/inference_json.h"

namespace populi::cli {
namespace {

struct ChatFlags {
  std::string model;
  std::string prompt;
  std::string system;
  bool no_stream = false;
};

int RunChat(Context& ctx, const ChatFlags& flags) {
  auto cfg = LoadConfig(ctx);
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  auto url = ResolveControlUrl(ctx, *cfg);
  if (!url.ok()) return ctx.Fail(url.status());
  client::ControlPlaneApi api = ControlClient(*cfg, *url, /*with_token=*/true);
  const std::string body =
      mesh::OpenAiChatBody(flags.model, flags.system, flags.prompt, !flags.no_stream);
  std::string broke;
  auto head = api.http().SendForEvents(
      "POST", "/v1/chat/completions", body,
      [&](const client::SseEvent& e) {
        if (e.data == "[DONE]") return false;
        if (std::string m = mesh::OpenAiErrorMessage(e.data); !m.empty()) {
          broke = m;
          return false;
        }
        *ctx.out << mesh::OpenAiEventText(e.data) << std::flush;
        return true;
      },
      0);
  if (!head.ok()) return ctx.Fail(ControlPlaneStatus(head.status()));
  if (Status s = client::HttpClient::StatusFromResponse(*head, *url); !s.ok()) {
    std::string m = mesh::OpenAiErrorMessage(head->body);
    return ctx.Fail(ControlPlaneStatus(Status(s.code(), m.empty() ? s.message() : m,
                                              "`vox populi inventory` lists the models and "
                                              "the nodes that hold them")));
  }
  if (flags.no_stream) *ctx.out << mesh::OpenAiAnswerText(head->body);
  *ctx.out << "\n";
  if (!head->Header("x-populi-node").empty())
    *ctx.err << "served by node " << head->Header("x-populi-node") << "\n";
  if (!broke.empty()) {
    return ctx.Fail(
        Unavailable("the answer broke off: " + broke, "try again; another node may serve it"));
  }
  return ctx.exit_code = kExitOk;
}

}  // namespace

void AddChatVerbs(CLI::App& /*root*/, CLI::App& populi, Context& ctx) {
  auto flags = std::make_shared<ChatFlags>();
  auto* verb = populi.add_subcommand(
      "chat", "Ask a model on the mesh (the OpenAI-compatible front door) and stream its answer");
  verb->footer(
      "The control plane routes the request to a node whose engine serves the model "
      "(docs/inference.md).\nExample: vox populi chat -m llama-3.2-1b \"Why is the sky blue?\"");
  AddClientOptions(*verb, ctx);
  verb->add_option("-m,--model", flags->model, "The model, as GET /v1/models lists it")->required();
  verb->add_option("prompt", flags->prompt, "The user message")->required();
  verb->add_option("--system", flags->system, "A system message before it");
  verb->add_flag("--no-stream", flags->no_stream, "Wait for the whole answer instead");
  verb->callback([flags, &ctx] { RunChat(ctx, *flags); });
}

}  // namespace populi::cli
