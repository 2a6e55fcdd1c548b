#include "store/postgres/schema.h"

#include <vector>

namespace populi::store::postgres {
namespace {

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

// Append only. The first version is the SQLite backend's schema as of its version 4, in
// PostgreSQL types; partial indexes keep the hot paths small as history grows.
const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "nodes, messages, exec leases, fencing counters, events, kv, tasks, task logs", R"sql(
CREATE TABLE nodes (
  id TEXT PRIMARY KEY,
  record_json TEXT NOT NULL,
  state TEXT NOT NULL,
  joined_ms BIGINT NOT NULL,
  last_seen_ms BIGINT NOT NULL,
  maintenance BIGINT NOT NULL DEFAULT 0,
  maintenance_until_ms BIGINT NOT NULL DEFAULT 0,
  quarantined BIGINT NOT NULL DEFAULT 0,
  schema_version BIGINT NOT NULL
);
CREATE TABLE messages (
  id BIGSERIAL PRIMARY KEY,
  sender TEXT NOT NULL,
  receiver TEXT NOT NULL,
  message_type TEXT NOT NULL,
  payload TEXT NOT NULL,
  idempotency_key TEXT NOT NULL DEFAULT '',
  privacy_class TEXT NOT NULL,
  priority BIGINT NOT NULL,
  task_kind TEXT NOT NULL DEFAULT '',
  model_id TEXT NOT NULL DEFAULT '',
  traceparent TEXT NOT NULL DEFAULT '',
  payload_blake3_hex TEXT NOT NULL DEFAULT '',
  signature_b64 TEXT NOT NULL DEFAULT '',
  jwe_payload TEXT NOT NULL DEFAULT '',
  created_ms BIGINT NOT NULL,
  state TEXT NOT NULL,
  claimer_node_id TEXT NOT NULL DEFAULT '',
  claim_expires_ms BIGINT NOT NULL DEFAULT 0,
  delivery_count BIGINT NOT NULL DEFAULT 0,
  acked_ms BIGINT NOT NULL DEFAULT 0,
  finished_ms BIGINT NOT NULL DEFAULT 0,
  schema_version BIGINT NOT NULL,
  claim_token TEXT NOT NULL DEFAULT ''
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
  fencing_token BIGINT NOT NULL,
  state TEXT NOT NULL,
  granted_ms BIGINT NOT NULL,
  renewed_ms BIGINT NOT NULL DEFAULT 0,
  expires_ms BIGINT NOT NULL,
  ended_ms BIGINT NOT NULL DEFAULT 0,
  schema_version BIGINT NOT NULL
);
CREATE UNIQUE INDEX exec_leases_one_live ON exec_leases(scope_key)
  WHERE state IN ('granted', 'renewed');
CREATE UNIQUE INDEX exec_leases_token ON exec_leases(scope_key, fencing_token);
CREATE INDEX exec_leases_live_expiry ON exec_leases(expires_ms)
  WHERE state IN ('granted', 'renewed');
CREATE INDEX exec_leases_ended ON exec_leases(ended_ms) WHERE ended_ms > 0;
CREATE TABLE fencing_counters (
  scope_key TEXT PRIMARY KEY,
  last_token BIGINT NOT NULL
);
CREATE TABLE events (
  id BIGSERIAL PRIMARY KEY,
  ts_ms BIGINT NOT NULL,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL DEFAULT '',
  data_json TEXT NOT NULL DEFAULT '{}',
  schema_version BIGINT NOT NULL
);
CREATE INDEX events_ts ON events(ts_ms);
CREATE TABLE kv (
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  schema_version BIGINT NOT NULL,
  PRIMARY KEY (ns, key)
);
CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  client_key TEXT UNIQUE,
  state TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL,
  body TEXT NOT NULL,
  schema_version BIGINT NOT NULL
);
CREATE INDEX tasks_state ON tasks(state, created_ms);
CREATE INDEX tasks_created ON tasks(created_ms);
CREATE INDEX tasks_finished ON tasks(updated_ms)
  WHERE state IN ('succeeded', 'failed', 'cancelled');
CREATE TABLE task_logs (
  task_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  attempt BIGINT NOT NULL,
  stream TEXT NOT NULL,
  ts_ms BIGINT NOT NULL,
  data BYTEA NOT NULL,
  schema_version BIGINT NOT NULL,
  PRIMARY KEY (task_id, seq)
);
)sql"},
      // The tamper-evident audit log (docs/audit.md), as SQLite's migration 5: each row carries
      // the hash of the one before; the head is kept in kv ("audit", "head").
      {2, "audit log", R"sql(
CREATE TABLE audit_log (
  seq BIGINT PRIMARY KEY,
  ts_ms BIGINT NOT NULL,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '',
  data_json TEXT NOT NULL DEFAULT '{}',
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  schema_version BIGINT NOT NULL
);
)sql"},
      // As SQLite's migration 6: roles one replica at a time holds (the sweeper), each a lease
      // with its own fencing token. Rows are never deleted, so a token is never handed out twice.
      {3, "roles", R"sql(
CREATE TABLE roles (
  role TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  fencing_token BIGINT NOT NULL,
  acquired_ms BIGINT NOT NULL,
  expires_ms BIGINT NOT NULL
);
)sql"},
  };
  return kMigrations;
}

}  // namespace

