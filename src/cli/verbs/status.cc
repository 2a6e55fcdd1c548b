// `vox populi status`: this node as the control plane sees it, and a summary of the mesh.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <ostream>
#include <vector>

#include "agent/identity.h"
#include "cli/verb.h"
#include "cli/verbs/mesh_view.h"
#include "client/control_plane_api.h"
#include "config/config.h"
#include "mesh/json.h"
#include "mesh/replies.h"
#include "mesh/types.h"

namespace populi::cli {

namespace {

namespace json = boost::json;

constexpr const char* kJoinHint =
    "start a control plane here with `vox populi serve`, or join an existing mesh with "
    "`vox populi join URL`";

struct ControlVersion {
  std::string version;  // empty = not known
  std::string wire_version;
};

// /v1/populi/version, else the version /health reports; empty fields when neither answers.
ControlVersion FetchVersion(client::ControlPlaneApi& api) {
  if (auto info = api.Version({.timeout_ms = 10'000}); info.ok() && !info->version.empty()) {
    return {info->version, info->wire_version};
  }
  if (auto health = api.Health({.timeout_ms = 10'000}); health.ok()) return {health->version, ""};
  return {};
}

// This node's id: mesh.node_id, else the stored identity's; empty when it has neither.
std::string LocalNodeId(Context& ctx, const config::Config& cfg) {
  const std::string configured = cfg.GetString("mesh.node_id");
  auto identity = agent::LoadIdentity(cfg.data_dir(), configured);
  if (!identity.ok()) {
    ctx.Warn(identity.status().message(), identity.status().hint());
    return configured;
  }
  if (*identity) return (*identity)->node_id;
  return configured;
}

std::string RamGiB(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f GiB",
                static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

std::string Offset(int64_t ms) {
  char buf[48];
  const char* sign = ms < 0 ? "-" : "+";
  const int64_t magnitude = ms < 0 ? -ms : ms;
  if (magnitude < 1000) {
    std::snprintf(buf, sizeof(buf), "%s%lld ms", sign, static_cast<long long>(magnitude));
  } else {
    std::snprintf(buf, sizeof(buf), "%s%.1f s", sign, static_cast<double>(magnitude) / 1000.0);
  }
  return buf;
}

std::string Line(const std::string& label, const std::string& value) {
  std::string padded = "  " + label;
  if (padded.size() < 18) padded.append(18 - padded.size(), ' ');
  return padded + value + "\n";
}

struct MeshSummary {
  int64_t alive = 0, suspect = 0, down = 0, left = 0;
  int64_t gpus = 0;  // on alive nodes
  uint64_t free_vram_bytes = 0;
};

MeshSummary Summarize(const std::vector<mesh::NodeRecord>& nodes) {
  MeshSummary s;
  for (const auto& n : nodes) {
    switch (n.state) {
      case mesh::NodeState::kAlive:
        s.alive++;
        s.gpus += static_cast<int64_t>(n.gpus.size());
        for (const auto& g : n.gpus) s.free_vram_bytes += GpuFreeBytes(g);
        break;
      case mesh::NodeState::kSuspect:
        s.suspect++;
        break;
      case mesh::NodeState::kDown:
        s.down++;
        break;
      case mesh::NodeState::kLeft:
        s.left++;
        break;
    }
  }
  return s;
}

// What `status` shows, gathered before any of it is printed.
struct StatusView {
  std::string url;
  std::string id;                          // this node's id; empty when it has none
  const mesh::NodeRecord* self = nullptr;  // this node in `nodes`, when it has joined
  std::vector<mesh::NodeRecord> nodes;
  MeshSummary summary;
  ControlVersion version;
  int64_t server_ms = 0;
  int64_t offset_ms = 0;  // control plane minus this machine
};

std::string StatusJson(const StatusView& v) {
  json::object node;
  node["id"] = v.id.empty() ? json::value(nullptr) : json::value(v.id);
  node["joined"] = v.self != nullptr;
  if (v.self != nullptr) {
    node["state"] = mesh::ToString(v.self->state);
    node["last_seen_ms"] = v.self->last_seen_ms;
    node["gpu_summary"] = GpuSummary(v.self->gpus);
    node["gpus"] = v.self->gpus.size();
    node["cpu"] = mesh::ToJson(v.self->cpu);
    node["probe_failures"] = v.self->probe_failures.size();
  } else {
    node["hint"] = kJoinHint;
  }
  json::object summary{{"control_url", v.url},
                       {"nodes", v.nodes.size()},
                       {"alive", v.summary.alive},
                       {"suspect", v.summary.suspect},
                       {"down", v.summary.down},
                       {"gpus", v.summary.gpus},
                       {"free_vram_bytes", v.summary.free_vram_bytes},
                       {"version", v.version.version},
                       {"wire_version", v.version.wire_version}};
  return json::serialize(json::object{{"node", std::move(node)},
                                      {"mesh", std::move(summary)},
                                      {"server_time_ms", v.server_ms},
                                      {"clock_offset_ms", v.offset_ms}});
}

// The "This node" section for a node the control plane knows.
std::string SelfText(const Context& ctx, const mesh::NodeRecord& self, int64_t server_ms) {
  std::string seen =
      self.last_seen_ms > 0 ? "seen " + RelativeTime(self.last_seen_ms, server_ms) : "never seen";
  std::string out = Line("id", Printable(self.id));
  out += Line("state",
              Paint(ctx, StateColor(self.state), mesh::ToString(self.state)) + " (" + seen + ")");
  out += Line("GPUs", GpuSummary(self.gpus));
  const auto& c = self.cpu;
  out +=
      Line("CPU", c.cores == 0 && c.model.empty()
                      ? std::string("-")
                      : (c.model.empty() ? std::string("unknown CPU") : Printable(c.model)) + ": " +
                            std::to_string(c.cores) + " cores / " + std::to_string(c.threads) +
                            " threads, " + RamGiB(c.memory_total_bytes) + " RAM");
  const size_t failures = self.probe_failures.size();
  std::string failed = std::to_string(failures);
  if (failures > 0) {
    failed += " (";
    for (size_t i = 0; i < failures; ++i) {
      failed += (i ? ", " : "") + Printable(self.probe_failures[i].probe);
    }
    failed += "; `vox doctor` shows the hints)";
  }
  out += Line("probe failures", failures > 0 ? Paint(ctx, Color::kYellow, failed) : failed);
  return out;
}

std::string StatusText(const Context& ctx, const StatusView& v, const std::string& data_dir) {
  std::string out = Paint(ctx, Color::kBold, "This node") + "\n";
  if (v.self == nullptr) {
    out += Line("id", v.id.empty() ? "none yet (no node identity in " + data_dir + ")"
                                   : v.id + " (not joined)");
    out += Paint(ctx, Color::kYellow, "  this node has not joined the mesh") + "\n";
    out += "  hint: " + std::string(kJoinHint) + "\n";
  } else {
    out += SelfText(ctx, *v.self, v.server_ms);
  }
  out += "\n" + Paint(ctx, Color::kBold, "Mesh") + "\n";
  const size_t n = v.nodes.size();
  out += Line("nodes", std::to_string(n) + " node" + (n == 1 ? "" : "s") + ": " +
                           std::to_string(v.summary.alive) + " alive, " +
                           std::to_string(v.summary.suspect) + " suspect, " +
                           std::to_string(v.summary.down) + " down");
  out += Line("GPUs", std::to_string(v.summary.gpus) + " on alive nodes, " +
                          RamGiB(v.summary.free_vram_bytes) + " VRAM free");
  out += Line(
      "control plane",
      v.url +
          (v.version.version.empty() ? std::string(", version unknown")
                                     : ", version " + Printable(v.version.version)) +
          (v.version.wire_version.empty() ? "" : ", wire " + Printable(v.version.wire_version)));
  out += Line("clock offset", Offset(v.offset_ms) + " (control plane minus this machine)");
  return out;
}

int RunStatus(Context& ctx) {
  auto cfg = LoadConfig(ctx);
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  auto url = ResolveControlUrl(ctx, *cfg);
  if (!url.ok()) return ctx.Fail(url.status());
  client::ControlPlaneApi api = ControlClient(*cfg, *url);
  StatusView v;
  v.url = *url;
  int64_t local_ms = 0;
  auto nodes = FetchNodes(api, &v.server_ms, &local_ms);
  if (!nodes.ok()) return ctx.Fail(nodes.status());
  v.nodes = std::move(*nodes);
  v.version = FetchVersion(api);
  v.offset_ms = v.server_ms - local_ms;
  v.id = LocalNodeId(ctx, *cfg);
  for (const auto& n : v.nodes) {
    if (!v.id.empty() && n.id == v.id) v.self = &n;
  }
  v.summary = Summarize(v.nodes);
  *ctx.out << (ctx.global.json ? StatusJson(v) + "\n" : StatusText(ctx, v, cfg->data_dir()));
  return ctx.exit_code = kExitOk;
}

}  // namespace

void AddStatusVerbs(CLI::App& /*root*/, CLI::App& populi, Context& ctx) {
  auto* verb = populi.add_subcommand(
      "status", "This node as the control plane sees it, and a summary of the mesh");
  verb->footer("Example: vox populi status --json");
  AddClientOptions(*verb, ctx);
  verb->add_flag("--no-color", ctx.global.no_color, "Never use colour (NO_COLOR is honoured too)");
  verb->callback([&ctx] { RunStatus(ctx); });
}

}  // namespace populi::cli
