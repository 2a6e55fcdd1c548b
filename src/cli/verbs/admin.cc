// `vox populi admin …`: operator actions against the admin routes (docs/api.md), which need a token
// with the admin role: `exec-lease-revoke LEASE`, `maintenance NODE [--off] [--for 1h]`,
// `quarantine NODE [--off]`.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <memory>
#include <ostream>

#include "cli/verb.h"
#include "cli/verbs/task_client.h"
#include "client/control_plane_api.h"
#include "config/config.h"
#include "mesh/json.h"
#include "mesh/types.h"
#include "util/clock.h"
#include "util/units.h"

namespace populi::cli {

namespace json = boost::json;

namespace {

constexpr size_t kLeaseIdChars = 32;

bool IsLowerHex(const std::string& text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return !text.empty();
}

// A full lease id for `given`: itself when it is one, else the one live lease it is a prefix of
// (the `leases` table shows 8 characters).
Result<std::string> ResolveLeaseId(client::ControlPlaneApi& api, const std::string& given) {
  if (given.size() >= kLeaseIdChars || !IsLowerHex(given)) return given;
  auto live = api.Leases();
  if (!live.ok()) return ControlPlaneStatus(live.status());
  std::vector<std::string> matches;
  for (const mesh::ExecLease& lease : live->leases) {
    if (lease.lease_id.rfind(given, 0) == 0) matches.push_back(lease.lease_id);
  }
  if (matches.empty()) {
    return NotFound("no live exec lease id starts with " + given,
                    "list them with `vox populi leases`");
  }
  if (matches.size() > 1) {
    return InvalidArgument(
        std::to_string(matches.size()) + " live exec leases start with " + given,
        "give more characters of the id (`vox populi leases --json` shows whole ids)");
  }
  return matches.front();
}

int RunRevoke(Context& ctx, const std::string& given) {
  auto api = TaskClient(ctx, nullptr);
  if (!api.ok()) return ctx.Fail(api.status());
  auto id = ResolveLeaseId(*api, given);
  if (!id.ok()) return ctx.Fail(id.status());
  auto lease = api->RevokeLease(*id);
  if (!lease.ok()) return ctx.Fail(ControlPlaneStatus(lease.status()));
  if (ctx.global.json) {
    *ctx.out << json::serialize(mesh::ToJson(*lease)) << "\n";
    return ctx.exit_code = kExitOk;
  }
  *ctx.out << "lease " << Printable(lease->lease_id) << " " << mesh::ToString(lease->state)
           << " (scope " << Printable(lease->scope_key) << ", holder "
           << Printable(lease->holder_node_id) << ", token " << lease->fencing_token << ")\n";
  return ctx.exit_code = kExitOk;
}

struct MaintenanceFlags {
  std::string node;
  bool off = false;
  std::string for_text;  // empty = until cleared
};

// Prints the node record an admin route answered with, as `describe` says.
int PrintNode(Context& ctx, const Result<mesh::NodeRecord>& node,
              std::string (*describe)(const mesh::NodeRecord&, int64_t now)) {
  if (!node.ok()) return ctx.Fail(ControlPlaneStatus(node.status()));
  if (ctx.global.json) {
    *ctx.out << json::serialize(mesh::ToJson(*node)) << "\n";
    return ctx.exit_code = kExitOk;
  }
  *ctx.out << "node " << Printable(node->id) << ": "
           << describe(*node, SystemClock::Instance().NowMs()) << "\n";
  return ctx.exit_code = kExitOk;
}

int RunMaintenance(Context& ctx, const MaintenanceFlags& flags) {
  mesh::MaintenanceRequest request{.node_id = flags.node, .on = !flags.off};
  if (!flags.for_text.empty()) {
    if (flags.off) {
      return ctx.FailUsage("--for applies only when turning maintenance on",
                           "drop --for, or drop --off");
    }
    auto for_ms = ParseDurationMs(flags.for_text, BareUnit::kSeconds);
    if (!for_ms.ok()) {
      const Status bad = for_ms.status().WithContext("--for");
      return ctx.FailUsage(bad.message(), bad.hint());
    }
    if (*for_ms <= 0) {
      return ctx.FailUsage("--for must be longer than 0", "e.g. --for 1h, or leave it out");
    }
    request.for_ms = *for_ms;
  }
  auto api = TaskClient(ctx, nullptr);
  if (!api.ok()) return ctx.Fail(api.status());
  return PrintNode(
      ctx, api->Maintenance(request), +[](const mesh::NodeRecord& n, int64_t now) -> std::string {
        if (!n.maintenance) return "maintenance off";
        if (n.maintenance_until_ms > 0) {
          return "maintenance on, ends " + RelativeTime(n.maintenance_until_ms, now);
        }
        return "maintenance on until cleared (vox populi admin maintenance " + Printable(n.id) +
               " --off)";
      });
}

struct QuarantineFlags {
  std::string node;
  bool off = false;
};

int RunQuarantine(Context& ctx, const QuarantineFlags& flags) {
  auto api = TaskClient(ctx, nullptr);
  if (!api.ok()) return ctx.Fail(api.status());
  return PrintNode(
      ctx, api->Quarantine({flags.node, !flags.off}),
      +[](const mesh::NodeRecord& n, int64_t) -> std::string {
        return n.quarantined ? "quarantined: no new work, no lease grants or renewals"
                             : "not quarantined";
      });
}

}  // namespace

void AddAdminVerbs(CLI::App& /*root*/, CLI::App& populi, Context& ctx) {
  auto* admin = populi.add_subcommand(
      "admin", "Operator actions (admin token): maintenance, quarantine, exec-lease revocation");
  admin->require_subcommand(1);
  admin->footer("Example: vox populi admin maintenance gpu-2 --for 1h");

  auto lease_id = std::make_shared<std::string>();
  auto* revoke = admin->add_subcommand(
      "exec-lease-revoke", "Revoke an exec lease; the holder's running attempt is lost");
  revoke->footer("Example: vox populi admin exec-lease-revoke 3f9c2a1b");
  AddClientOptions(*revoke, ctx);
  revoke
      ->add_option("LEASE_ID", *lease_id,
                   "Lease id, or a prefix of one live lease's id (as `leases` shows it)")
      ->required();
  revoke->callback([lease_id, &ctx] { RunRevoke(ctx, *lease_id); });

  auto maintenance_flags = std::make_shared<MaintenanceFlags>();
  auto* maintenance = admin->add_subcommand(
      "maintenance", "Put a node in maintenance (no new work) or take it out with --off");
  maintenance->footer("Example: vox populi admin maintenance gpu-2 --for 1h");
  AddClientOptions(*maintenance, ctx);
  maintenance->add_option("NODE", maintenance_flags->node, "Node id")->required();
  maintenance->add_flag("--off", maintenance_flags->off, "End maintenance");
  maintenance->add_option("--for", maintenance_flags->for_text,
                          "End it by itself after this long (90s, 10m, 2h; default: until --off)");
  maintenance->callback([maintenance_flags, &ctx] { RunMaintenance(ctx, *maintenance_flags); });

  auto quarantine_flags = std::make_shared<QuarantineFlags>();
  auto* quarantine = admin->add_subcommand(
      "quarantine",
      "Quarantine a node (no new work, no lease grants or renewals) or lift it with --off");
  quarantine->footer("Example: vox populi admin quarantine gpu-2");
  AddClientOptions(*quarantine, ctx);
  quarantine->add_option("NODE", quarantine_flags->node, "Node id")->required();
  quarantine->add_flag("--off", quarantine_flags->off, "Lift the quarantine");
  quarantine->callback([quarantine_flags, &ctx] { RunQuarantine(ctx, *quarantine_flags); });
}

}  // namespace populi::cli
