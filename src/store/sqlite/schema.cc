#include "store/sqlite/schema.h"

#include <string>
#include <vector>

namespace populi::store::sqlite {
namespace {

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

// Append only. Partial indexes on state keep the hot paths (claim, live lease by scope, claim
// expiry) small as acknowledged history grows.
const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "nodes, messages, exec leases, fencing counters, events, kv", R"sql(
CREATE TABLE nodes (
  id TEXT PRIMARY KEY,
  record_json TEXT NOT NULL,
  state TEXT NOT NULL,
  joined_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  maintenance INTEGER NOT NULL DEFAULT 0,
  maintenance_until_ms INTEGER NOT NULL DEFAULT 0,
  quarantined INTEGER NOT NULL DEFAULT 0,
  schema_version INTEGER NOT NULL
);
CREATE TABLE messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  sender TEXT NOT NULL,
  receiver TEXT NOT NULL,
  message_type TEXT NOT NULL,
  payload TEXT NOT NULL,
  idempotency_key TEXT NOT NULL DEFAULT '',
  privacy_class TEXT NOT NULL,
  priority INTEGER NOT NULL,
  task_kind TEXT NOT NULL DEFAULT '',
  model_id TEXT NOT NULL DEFAULT '',
  traceparent TEXT NOT NULL DEFAULT '',
  payload_blake3_hex TEXT NOT NULL DEFAULT '',
  signature_b64 TEXT NOT NULL DEFAULT '',
  jwe_payload TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  state TEXT NOT NULL,
  claimer_node_id TEXT NOT NULL DEFAULT '',
  claim_expires_ms INTEGER NOT NULL DEFAULT 0,
  delivery_count INTEGER NOT NULL DEFAULT 0,
  acked_ms INTEGER NOT NULL DEFAULT 0,
  finished_ms INTEGER NOT NULL DEFAULT 0,
  schema_version INTEGER NOT NULL
);
CREATE UNIQUE INDEX messages_dedupe ON messages(sender, receiver, idempotency_key)
  WHERE idempotency_key <> '';
CREATE INDEX messages_inbox ON messages(receiver, id);
CREATE INDEX messages_claimable ON messages(receiver, priority DESC, id)
  WHERE state IN ('pending', 'claimed');
CREATE INDEX messages_claim_expiry ON messages(claim_expires_ms) WHERE state = 'claimed';
CREATE INDEX messages_finished ON messages(finished_ms) WHERE state IN ('acked', 'dead_letter');
CREATE TABLE exec_leases (
  lease_id TEXT PRIMARY KEY,
  scope_key TEXT NOT NULL,
  holder_node_id TEXT NOT NULL,
  fencing_token INTEGER NOT NULL,
  state TEXT NOT NULL,
  granted_ms INTEGER NOT NULL,
  renewed_ms INTEGER NOT NULL DEFAULT 0,
  expires_ms INTEGER NOT NULL,
  ended_ms INTEGER NOT NULL DEFAULT 0,
  schema_version INTEGER NOT NULL
);
CREATE UNIQUE INDEX exec_leases_one_live ON exec_leases(scope_key)
  WHERE state IN ('granted', 'renewed');
CREATE INDEX exec_leases_scope ON exec_leases(scope_key, fencing_token);
CREATE INDEX exec_leases_live_expiry ON exec_leases(expires_ms)
  WHERE state IN ('granted', 'renewed');
CREATE INDEX exec_leases_ended ON exec_leases(ended_ms) WHERE ended_ms > 0;
CREATE TABLE fencing_counters (
  scope_key TEXT PRIMARY KEY,
  last_token INTEGER NOT NULL
);
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL DEFAULT '',
  data_json TEXT NOT NULL DEFAULT '{}',
  schema_version INTEGER NOT NULL
);
CREATE INDEX events_ts ON events(ts_ms);
CREATE TABLE kv (
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  schema_version INTEGER NOT NULL,
  PRIMARY KEY (ns, key)
) WITHOUT ROWID;
)sql"},
      // The task body is the wire JSON (mesh/task_json.h); the columns beside it are what the
      // store queries. client_key is NULL when empty so that UNIQUE ignores it.
      {2, "tasks and task logs", R"sql(
CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  client_key TEXT UNIQUE,
  state TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  body TEXT NOT NULL,
  schema_version INTEGER NOT NULL
);
CREATE INDEX tasks_state ON tasks(state, created_ms);
CREATE INDEX tasks_created ON tasks(created_ms);
CREATE INDEX tasks_finished ON tasks(updated_ms)
  WHERE state IN ('succeeded', 'failed', 'cancelled');
