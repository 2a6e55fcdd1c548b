// MeshStore: the only way control-plane state is read or written.
//
// Contract (every backend; tests/store/conformance_test.cc checks it):
//  * A write that returned ok is durable (fsync'd) unless the store was opened with
//    Durability::kBuffered.
//  * Writes run through Write(): the function runs inside one transaction on the backend's
//    writer; if it returns a non-ok Status everything it did is rolled back. Backends may commit
//    many concurrent Write() calls in one physical transaction (group commit); each caller is
//    completed only after that transaction committed.
//  * Reads never wait for the writer and see only committed state.
//  * All times are passed in by the caller (the control plane's clock); the store never reads a
//    clock, so tests drive expiry by hand.
//  * Errors: kStoreFull when the disk/database is full, kStoreIo on an I/O failure; a failed write
//    never loses anything committed before it.
//  Nothing here is SQLite-specific: a PostgreSQL backend implements the same interface.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/audit.h"
#include "mesh/task.h"
#include "mesh/types.h"
#include "store/topic_channel.h"
#include "util/status.h"

namespace populi::store {

enum class Durability { kFull, kBuffered };

struct DeliverResult {
  int64_t message_id = 0;
  bool duplicate = false;  // an earlier delivery with the same (sender, receiver, key) exists
};

struct InboxQuery {
  std::string receiver;
  int64_t before_id = 0;  // cursor: only ids < before_id (0 = from the newest)
  int limit = 64;
  bool include_acked = false;
};

struct ClaimRequest {
  std::string receiver;
  std::string claimer_node_id;
  int max_messages = 1;
  int64_t lease_ms = 120'000;
  int64_t now_ms = 0;
  int max_deliveries = 10;  // a claim beyond this dead-letters the row instead
  // Optional policy filter (privacy class vs the claimer's visibility/trust); rows it rejects
  // are skipped, not claimed. Runs on the writer: keep it cheap and non-blocking.
  std::function<bool(const mesh::A2AMessage&)> eligible;
};

struct SweepResult {
  int requeued = 0;
  int dead_lettered = 0;
  std::vector<std::string> receivers;  // inboxes that got a requeued row (to wake their pollers)
};

struct RetentionResult {
  int64_t messages_deleted = 0;
  int64_t leases_deleted = 0;
  int64_t events_deleted = 0;
  int64_t tasks_deleted = 0;      // terminal tasks
  int64_t task_logs_deleted = 0;  // the log chunks of those tasks
};

struct TaskQuery {
  std::string state;  // "" = any; otherwise a mesh::TaskState name
  int limit = 100;
  bool active_only = false;  // non-terminal (pending, placed, running) only
};

// One stored piece of a task's output.
struct TaskLogChunk {
  int64_t seq = 0;  // 1, 2, … per task, in append order
  int32_t attempt = 0;
  std::string stream;  // stdout | stderr | system
  std::string data;    // bytes as the process wrote them (not necessarily UTF-8)
  int64_t ts_ms = 0;
};

struct StoreStats {
  std::string backend;   // "sqlite"
  std::string location;  // path or connection string (no password)
  int schema_version = 0;
  int64_t size_bytes = 0;
  std::vector<std::pair<std::string, int64_t>> row_counts;  // table → rows
};

// A role that one replica at a time holds (the sweeper): a lease in the database with its own
// fencing token. The token is strictly greater for every new holder (and for the same holder
// re-acquiring after its lease lapsed), so writes fenced by it refuse a holder that lost the role.
struct RoleLease {
  std::string role;
  std::string holder;
  int64_t fencing_token = 0;
  int64_t acquired_ms = 0;  // when this holder took it (renewals keep it)
  int64_t expires_ms = 0;
};

// The last fencing token issued on a scope (restore path: exported and imported as is).
struct FencingCounter {
  std::string scope_key;
  int64_t last_token = 0;
};

// The highest message and event ids a store ever handed out, rows retention deleted since
// included. A restore raises the destination's id sequences to them, so no id is issued twice.
struct IdHighWater {
  int64_t message_id = 0;
  int64_t event_id = 0;
};

// Receives every record of a store (MeshStore::Export), in this order: roles, nodes, fencing
// counters, exec leases, messages (ascending id), events (ascending id), kv, tasks, task log
// chunks (after every task), audit entries (ascending seq), and last the id high-water marks. A
// non-ok Status stops the export and is returned by it.
class ExportVisitor {
 public:
  virtual ~ExportVisitor() = default;
  virtual Status Role(const RoleLease& role) = 0;
  virtual Status Node(const mesh::NodeRecord& node) = 0;
  virtual Status Counter(const FencingCounter& counter) = 0;
  virtual Status Lease(const mesh::ExecLease& lease) = 0;
  // `finished_ms`: when the message was acked or dead-lettered (what retention counts from).
  virtual Status Message(const mesh::A2AMessage& message, int64_t finished_ms) = 0;
  virtual Status Event(const mesh::Event& event) = 0;
  virtual Status Kv(std::string_view ns, std::string_view key, std::string_view value) = 0;
  virtual Status Task(const mesh::Task& task) = 0;
  virtual Status TaskLog(std::string_view task_id, const TaskLogChunk& chunk) = 0;
  virtual Status Audit(const mesh::AuditEntry& entry) = 0;
  virtual Status HighWater(const IdHighWater& marks) = 0;
};

// One invariant checked by Check(); ok=false rows make the report fail.
struct CheckItem {
  std::string name;  // "integrity_check", "one_row_per_dedupe_key", ...
  bool ok = true;
  std::string detail;
};

struct CheckReport {
  bool ok = true;
  int schema_version = 0;
  std::vector<CheckItem> items;
};

// The write side, valid only inside Write(). Methods fail with kInvalidArgument, kNotFound,
// kConflict (held by another holder / wrong fencing token) or kFailedPrecondition (illegal lease
// transition) as documented; any failure the caller returns rolls the whole function back.
class WriteTxn {
 public:
  virtual ~WriteTxn() = default;

