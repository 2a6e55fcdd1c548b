// `vox populi peers`: one row per node the control plane knows, with its liveness, version, GPUs,
// running tasks and live exec leases. Also the control-plane helpers `status` and `doctor` share
// (declared in those files).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>

#include "agent/identity.h"
#include "agent/keyring.h"
#include "cli/verb.h"
#include "cli/verbs/mesh_view.h"
#include "client/control_plane_api.h"
#include "config/config.h"
#include "crypto/ed25519.h"
#include "crypto/fingerprint.h"
#include "mesh/json.h"
#include "mesh/replies.h"
#include "mesh/types.h"
#include "util/clock.h"

namespace populi::cli {

namespace json = boost::json;

// ---- shared with the other client verbs (cli/verbs/mesh_view.h) ----

// A client of the control plane at `url` presenting this node's token (mesh.token, unless
// `with_token` is false) and trusting mesh.tls.ca_path when set.
client::ControlPlaneApi ControlClient(const config::Config& cfg, const std::string& url,
                                      bool with_token) {
  client::ControlPlaneApi api(url, with_token ? cfg.GetString("mesh.token") : std::string());
  if (cfg.IsSet("mesh.tls.ca_path")) api.http().set_tls_ca_file(cfg.GetString("mesh.tls.ca_path"));
  return api;
}

// An unreachable control plane keeps its message and gets the CLI's own hint (exit 3).
Status ControlPlaneStatus(Status status) {
  if (status.code() != Code::kUnavailable && status.code() != Code::kTimeout) return status;
  return Status(status.code(), status.message(),
                "start it with `vox populi serve`, or pass --control-url / set "
                "VOX_MESH_CONTROL_URL to the mesh's control plane");
}

// GET /v1/populi/nodes. `server_time_ms` is the control plane's clock in the reply and
// `local_time_ms` this machine's clock halfway through the request, so their difference is the
// clock offset.
Result<std::vector<mesh::NodeRecord>> FetchNodes(client::ControlPlaneApi& api,
                                                 int64_t* server_time_ms, int64_t* local_time_ms,
                                                 int timeout_ms) {
  const Clock& clock = SystemClock::Instance();
  const int64_t before = clock.NowMs();
  auto list = api.Nodes({.timeout_ms = timeout_ms});
  const int64_t after = clock.NowMs();
  if (!list.ok()) return ControlPlaneStatus(list.status());
  std::vector<mesh::NodeRecord> out = std::move(list->nodes);
  std::sort(out.begin(), out.end(),
            [](const mesh::NodeRecord& a, const mesh::NodeRecord& b) { return a.id < b.id; });
  *server_time_ms = list->server_time_ms;
  *local_time_ms = before + (after - before) / 2;
  return out;
}

// `text` with control characters (escape sequences, newlines) from a remote record replaced by
// '?', so a node's fields cannot move the cursor or break a table row.
std::string Printable(std::string text) {
  for (char& c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = '?';
  }
  return text;
}

// What a GPU offers the mesh: Layer B allocatable memory, else the probed free memory.
uint64_t GpuFreeBytes(const mesh::GpuDevice& gpu) {
  return gpu.memory_allocatable_bytes > 0 ? gpu.memory_allocatable_bytes : gpu.memory_free_bytes;
}

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

std::string RoundedGiB(uint64_t bytes) {
  return std::to_string(static_cast<uint64_t>(std::llround(static_cast<double>(bytes) / kGiB))) +
         "G";
}

bool IsMemorySize(const std::string& token) {
  size_t digits = 0;
  while (digits < token.size() && std::isdigit(static_cast<unsigned char>(token[digits]))) {
    ++digits;
  }
  if (digits == 0) return false;
  const std::string unit = token.substr(digits);
  return unit == "GB" || unit == "G" || unit == "GiB" || unit == "MB" || unit == "TB";
}

// "NVIDIA H100 80GB HBM3" with 80 GiB → "H100 80G": the vendor word and the name's own memory
// size (with what follows it) go; the probed total, rounded to GiB, takes their place.
std::string ShortGpuName(const mesh::GpuDevice& gpu) {
  std::istringstream words(gpu.name);
  std::vector<std::string> kept;
  std::string word;
  bool first = true;
  while (words >> word) {
    std::string lower = word;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const bool vendor = lower == "nvidia" || lower == "amd" || lower == "intel" ||
                        lower == "apple" || lower == "(r)" || lower == "intel(r)";
    if (first && vendor) continue;
    first = false;
    if (IsMemorySize(word)) break;
    // "A100-SXM4-80GB": the size inside one word goes too.
    size_t dash = word.rfind('-');
    if (dash != std::string::npos && dash > 0 && IsMemorySize(word.substr(dash + 1))) {
      word.resize(dash);
    }
    kept.push_back(word);
  }
  std::string name;
  for (const auto& w : kept) name += (name.empty() ? "" : " ") + w;
  if (name.empty()) name = gpu.name.empty() ? "GPU" : gpu.name;
  if (gpu.memory_total_bytes > 0) name += " " + RoundedGiB(gpu.memory_total_bytes);
  return name;
}

}  // namespace

