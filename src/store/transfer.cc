#include "store/transfer.h"

#include <cstdint>
#include <map>
#include <string>

namespace populi::store {
namespace {

// The tables Stats() counts on every backend, in its order.
constexpr const char* kCopiedTables[] = {"nodes",     "messages", "exec_leases", "fencing_counters",
                                         "events",    "kv",       "tasks",       "task_logs",
                                         "audit_log", "roles"};

// What a replacing copy keeps in the destination (imports only raise them).
bool KeptOnReplace(const std::string& table) {
  return table == "fencing_counters" || table == "roles";
}

// Writes what the source exports into the destination's transaction, counting rows per table.
class Importer final : public ExportVisitor {
 public:
  explicit Importer(WriteTxn& txn) : txn_(txn) {}
  const std::map<std::string, int64_t>& counts() const { return counts_; }

  Status Role(const RoleLease& role) override { return Count("roles", txn_.ImportRole(role)); }
  Status Node(const mesh::NodeRecord& node) override {
    return Count("nodes", txn_.UpsertNode(node, /*replace_admin_fields=*/true));
  }
  Status Counter(const FencingCounter& counter) override {
    return Count("fencing_counters", txn_.ImportFencingCounter(counter));
  }
  Status Lease(const mesh::ExecLease& lease) override {
    return Count("exec_leases", txn_.ImportLease(lease).status());
  }
  Status Message(const mesh::A2AMessage& message, int64_t finished_ms) override {
    return Count("messages", txn_.ImportMessage(message, finished_ms).status());
  }
  Status Event(const mesh::Event& event) override {
    return Count("events", txn_.ImportEvent(event).status());
  }
  Status Kv(std::string_view ns, std::string_view key, std::string_view value) override {
    return Count("kv", txn_.PutKv(ns, key, value));
  }
  Status Task(const mesh::Task& task) override { return Count("tasks", txn_.PutTask(task)); }
  Status TaskLog(std::string_view task_id, const TaskLogChunk& chunk) override {
    return Count("task_logs", txn_.ImportTaskLog(task_id, chunk).status());
  }
  Status Audit(const mesh::AuditEntry& entry) override {
    return Count("audit_log", txn_.ImportAudit(entry).status());
  }
  Status HighWater(const IdHighWater& marks) override { return txn_.RaiseIdHighWater(marks); }

 private:
  Status Count(const char* table, Status status) {
    if (status.ok()) ++counts_[table];
    return status;
  }

  WriteTxn& txn_;
  std::map<std::string, int64_t> counts_;
};

std::string FailedItems(const CheckReport& report) {
  std::string failed;
  for (const CheckItem& item : report.items) {
    if (!item.ok) failed += (failed.empty() ? "" : "; ") + item.name + ": " + item.detail;
  }
  return failed;
}

Result<std::map<std::string, int64_t>> RowCounts(MeshStore& store) {
  POPULI_ASSIGN_OR_RETURN(StoreStats stats, store.Stats());
  return std::map<std::string, int64_t>(stats.row_counts.begin(), stats.row_counts.end());
}

// Step 1: a source that passes its check, a destination that is empty (or is to be replaced).
Status CheckEnds(MeshStore& from, MeshStore& to, const CopyOptions& options) {
  POPULI_ASSIGN_OR_RETURN(CheckReport source_check, from.Check());
  if (!source_check.ok) {
    return FailedPrecondition("the source store fails its check: " + FailedItems(source_check),
                              "run `vox populi store check` on it and repair it before copying");
  }
  if (options.replace) return Status::Ok();
  POPULI_ASSIGN_OR_RETURN(auto rows, RowCounts(to));
  std::string held;
  for (const auto& [table, n] : rows) {
    if (n > 0) held += (held.empty() ? "" : ", ") + table + " " + std::to_string(n);
  }
  if (held.empty()) return Status::Ok();
  return {Code::kAlreadyExists, "the destination store is not empty (" + held + ")",
          "copy into an empty store, or replace what this one holds"};
}

// Step 3: row counts and the audit chain head against the source.
Status Verify(MeshStore& from, MeshStore& to, const CopyOptions& options,
              const std::map<std::string, int64_t>& exported, CopyReport& report) {
  POPULI_ASSIGN_OR_RETURN(report.check, to.Check());
  POPULI_ASSIGN_OR_RETURN(auto rows, RowCounts(to));
  std::string mismatched;
  for (const char* name : kCopiedTables) {
    const std::string table = name;
    CopiedTable copied{table, 0, 0};
    if (auto it = exported.find(table); it != exported.end()) copied.source = it->second;
    if (auto it = rows.find(table); it != rows.end()) copied.destination = it->second;
    const bool ok = copied.destination == copied.source ||
                    (options.replace && KeptOnReplace(table) && copied.destination > copied.source);
    if (!ok) {
      mismatched += (mismatched.empty() ? "" : "; ") + table + ": source " +
                    std::to_string(copied.source) + ", destination " +
                    std::to_string(copied.destination);
    }
    report.tables.push_back(std::move(copied));
  }
  report.check.items.push_back(
      {"row_counts", mismatched.empty(),
       mismatched.empty() ? "every table holds the rows the source exported" : mismatched});
  POPULI_ASSIGN_OR_RETURN(mesh::AuditPage source_head, from.ListAudit(INT64_MAX, 1));
  POPULI_ASSIGN_OR_RETURN(mesh::AuditPage copied_head, to.ListAudit(INT64_MAX, 1));
  auto describe = [](const std::optional<mesh::AuditHead>& head) {
    return head ? "seq " + std::to_string(head->seq) + " hash " + head->hash.substr(0, 16)
                : std::string("none");
  };
  const bool same_head = source_head.head.has_value() == copied_head.head.has_value() &&
                         (!source_head.head || (source_head.head->seq == copied_head.head->seq &&
                                                source_head.head->hash == copied_head.head->hash));
  report.check.items.push_back({"audit_head", same_head,
                                same_head ? "the source's chain head, " + describe(copied_head.head)
                                          : "source " + describe(source_head.head) +
                                                ", destination " + describe(copied_head.head)});
  for (const CheckItem& item : report.check.items) report.check.ok = report.check.ok && item.ok;
  return Status::Ok();
}

}  // namespace

Result<CopyReport> CopyStore(MeshStore& from, MeshStore& to, const CopyOptions& options) {
  POPULI_RETURN_IF_ERROR(CheckEnds(from, to, options));
  std::map<std::string, int64_t> exported;
  POPULI_RETURN_IF_ERROR(to.Write([&](WriteTxn& txn) -> Status {
    if (options.replace) POPULI_RETURN_IF_ERROR(txn.ClearForRestore());
    Importer importer(txn);
    POPULI_RETURN_IF_ERROR(from.Export(importer));
    exported = importer.counts();
    return Status::Ok();
  }));
  CopyReport report;
  POPULI_RETURN_IF_ERROR(Verify(from, to, options, exported, report));
  return report;
}

Status RefuseHeldRoles(MeshStore& store, std::string_view what, int64_t now_ms) {
  POPULI_ASSIGN_OR_RETURN(std::vector<RoleLease> roles, store.ListRoles());
  for (const RoleLease& role : roles) {
    if (role.expires_ms <= now_ms) continue;
    return FailedPrecondition(
        std::string(what) + " is in use: " + role.holder + " holds its " + role.role +
            " role for another " + std::to_string(role.expires_ms - now_ms) + " ms",
        "stop every `vox populi serve` on it first (a clean stop releases the role; a killed one "
        "lapses within its TTL)");
  }
  return Status::Ok();
}

}  // namespace populi::store
