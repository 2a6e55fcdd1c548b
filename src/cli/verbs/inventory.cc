// `vox populi inventory`: the mesh's model inventory (docs/models.md, MESH-108, MESH-170): one
// row per model and node that holds it, with where it comes from, its format, quantisation and
// size, whether that node's copy is fresh or stale, and whether an engine has it loaded.
// --model and --node narrow it; --json prints one JSON object per model per line (the objects
// of GET /v1/populi/models, each with its holders).
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <memory>
#include <ostream>

#include "cli/verb.h"
#include "cli/verbs/mesh_view.h"
#include "client/control_plane_api.h"
#include "mesh/inventory_json.h"
#include "util/units.h"

namespace populi::cli {
namespace {

struct InventoryFlags {
  std::string model;
  std::string node;
};

std::string OrDash(const std::string& text) {
  return text.empty() ? "-" : Printable(text);
}

std::string LoadedCell(const std::optional<bool>& loaded) {
  if (!loaded) return "-";
  return *loaded ? "yes" : "no";
}

int RunInventory(Context& ctx, const InventoryFlags& flags) {
  auto cfg = LoadConfig(ctx);
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  auto url = ResolveControlUrl(ctx, *cfg);
  if (!url.ok()) return ctx.Fail(url.status());
  client::ControlPlaneApi api = ControlClient(*cfg, *url, /*with_token=*/true);
  auto list = api.Models({flags.model, flags.node});
  if (!list.ok()) return ctx.Fail(ControlPlaneStatus(list.status()));
  if (list->models.empty() && !flags.model.empty()) {
    return ctx.Fail(NotFound(
        "no node" + (flags.node.empty() ? std::string() : " named " + flags.node) +
            " holds model " + flags.model,
        "--model takes a model's id or name as `vox populi inventory` lists them; a node that "
        "left or is down for two poll intervals is not listed"));
  }
  if (ctx.global.json) {
    for (const auto& m : list->models) *ctx.out << boost::json::serialize(mesh::ToJson(m)) << "\n";
    return ctx.exit_code = kExitOk;
  }
  if (list->models.empty()) {
    *ctx.out << "no models reported"
             << (flags.node.empty() ? std::string() : " by node " + flags.node) << " (" << *url
             << ")\n";
    return ctx.exit_code = kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<Color> colors;
  for (const auto& m : list->models) {
    const mesh::ModelEntry& e = m.model;
    for (const auto& h : m.nodes) {
      rows.push_back({OrDash(e.name.empty() ? e.id : e.name), Printable(h.node_id),
                      std::string(mesh::ToString(h.source)), OrDash(e.format),
                      OrDash(e.quantization), e.size_bytes > 0 ? FormatBytes(e.size_bytes) : "-",
                      std::string(mesh::ToString(h.state)), LoadedCell(h.loaded)});
      colors.push_back(h.state == mesh::InventoryFreshness::kFresh ? Color::kGreen
                                                                   : Color::kYellow);
    }
  }
  WritePaged(
      ctx, RenderColoredTable(
               ctx, {"MODEL", "NODE", "SOURCE", "FORMAT", "QUANT", "SIZE", "STATE", "LOADED"}, rows,
               6, colors));
  return ctx.exit_code = kExitOk;
}

}  // namespace

void AddInventoryVerbs(CLI::App& /*root*/, CLI::App& populi, Context& ctx) {
  auto flags = std::make_shared<InventoryFlags>();
  auto* verb = populi.add_subcommand(
      "inventory", "Models on the mesh's nodes (on disk or in an engine), and which node has each");
  verb->footer(
      "STATE is fresh when the node is alive and reported within three of its poll intervals, "
      "stale otherwise; a node that left, or is down for two poll intervals, is not listed "
      "(docs/models.md).\n"
      "Example: vox populi inventory --model \"Tiny Llama\" --json");
  AddClientOptions(*verb, ctx);
  verb->add_option("--model", flags->model, "Only this model (its id or its name)");
  verb->add_option("--node", flags->node, "Only the models of this node");
  verb->add_flag("--no-pager", ctx.global.no_pager, "Never page long output through $PAGER");
  verb->callback([flags, &ctx] { RunInventory(ctx, *flags); });
}

}  // namespace populi::cli