  // Nodes. Upsert keeps control-plane owned fields (maintenance, quarantine, joined_ms) of an
  // existing row unless `replace_admin_fields`.
  virtual Status UpsertNode(const mesh::NodeRecord& node, bool replace_admin_fields = false) = 0;
  virtual Status RemoveNode(std::string_view node_id) = 0;  // kNotFound
  virtual Status TouchNode(std::string_view node_id, int64_t last_seen_ms) = 0;
  virtual Status SetNodeState(std::string_view node_id, mesh::NodeState state) = 0;
  virtual Status SetMaintenance(std::string_view node_id, bool on, int64_t until_ms) = 0;
  virtual Status SetQuarantine(std::string_view node_id, bool on) = 0;

  // A2A. Deliver is idempotent on (sender, receiver, idempotency_key) for as long as the row is
  // retained, pending or acknowledged.
  virtual Result<DeliverResult> Deliver(const mesh::NewMessage& msg, int64_t now_ms) = 0;
  // Claims up to max_messages rows: highest priority first, oldest first within a priority;
  // skips rows under a live claim by anyone else; re-claim by the same claimer refreshes. Each
  // call mints one new claim_token, set on every row it returns (a re-claim replaces the old
  // token, fencing off an earlier incarnation of the same claimer).
  virtual Result<std::vector<mesh::A2AMessage>> Claim(const ClaimRequest& req) = 0;
  // kNotFound: no such pending row; kConflict: claimed by someone else, under another token, or
  // the claim lapsed.
  virtual Status RenewClaim(std::string_view receiver, int64_t message_id, std::string_view claimer,
                            std::string_view claim_token, int64_t lease_ms, int64_t now_ms) = 0;
  // Acks the listed ids of `receiver` that `claim_token` may end: a claimed row only under its
  // current token, an unclaimed pending row only with an empty token. Returns the ids acked now
  // or already; `fenced`, when given, receives the ids refused for their token. A batch ack
  // ignores unknown ids; a single-id ack answers kNotFound, or kConflict when fenced.
  virtual Result<std::vector<int64_t>> Ack(std::string_view receiver,
                                           const std::vector<int64_t>& ids,
                                           std::string_view claim_token, int64_t now_ms,
                                           std::vector<int64_t>* fenced = nullptr) = 0;
  // Lapsed claims return to pending (or dead_letter past max_deliveries).
  virtual Result<SweepResult> SweepExpiredClaims(int64_t now_ms, int max_deliveries) = 0;

