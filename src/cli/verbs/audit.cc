// `vox populi audit [--after N] [--limit N]` lists the tamper-evident audit log (admin token);
// `vox populi audit verify` fetches the whole chain and verifies it here (docs/audit.md).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <memory>
#include <ostream>

#include "cli/verb.h"
#include "cli/verbs/task_client.h"
#include "client/control_plane_api.h"
#include "mesh/audit.h"
#include "mesh/audit_json.h"
#include "util/clock.h"

namespace populi::cli {

namespace json = boost::json;

namespace {

constexpr int kAuditPageLimit = 1000;  // the route's largest page

struct AuditListFlags {
  int64_t after = 0;
  int64_t limit = 100;
};

int RunAuditList(Context& ctx, const AuditListFlags& flags) {
  if (flags.after < 0 || flags.limit < 1) {
    return ctx.FailUsage("--after must be 0 or more and --limit at least 1",
                         "e.g. vox populi audit --after 120 --limit 50");
  }
  auto api = TaskClient(ctx, nullptr);
  if (!api.ok()) return ctx.Fail(api.status());
  mesh::AuditPage all;
  int64_t after = flags.after;
  while (static_cast<int64_t>(all.entries.size()) < flags.limit) {
    const int want = static_cast<int>(
        std::min<int64_t>(kAuditPageLimit, flags.limit - static_cast<int64_t>(all.entries.size())));
    auto page = api->Audit(after, want);
    if (!page.ok()) return ctx.Fail(ControlPlaneStatus(page.status()));
    all.head = page->head;
    for (auto& e : page->entries) all.entries.push_back(std::move(e));
    if (static_cast<int>(page->entries.size()) < want || all.entries.empty()) break;
    after = all.entries.back().seq;
  }
  if (ctx.global.json) {
    *ctx.out << json::serialize(mesh::ToJson(all)) << "\n";
    return ctx.exit_code = kExitOk;
  }
  const int64_t now = SystemClock::Instance().NowMs();
  std::vector<std::vector<std::string>> rows;
  for (const mesh::AuditEntry& e : all.entries) {
    rows.push_back({std::to_string(e.seq), RelativeTime(e.ts_ms, now), Printable(e.kind),
                    Printable(e.actor), Printable(e.subject), Printable(e.data_json)});
  }
  std::string text = RenderTable({"SEQ", "WHEN", "KIND", "ACTOR", "SUBJECT", "DATA"}, rows);
  text += all.head ? "head: seq " + std::to_string(all.head->seq) + " hash " + all.head->hash + "\n"
                   : "head: none (empty log)\n";
  WritePaged(ctx, text);
  return ctx.exit_code = kExitOk;
}

int RunAuditVerify(Context& ctx) {
  auto api = TaskClient(ctx, nullptr);
  if (!api.ok()) return ctx.Fail(api.status());
  // Every page is one snapshot; the entries are append-only, so the pages up to a short one plus
  // that page's head are one consistent view of the log.
  std::vector<mesh::AuditEntry> entries;
  std::optional<mesh::AuditHead> head;
  int64_t after = 0;
  while (true) {
    auto page = api->Audit(after, kAuditPageLimit);
    if (!page.ok()) return ctx.Fail(ControlPlaneStatus(page.status()));
    head = page->head;
    const size_t got = page->entries.size();
    for (auto& e : page->entries) entries.push_back(std::move(e));
    if (got < static_cast<size_t>(kAuditPageLimit)) break;
    after = entries.back().seq;
  }
  const mesh::AuditVerdict verdict = mesh::VerifyAuditChain(entries, head);
  if (ctx.global.json) {
    json::object o = mesh::ToJson(verdict);
    if (head) o["head"] = mesh::ToJson(*head);
    *ctx.out << json::serialize(o) << "\n";
    return ctx.exit_code = verdict.ok ? kExitOk : kExitFailure;
  }
  if (!verdict.ok) {
    *ctx.err << "error: audit log damaged: " << mesh::ToString(verdict.damage) << " at position "
             << verdict.position << ": " << verdict.detail << "\n"
             << "hint: compare with a head exported earlier (`vox populi audit --json`) and "
                "restore the store from a backup; docs/audit.md\n";
    return ctx.exit_code = kExitFailure;
  }
  *ctx.out << "audit log intact: " << verdict.entries << " entries";
  if (head) *ctx.out << ", head seq " << head->seq << " hash " << head->hash;
  *ctx.out << "\n";
  return ctx.exit_code = kExitOk;
}

}  // namespace

void AddAuditVerbs(CLI::App& /*root*/, CLI::App& populi, Context& ctx) {
  auto flags = std::make_shared<AuditListFlags>();
  auto* audit = populi.add_subcommand(
      "audit", "List the tamper-evident audit log (admin token); `audit verify` checks its chain");
  audit->footer("Example: vox populi audit --after 120 --limit 50");
  AddClientOptions(*audit, ctx);
  audit->add_option("--after", flags->after, "Only entries with a larger seq (default 0)");
  audit->add_option("--limit", flags->limit, "At most this many entries (default 100)");

  auto* verify = audit->add_subcommand(
      "verify",
      "Fetch the whole audit log and verify its hash chain; exit 1 naming the first bad position");
  verify->footer("Example: vox populi audit verify --json");
  AddClientOptions(*verify, ctx);
  verify->callback([&ctx] { RunAuditVerify(ctx); });
  audit->callback([flags, verify, &ctx] {
    if (verify->parsed()) return;
    RunAuditList(ctx, *flags);
  });
}

}  // namespace populi::cli