Color StateColor(mesh::NodeState state) {
  switch (state) {
    case mesh::NodeState::kAlive:
      return Color::kGreen;
    case mesh::NodeState::kSuspect:
      return Color::kYellow;
    case mesh::NodeState::kDown:
      return Color::kRed;
    case mesh::NodeState::kLeft:
      return Color::kDim;
  }
  return Color::kDim;
}

// "2× H100 80G (71G free)": identical GPUs grouped, groups joined by ", "; "-" when none.
std::string GpuSummary(const std::vector<mesh::GpuDevice>& gpus) {
  if (gpus.empty()) return "-";
  struct Group {
    size_t count = 0;
    uint64_t free_bytes = 0;
  };
  std::vector<std::string> order;
  std::map<std::string, Group> groups;
  for (const auto& gpu : gpus) {
    const std::string name = ShortGpuName(gpu);
    auto [it, inserted] = groups.try_emplace(name);
    if (inserted) order.push_back(name);
    it->second.count++;
    it->second.free_bytes += GpuFreeBytes(gpu);
  }
  std::string out;
  for (const auto& name : order) {
    const Group& g = groups[name];
    out += (out.empty() ? "" : ", ") + std::to_string(g.count) + "\u00d7 " + Printable(name) +
           " (" + RoundedGiB(g.free_bytes) + " free)";
  }
  return out;
}