  // Exec leases. Grant: kConflict if another holder has a live lease on scope_key; the same
  // holder gets its live lease renewed (same id, same token). A new lease's fencing token is
  // strictly greater than every earlier token for that scope_key.
  virtual Result<mesh::ExecLease> GrantLease(std::string_view scope_key, std::string_view holder,
                                             int64_t ttl_ms, int64_t now_ms) = 0;
  virtual Result<mesh::ExecLease> RenewLease(std::string_view lease_id, std::string_view holder,
                                             int64_t ttl_ms, int64_t now_ms) = 0;
  virtual Result<mesh::ExecLease> ReleaseLease(std::string_view lease_id, std::string_view holder,
                                               int64_t now_ms) = 0;
  // Only the current holder with the current fencing token may complete.
  virtual Result<mesh::ExecLease> CompleteLease(std::string_view lease_id, std::string_view holder,
                                                int64_t fencing_token, int64_t now_ms) = 0;
  virtual Result<mesh::ExecLease> RevokeLease(std::string_view lease_id, int64_t now_ms) = 0;
  // Live leases whose expiry passed become kExpired; returns them.
  virtual Result<std::vector<mesh::ExecLease>> ExpireLeases(int64_t now_ms) = 0;

  // Restore path (legacy import, store copies): inserts the record verbatim unless a record with
  // the same id exists; returns whether it was inserted. ImportMessage keeps the message id (later
  // Deliver ids continue above it) and, for a claimed row, its claimer, expiry and claim token;
  // `finished_ms` 0 takes the later of acked_ms and created_ms for a finished row. ImportLease
  // assigns the next fencing token of its scope when fencing_token is 0, and raises the scope's
  // counter to at least the lease's token; kConflict if it is live and another live lease holds
  // its scope.
  virtual Result<bool> ImportMessage(const mesh::A2AMessage& msg, int64_t finished_ms = 0) = 0;
  virtual Result<bool> ImportLease(const mesh::ExecLease& lease) = 0;
  // Raises the scope's counter to at least counter.last_token (never lowers it).
  virtual Status ImportFencingCounter(const FencingCounter& counter) = 0;
  // Keeps the event id (later AppendEvent ids continue above it). kInvalidArgument for an id < 1
  // or an empty kind.
  virtual Result<bool> ImportEvent(const mesh::Event& event) = 0;
  // Keeps the chunk's seq; kNotFound for an unknown task, kInvalidArgument for a seq < 1 or an
  // unknown stream.
  virtual Result<bool> ImportTaskLog(std::string_view task_id, const TaskLogChunk& chunk) = 0;
  // The entry as it is (its hashes are not recomputed; the chain head is kv and imported as kv).
  virtual Result<bool> ImportAudit(const mesh::AuditEntry& entry) = 0;
  // Inserts the role's row, or replaces an existing one whose fencing token is lower: a role's
  // token never goes down. kInvalidArgument for an empty role.
  virtual Status ImportRole(const RoleLease& role) = 0;
  // Raises the message and event id sequences so that the next ids are above `marks`. On
  // PostgreSQL a sequence moved here (or by ImportMessage / ImportEvent) stays moved when the
  // transaction rolls back: ids are skipped then, never issued twice.
  virtual Status RaiseIdHighWater(const IdHighWater& marks) = 0;
  // Deletes every node, message, lease, event, kv entry, task, task log chunk and audit entry, so
  // a restore can replace the store's contents. Fencing counters, roles and the id sequences are
  // kept (imports only raise them), so no token or id issued here is issued again.
  virtual Status ClearForRestore() = 0;