CREATE TABLE task_logs (
  task_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  stream TEXT NOT NULL,
  ts_ms INTEGER NOT NULL,
  data BLOB NOT NULL,
  schema_version INTEGER NOT NULL,
  PRIMARY KEY (task_id, seq)
);
)sql"},
      // Claim filters out rows another claimer holds from the index alone: with many claimers on
      // one receiver, the rows they hold no longer cost a table read each.
      {3, "claimable index covers the claim's holder and expiry", R"sql(
DROP INDEX IF EXISTS messages_claimable;
CREATE INDEX messages_claimable
  ON messages(receiver, priority DESC, id, claim_expires_ms, claimer_node_id)
  WHERE state IN ('pending', 'claimed');
)sql"},
      // Acks and claim renewals are fenced by the claim that took the row (docs/api.md).
      {4, "claim token on messages", R"sql(
ALTER TABLE messages ADD COLUMN claim_token TEXT NOT NULL DEFAULT '';
)sql"},
      // The tamper-evident audit log (docs/audit.md): each row carries the hash of the one
      // before; the chain head (seq and hash of the newest row) is kept in kv ("audit", "head").
      // Retention never deletes from it.
      {5, "audit log", R"sql(
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '',
  data_json TEXT NOT NULL DEFAULT '{}',
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  schema_version INTEGER NOT NULL
);
)sql"},
      // Roles one replica at a time holds (the sweeper), each a lease with its own fencing token
      // (WriteTxn::AcquireRole). Rows are never deleted, so a token is never handed out twice.
      {6, "roles", R"sql(
CREATE TABLE roles (
  role TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  fencing_token INTEGER NOT NULL,
  acquired_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL
);
)sql"},
  };
  return kMigrations;
}

}  // namespace

int LatestSchemaVersion() {
  return Migrations().back().version;
}

Result<int> ReadSchemaVersion(Db& db) {
  POPULI_ASSIGN_OR_RETURN(int64_t has_table,
                          db.QueryInt("SELECT count(*) FROM sqlite_master WHERE type='table' AND "
                                      "name='schema_migrations'"));
  if (has_table == 0) return 0;
  POPULI_ASSIGN_OR_RETURN(int64_t version,
                          db.QueryInt("SELECT coalesce(max(version), 0) FROM schema_migrations"));
  return static_cast<int>(version);
}

Status Migrate(Db& db, const std::string& location, int64_t now_ms) {
  POPULI_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  auto fail = [&db](Status status) {
    (void)db.Exec("ROLLBACK");
    return status;
  };
  Status status = db.Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
      "applied_ms INTEGER NOT NULL, description TEXT NOT NULL)");
  if (!status.ok()) return fail(status);
  Result<int> current = ReadSchemaVersion(db);
  if (!current.ok()) return fail(current.status());
  if (*current > LatestSchemaVersion()) {
    return fail(FailedPrecondition(
        "store " + location + " has schema version " + std::to_string(*current) +
            ", newer than this vox supports (" + std::to_string(LatestSchemaVersion()) + ")",
        "run the newer vox that wrote it, or restore the backup taken before the upgrade"));
  }
  for (const Migration& migration : Migrations()) {
    if (migration.version <= *current) continue;
    status = db.Exec(migration.sql);
    if (!status.ok()) {
      return fail(status.WithContext("migration " + std::to_string(migration.version)));
    }
    Result<Stmt> record = db.Prepare(
        "INSERT INTO schema_migrations(version, applied_ms, description) VALUES (?, ?, ?)");
    if (!record.ok()) return fail(record.status());
    status = record->Bind(1, int64_t{migration.version})
                 .Bind(2, now_ms)
                 .Bind(3, migration.description)
                 .Run();
    if (!status.ok()) return fail(status);
  }
  status = db.Exec("COMMIT");
  if (!status.ok()) return fail(status);
  return Status::Ok();
}

}  // namespace populi::store::sqlite