int LatestSchemaVersion() {
  return Migrations().back().version;
}

Result<int> ReadSchemaVersion(Conn& conn) {
  POPULI_ASSIGN_OR_RETURN(
      int64_t has_table,
      conn.QueryInt("SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                    "current_schema() AND table_name = 'schema_migrations'"));
  if (has_table == 0) return 0;
  POPULI_ASSIGN_OR_RETURN(int64_t version,
                          conn.QueryInt("SELECT coalesce(max(version), 0) FROM schema_migrations"));
  return static_cast<int>(version);
}

Status Migrate(Conn& conn, const std::string& schema, const std::string& location, int64_t now_ms) {
  POPULI_RETURN_IF_ERROR(conn.Exec("BEGIN"));
  auto fail = [&conn](Status status) {
    (void)conn.Exec("ROLLBACK");
    return status;
  };
  // Held until COMMIT: a second replica opening now waits here, then finds the work done.
  POPULI_ASSIGN_OR_RETURN(Stmt lock,
                          conn.Prepare("SELECT pg_advisory_xact_lock(hashtext('populi.migrate.' "
                                       "|| ?))::text"));
  lock.Bind(1, schema);
  Status status = lock.Run();
  if (status.ok()) status = conn.Exec("CREATE SCHEMA IF NOT EXISTS " + QuoteIdent(schema));
  if (status.ok()) {
    status = conn.Exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
        "applied_ms BIGINT NOT NULL, description TEXT NOT NULL)");
  }
  if (!status.ok()) return fail(status.WithContext("migrate " + location));
  Result<int> current = ReadSchemaVersion(conn);
  if (!current.ok()) return fail(current.status());
  if (*current > LatestSchemaVersion()) {
    return fail(FailedPrecondition(
        "store " + location + " has schema version " + std::to_string(*current) +
            ", newer than this vox supports (" + std::to_string(LatestSchemaVersion()) + ")",
        "run the newer vox that wrote it"));
  }
  for (const Migration& migration : Migrations()) {
    if (migration.version <= *current) continue;
    status = conn.Exec(migration.sql);
    if (!status.ok()) {
      return fail(status.WithContext("migration " + std::to_string(migration.version)));
    }
    POPULI_ASSIGN_OR_RETURN(
        Stmt record,
        conn.Prepare(
            "INSERT INTO schema_migrations(version, applied_ms, description) VALUES (?, ?, ?)"));
    record.Bind(1, int64_t{migration.version}).Bind(2, now_ms).Bind(3, migration.description);
    status = record.Run();
    if (!status.ok()) return fail(status);
  }
  status = conn.Exec("COMMIT");
  if (!status.ok()) return fail(status);
  return Status::Ok();
}

}  // namespace populi::store::postgres