  // Roles (one holder across every replica on the store). AcquireRole takes `role` when it is
  // free or its lease expired at now_ms (a new, strictly greater fencing token), or renews it for
  // its current holder (same token, expiry moved to now_ms + ttl_ms); kConflict while another
  // holder's lease is live. CheckRole fails with kConflict unless `holder` holds `role` under
  // `fencing_token` (whether or not its expiry passed: nobody else took it); on PostgreSQL it
  // also locks the role's row to the end of the transaction, so a takeover waits for the writes
  // it fences. ReleaseRole ends the holder's lease at now_ms (a takeover may follow at once);
  // kConflict for a stale holder or token. kInvalidArgument for an empty role or holder, or a
  // ttl_ms < 1.
  virtual Result<RoleLease> AcquireRole(std::string_view role, std::string_view holder,
                                        int64_t ttl_ms, int64_t now_ms) = 0;
  virtual Status CheckRole(std::string_view role, std::string_view holder,
                           int64_t fencing_token) = 0;
  virtual Status ReleaseRole(std::string_view role, std::string_view holder, int64_t fencing_token,
                             int64_t now_ms) = 0;
  // Serializes placement decisions across every replica on the store until the transaction
  // ends (PostgreSQL: a transaction-scoped advisory lock; SQLite: its single writer already
  // does). Take it before reading what a placement decision depends on.
  virtual Status LockPlacement() = 0;

  // Events and key-value state (pairing, bootstrap tokens, JWT jti guard, audit chain head).
  virtual Result<int64_t> AppendEvent(const mesh::Event& event) = 0;
  virtual Status PutKv(std::string_view ns, std::string_view key, std::string_view value) = 0;
  virtual Status DeleteKv(std::string_view ns, std::string_view key) = 0;
  // Reads inside the transaction see its own uncommitted writes.
  virtual Result<std::optional<std::string>> GetKv(std::string_view ns, std::string_view key) = 0;
  virtual Result<std::optional<mesh::NodeRecord>> GetNode(std::string_view node_id) = 0;
  virtual Result<std::optional<mesh::ExecLease>> GetLease(std::string_view lease_id) = 0;

  // Audit log (mesh/audit.h, docs/audit.md). Chains `record` to the newest entry and moves the
  // chain head, in this transaction: the entry commits or rolls back with the action it records.
  // Entries are chained in commit order, since the backend's single writer runs every write
  // function. When the stored head does not name the newest entry (the log was tampered with),
  // an `audit.head_mismatch` entry is chained first, so the append never fails on it.
  // kInvalidArgument for an empty kind.
  virtual Result<mesh::AuditEntry> AppendAudit(const mesh::AuditRecord& record) = 0;

  // Tasks (docs/tasks.md). PutTask inserts the task or replaces the one with its id, whole; the
  // spec's client_key (when not empty) names at most one task: kAlreadyExists if another id holds
  // it. kInvalidArgument for an empty id or text that is not valid UTF-8.
  virtual Status PutTask(const mesh::Task& task) = 0;
  virtual Result<std::optional<mesh::Task>> GetTask(std::string_view task_id) = 0;
  virtual Result<std::optional<mesh::Task>> FindTaskByClientKey(std::string_view client_key) = 0;
  // Appends one chunk to a task's log and returns its seq: 1 for the first chunk of a task, then
  // strictly increasing. kNotFound for an unknown task; kInvalidArgument for a stream other than
  // stdout, stderr or system.
  virtual Result<int64_t> AppendTaskLog(std::string_view task_id, int32_t attempt,
                                        std::string_view stream, std::string_view data,
                                        int64_t ts_ms) = 0;
};

using WriteFn = std::function<Status(WriteTxn&)>;

class MeshStore {
 public:
  virtual ~MeshStore() = default;

  // Runs fn in a transaction; blocks until it committed (or rolled back). Thread-safe.
  virtual Status Write(WriteFn fn) = 0;
  // Asynchronous form: `done` runs on a store thread once the write is durable (or failed). Keep
  // it short and post the continuation elsewhere; never call Write() from it (that thread would
  // wait for itself).
  virtual void SubmitWrite(WriteFn fn, std::function<void(Status)> done) = 0;