namespace {

struct PeersFlags {
  std::string state;  // empty = every state
};

std::string StateText(const mesh::NodeRecord& n) {
  std::string text(mesh::ToString(n.state));
  if (n.maintenance) text += ", maintenance";
  if (n.quarantined) text += ", quarantined";
  return text;
}

// Live exec leases per holder, or nullopt when the control plane would not list them.
std::optional<std::map<std::string, int64_t>> LeasesByHolder(client::ControlPlaneApi& api) {
  auto list = api.Leases(/*live_only=*/true, {.timeout_ms = 10'000});
  if (!list.ok()) return std::nullopt;
  std::map<std::string, int64_t> out;
  for (const mesh::ExecLease& lease : list->leases) out[lease.holder_node_id]++;
  return out;
}

// Which nodes this node (its data directory) is paired with.
struct PairingView {
  std::string self;
  std::set<std::string> paired;
  // "self", "yes" or "no".
  std::string StateOf(const std::string& id) const {
    if (id == self) return "self";
    return paired.count(id) != 0 ? "yes" : "no";
  }
};

PairingView LoadPairingView(const config::Config& cfg) {
  PairingView view;
  auto identity = agent::LoadIdentity(cfg.data_dir(), cfg.GetString("mesh.node_id"));
  if (identity.ok() && *identity) view.self = (*identity)->node_id;
  auto declared = agent::ParseDeclaredPeers(cfg.GetList("mesh.peers.declared"));
  if (auto peers = agent::LoadPeers(cfg.data_dir(),
                                    declared.ok() ? *declared : std::vector<agent::PairedPeer>{});
      peers.ok()) {
    for (const auto& p : *peers) view.paired.insert(p.node_id);
  }
  return view;
}

std::string KeyFingerprintOf(const mesh::NodeRecord& n) {
  auto raw = crypto::FromBase64(n.x25519_pub_key_b64);
  if (!raw.ok()) return "";
  return crypto::KeyFingerprint(reinterpret_cast<const uint8_t*>(raw->data()), raw->size());
}

// "SHA256:abcdefgh… 12d": the key's fingerprint, shortened, and its age.
std::string KeyText(const mesh::NodeRecord& n, int64_t now_ms) {
  if (n.x25519_pub_key_b64.empty()) return "-";
  const std::string fp = KeyFingerprintOf(n);
  const int64_t days = std::max<int64_t>(0, now_ms - n.x25519_key_created_ms) / 86'400'000;
  return fp.substr(0, 15) + " " + std::to_string(days) + "d";
}

int RunPeers(Context& ctx, const PeersFlags& flags) {
  auto cfg = LoadConfig(ctx);
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  auto url = ResolveControlUrl(ctx, *cfg);
  if (!url.ok()) return ctx.Fail(url.status());
  client::ControlPlaneApi api = ControlClient(*cfg, *url, /*with_token=*/true);
  int64_t server_ms = 0, local_ms = 0;
  auto nodes = FetchNodes(api, &server_ms, &local_ms);
  if (!nodes.ok()) return ctx.Fail(nodes.status());
  std::vector<mesh::NodeRecord> shown;
  for (auto& n : *nodes) {
    if (flags.state.empty() || mesh::ToString(n.state) == flags.state) shown.push_back(n);
  }
  const auto leases = LeasesByHolder(api);
  const PairingView pairing = LoadPairingView(*cfg);
  auto lease_count = [&leases](const std::string& id) -> std::optional<int64_t> {
    if (!leases) return std::nullopt;
    auto it = leases->find(id);
    return it == leases->end() ? 0 : it->second;
  };

  if (ctx.global.json) {
    json::array arr;
    for (const auto& n : shown) {
      json::array gpus;
      uint64_t free_bytes = 0;
      for (const auto& g : n.gpus) {
        gpus.push_back(mesh::ToJson(g));
        free_bytes += GpuFreeBytes(g);
      }
      json::object o{{"id", n.id},
                     {"state", mesh::ToString(n.state)},
                     {"last_seen_ms", n.last_seen_ms},
                     {"version", n.version},
                     {"host", n.host},
                     {"gpu_summary", GpuSummary(n.gpus)},
                     {"gpu_free_bytes", free_bytes},
                     {"gpus", std::move(gpus)},
                     {"cpu", mesh::ToJson(n.cpu)},
                     {"tasks", n.running_tasks.size()},
                     {"maintenance", n.maintenance},
                     {"quarantined", n.quarantined}};
      auto count = lease_count(n.id);
      o["leases"] = count ? json::value(*count) : json::value(nullptr);
      o["paired"] = pairing.StateOf(n.id);
      if (!n.x25519_pub_key_b64.empty()) {
        o["key_fingerprint"] = KeyFingerprintOf(n);
        o["key_created_ms"] = n.x25519_key_created_ms;
      }
      arr.push_back(std::move(o));
    }
    *ctx.out << json::serialize(
                    json::object{{"server_time_ms", server_ms}, {"nodes", std::move(arr)}})
             << "\n";
    return ctx.exit_code = kExitOk;
  }

  if (shown.empty()) {
    *ctx.out << (flags.state.empty() ? std::string("no nodes have joined the mesh")
                                     : "no " + flags.state + " nodes")
             << " (" << nodes->size() << " known to " << *url << ")\n";
    return ctx.exit_code = kExitOk;
  }
  const std::vector<std::string> header = {"ID",    "STATE",  "LAST SEEN", "VERSION", "GPUS",
                                           "TASKS", "LEASES", "PAIRED",    "KEY"};
  std::vector<std::vector<std::string>> rows;
  std::vector<Color> colors;
  for (const auto& n : shown) {
    auto count = lease_count(n.id);
    rows.push_back({Printable(n.id), StateText(n),
                    n.last_seen_ms > 0 ? RelativeTime(n.last_seen_ms, server_ms) : "never",
                    n.version.empty() ? "-" : Printable(n.version), GpuSummary(n.gpus),
                    std::to_string(n.running_tasks.size()), count ? std::to_string(*count) : "-",
                    pairing.StateOf(n.id), KeyText(n, server_ms)});
    colors.push_back(StateColor(n.state));
  }
  WritePaged(ctx, RenderColoredTable(ctx, header, rows, 1, colors));
  return ctx.exit_code = kExitOk;
}

}  // namespace

void AddPeersVerbs(CLI::App& /*root*/, CLI::App& populi, Context& ctx) {
  auto flags = std::make_shared<PeersFlags>();
  auto* verb = populi.add_subcommand(
      "peers", "One row per node: state, last seen, version, GPUs, running tasks, exec leases");
  verb->footer("Example: vox populi peers --state down");
  AddClientOptions(*verb, ctx);
  verb->add_option("--state", flags->state, "Only nodes in this state")
      ->check(CLI::IsMember({"alive", "suspect", "down"}));
  verb->add_flag("--no-color", ctx.global.no_color, "Never use colour (NO_COLOR is honoured too)");
  verb->add_flag("--no-pager", ctx.global.no_pager, "Never page long output through $PAGER");
  verb->callback([flags, &ctx] { RunPeers(ctx, *flags); });
}

}  // namespace populi::cli
