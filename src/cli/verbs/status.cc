// `vox populi status`: this node as the control plane sees it, and a summary of the mesh.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <ostream>

#include "agent/identity.h"
#include "cli/verb.h"
#include "cli/verbs/mesh_view.h"
#include "client/http_client.h"
#include "config/config.h"
#include "mesh/json.h"
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

// /v1/populi/version, else the version /health reports.
ControlVersion FetchVersion(client::HttpClient& http) {
  ControlVersion v;
  for (const char* path : {"/v1/populi/version", "/health"}) {
    auto response = http.Send("GET", path, {}, {}, 10'000);
    if (!response.ok()) continue;
    auto doc = mesh::ParseJson(response->body);
    if (!doc.ok() || !doc->is_object()) continue;
    const auto& o = doc->as_object();
    if (const auto* version = o.if_contains("version"); version && version->is_string()) {
      v.version = std::string(version->as_string());
    }
    if (const auto* wire = o.if_contains("wire_version"); wire && wire->is_string()) {
      v.wire_version = std::string(wire->as_string());
    }
    if (!v.version.empty()) return v;
  }
  return v;
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

std::string GiB(uint64_t bytes) {
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

int RunStatus(Context& ctx) {
  auto cfg = LoadConfig(ctx);
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  auto url = ResolveControlUrl(ctx, *cfg);
  if (!url.ok()) return ctx.Fail(url.status());
  auto http = ControlClient(*cfg, *url);
  int64_t server_ms = 0, local_ms = 0;
  auto nodes = FetchNodes(*http, &server_ms, &local_ms);
  if (!nodes.ok()) return ctx.Fail(nodes.status());
  const ControlVersion version = FetchVersion(*http);
  const int64_t offset_ms = server_ms - local_ms;
  const std::string id = LocalNodeId(ctx, *cfg);
  const mesh::NodeRecord* self = nullptr;
  for (const auto& n : *nodes) {
    if (!id.empty() && n.id == id) self = &n;
  }
  const MeshSummary mesh_summary = Summarize(*nodes);

  if (ctx.global.json) {
    json::object node;
    node["id"] = id.empty() ? json::value(nullptr) : json::value(id);
    node["joined"] = self != nullptr;
    if (self != nullptr) {
      node["state"] = mesh::ToString(self->state);
      node["last_seen_ms"] = self->last_seen_ms;
      node["gpu_summary"] = GpuSummary(self->gpus);
      node["gpus"] = self->gpus.size();
      node["cpu"] = mesh::ToJson(self->cpu);
      node["probe_failures"] = self->probe_failures.size();
    } else {
      node["hint"] = kJoinHint;
    }
    json::object summary{{"control_url", *url},
                         {"nodes", nodes->size()},
                         {"alive", mesh_summary.alive},
                         {"suspect", mesh_summary.suspect},
                         {"down", mesh_summary.down},
                         {"gpus", mesh_summary.gpus},
                         {"free_vram_bytes", mesh_summary.free_vram_bytes},
                         {"version", version.version},
                         {"wire_version", version.wire_version}};
    *ctx.out << json::serialize(json::object{{"node", std::move(node)},
                                             {"mesh", std::move(summary)},
                                             {"server_time_ms", server_ms},
                                             {"clock_offset_ms", offset_ms}})
             << "\n";
    return ctx.exit_code = kExitOk;
  }

  std::string out = Paint(ctx, Color::kBold, "This node") + "\n";
  if (self == nullptr) {
    out += Line("id", id.empty() ? "none yet (no node identity in " + cfg->data_dir() + ")"
                                 : id + " (not joined)");
    out += Paint(ctx, Color::kYellow, "  this node has not joined the mesh") + "\n";
    out += "  hint: " + std::string(kJoinHint) + "\n";
  } else {
    std::string seen = self->last_seen_ms > 0
                           ? "seen " + RelativeTime(self->last_seen_ms, server_ms)
                           : "never seen";
    out += Line("id", Printable(self->id));
    out += Line("state", Paint(ctx, StateColor(self->state), mesh::ToString(self->state)) + " (" +
                             seen + ")");
    out += Line("GPUs", GpuSummary(self->gpus));
    const auto& c = self->cpu;
    out += Line("CPU", c.cores == 0 && c.model.empty()
                           ? std::string("-")
                           : (c.model.empty() ? std::string("unknown CPU") : Printable(c.model)) +
                                 ": " + std::to_string(c.cores) + " cores / " +
                                 std::to_string(c.threads) + " threads, " +
                                 GiB(c.memory_total_bytes) + " RAM");
    const size_t failures = self->probe_failures.size();
    std::string failed = std::to_string(failures);
    if (failures > 0) {
      failed += " (";
      for (size_t i = 0; i < failures; ++i) {
        failed += (i ? ", " : "") + Printable(self->probe_failures[i].probe);
      }
      failed += "; `vox doctor` shows the hints)";
    }
    out += Line("probe failures", failures > 0 ? Paint(ctx, Color::kYellow, failed) : failed);
  }
  out += "\n" + Paint(ctx, Color::kBold, "Mesh") + "\n";
  std::string states = std::to_string(nodes->size()) + " node" + (nodes->size() == 1 ? "" : "s") +
                       ": " + std::to_string(mesh_summary.alive) + " alive, " +
                       std::to_string(mesh_summary.suspect) + " suspect, " +
                       std::to_string(mesh_summary.down) + " down";
  out += Line("nodes", states);
  out += Line("GPUs", std::to_string(mesh_summary.gpus) + " on alive nodes, " +
                          GiB(mesh_summary.free_vram_bytes) + " VRAM free");
  out +=
      Line("control plane",
           *url +
               (version.version.empty() ? std::string(", version unknown")
                                        : ", version " + Printable(version.version)) +
               (version.wire_version.empty() ? "" : ", wire " + Printable(version.wire_version)));
  out += Line("clock offset", Offset(offset_ms) + " (control plane minus this machine)");
  *ctx.out << out;
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