  // Reads (committed state only; thread-safe; never wait for the writer).
  virtual Result<std::optional<mesh::NodeRecord>> GetNode(std::string_view node_id) = 0;
  virtual Result<std::vector<mesh::NodeRecord>> ListNodes() = 0;
  virtual Result<std::vector<mesh::A2AMessage>> ListInbox(const InboxQuery& q) = 0;
  virtual Result<std::optional<mesh::A2AMessage>> GetMessage(int64_t id) = 0;
  // Messages of `receiver` in state pending or claimed. Constant time and never touches the
  // database, so a request thread may call it before every deliver (the inbox cap check).
  virtual Result<int64_t> CountPending(std::string_view receiver) = 0;
  // Every receiver with pending or claimed messages and their number, from the same in-memory
  // counts (the inbox-depth metric). A backend without such counts returns none.
  virtual std::vector<std::pair<std::string, int64_t>> PendingByReceiver() { return {}; }
  virtual Result<std::optional<mesh::ExecLease>> GetLease(std::string_view lease_id) = 0;
  // The live (granted/renewed, unexpired at now_ms) lease of scope_key, if any.
  virtual Result<std::optional<mesh::ExecLease>> LiveLeaseForScope(std::string_view scope_key,
                                                                   int64_t now_ms) = 0;
  virtual Result<std::vector<mesh::ExecLease>> ListLeases(bool live_only, int64_t now_ms) = 0;
  virtual Result<std::vector<mesh::Event>> ListEvents(int64_t after_id, int limit) = 0;
  virtual Result<std::optional<std::string>> GetKv(std::string_view ns, std::string_view key) = 0;
  // Every (key, value) of namespace `ns`, by key (the model inventories of every node).
  virtual Result<std::vector<std::pair<std::string, std::string>>> ListKv(std::string_view ns) = 0;
  virtual Result<std::optional<mesh::Task>> GetTask(std::string_view task_id) = 0;
  // The role's lease as stored (expired or not); nullopt when nobody ever held it.
  virtual Result<std::optional<RoleLease>> GetRole(std::string_view role) = 0;
  // Every role somebody ever held, by name.
  virtual Result<std::vector<RoleLease>> ListRoles() = 0;
  // Newest created first (ties: higher id first). kInvalidArgument for limit < 1 or an unknown
  // state name.
  virtual Result<std::vector<mesh::Task>> ListTasks(const TaskQuery& q) = 0;
  // Chunks with seq > after_seq, ascending, at most `limit` (>= 1). Empty for an unknown task.
  virtual Result<std::vector<TaskLogChunk>> ListTaskLogs(std::string_view task_id,
                                                         int64_t after_seq, int limit) = 0;
  // Audit entries with seq > after_seq, ascending, at most `limit` (>= 1), and the chain head,
  // read in one snapshot.
  virtual Result<mesh::AuditPage> ListAudit(int64_t after_seq, int limit) = 0;

  // Maintenance.
  // Every record, read in one snapshot on a reader connection, handed to `visitor` in the order
  // ExportVisitor lists (the restore path's source: store/transfer.h). It may write into another
  // store meanwhile, never into this one (its writer would wait for itself).
  virtual Status Export(ExportVisitor& visitor) = 0;
  virtual Result<StoreStats> Stats() = 0;
  virtual Result<CheckReport> Check() = 0;
  // Deletes acked/dead-lettered messages, terminal leases and events older than
  // now_ms - retention_ms, at most `batch` rows per table per call. Terminal tasks whose
  // updated_ms is older go too (at most `batch`), each with all of its log chunks; tasks that are
  // not terminal are never deleted.
  virtual Result<RetentionResult> RunRetention(int64_t now_ms, int64_t retention_ms, int batch) = 0;
  // Flushes and closes; further calls fail with kUnavailable. Idempotent.
  virtual Status Close() = 0;

  // Wake-up topics to and from the other stores on the same database (control-plane replicas;
  // store/topic_channel.h). Null for a backend that runs in one process (SQLite). Lives as long
  // as the store; one sink at a time.
  virtual TopicChannel* topics() { return nullptr; }
};

}  // namespace populi::store
