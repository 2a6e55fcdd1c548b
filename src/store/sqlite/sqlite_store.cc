#include "store/sqlite.h"

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "store/sqlite/check.h"
#include "store/sqlite/checkpointer.h"
#include "store/sqlite/db.h"
#include "store/sqlite/dir_lock.h"
#include "store/sqlite/pending_counts.h"
#include "store/sqlite/queries.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/store_metrics.h"
#include "store/sqlite/wal_syncer.h"
#include "store/sqlite/write_txn.h"

namespace populi::store {

std::string SqliteDatabasePath(const std::string& directory) {
  return (std::filesystem::path(directory) / kSqliteFileName).string();
}

namespace sqlite {
namespace {

// Full durability with the flush overlapped: the writer commits with synchronous=NORMAL and a
// WalSyncer flushes the log before any caller is completed (see wal_syncer.h).
bool OverlapsFlush(const SqliteOptions& options) {
  return options.durability == Durability::kFull && options.overlap_flush;
}

Status Closed() {
  return Unavailable("the store is closed", "the server is shutting down");
}

// Runs a caller's function, turning an escaped exception into a Status so it cannot take the
// writer thread down.
Status RunGuarded(const WriteFn& fn, WriteTxn& txn) {
  try {
    return fn(txn);
  } catch (const std::exception& e) {
    return Internal(std::string("write function threw: ") + e.what(), "report this as a bug");
  } catch (...) {
    return Internal("write function threw", "report this as a bug");
  }
}

class SqliteStore final : public MeshStore {
 public:
  SqliteStore(SqliteOptions options, std::string db_path, std::unique_ptr<DirLock> lock,
              std::unique_ptr<Db> writer, std::unique_ptr<Checkpointer> checkpointer,
              std::unique_ptr<PendingCounts> pending, std::vector<std::unique_ptr<Db>> readers)
      : options_(std::move(options)),
        db_path_(std::move(db_path)),
        lock_(std::move(lock)),
        writer_(std::move(writer)),
        checkpointer_(std::move(checkpointer)),
        pending_(std::move(pending)),
        readers_(std::move(readers)) {
    for (auto& reader : readers_) idle_readers_.push_back(reader.get());
    if (OverlapsFlush(options_)) syncer_ = std::make_unique<WalSyncer>(db_path_ + "-wal");
    writer_thread_ = std::thread([this] { WriterLoop(); });
  }

  ~SqliteStore() override { (void)Close(); }

  Status Write(WriteFn fn) override {
    std::promise<Status> promise;
    std::future<Status> future = promise.get_future();
    SubmitWrite(std::move(fn), [&promise](Status status) { promise.set_value(std::move(status)); });
    return future.get();
  }

  void SubmitWrite(WriteFn fn, std::function<void(Status)> done) override {
    {
      std::lock_guard<std::mutex> guard(queue_mu_);
      if (!stopping_) {
        queue_.push_back({std::move(fn), std::move(done)});
        queue_cv_.notify_one();
        return;
      }
    }
    done(Closed());
  }

  Result<std::optional<mesh::NodeRecord>> GetNode(std::string_view node_id) override {
    return WithReader([&](Db& db) { return QueryNode(db, node_id); });
  }
  Result<std::vector<mesh::NodeRecord>> ListNodes() override {
    return WithReader([&](Db& db) { return QueryNodes(db); });
  }
  Result<std::vector<mesh::A2AMessage>> ListInbox(const InboxQuery& q) override {
    return WithReader([&](Db& db) { return QueryInbox(db, q); });
  }
  Result<std::optional<mesh::A2AMessage>> GetMessage(int64_t id) override {
    return WithReader([&](Db& db) { return QueryMessage(db, id); });
  }
  // O(1): the in-memory counts, which reflect every committed write (pending_counts.h).
  Result<int64_t> CountPending(std::string_view receiver) override {
    return pending_->Get(receiver);
  }
  std::vector<std::pair<std::string, int64_t>> PendingByReceiver() override {
    return pending_->Snapshot();
  }
  Result<std::optional<mesh::ExecLease>> GetLease(std::string_view lease_id) override {
    return WithReader([&](Db& db) { return QueryLease(db, lease_id); });
  }
  Result<std::optional<mesh::ExecLease>> LiveLeaseForScope(std::string_view scope_key,
                                                           int64_t now_ms) override {
    return WithReader([&](Db& db) -> Result<std::optional<mesh::ExecLease>> {
      POPULI_ASSIGN_OR_RETURN(std::optional<mesh::ExecLease> lease,
                              QueryActiveLease(db, scope_key));
      if (lease && lease->expires_ms <= now_ms) lease.reset();
      return lease;
    });
  }
  Result<std::vector<mesh::ExecLease>> ListLeases(bool live_only, int64_t now_ms) override {
    return WithReader([&](Db& db) { return QueryLeases(db, live_only, now_ms); });
  }
  Result<std::vector<mesh::Event>> ListEvents(int64_t after_id, int limit) override {
    return WithReader([&](Db& db) { return QueryEvents(db, after_id, limit); });
  }
  Result<std::optional<RoleLease>> GetRole(std::string_view role) override {
    return WithReader([&](Db& db) { return QueryRole(db, role); });
  }
  Result<std::vector<RoleLease>> ListRoles() override {
    return WithReader([&](Db& db) { return QueryRoles(db, /*held_only=*/true); });
  }
  Result<std::optional<std::string>> GetKv(std::string_view ns, std::string_view key) override {
    return WithReader([&](Db& db) { return QueryKv(db, ns, key); });
  }
  Result<std::vector<std::pair<std::string, std::string>>> ListKv(std::string_view ns) override {
    return WithReader([&](Db& db) { return QueryKvNamespace(db, ns); });
  }
  Result<std::optional<mesh::Task>> GetTask(std::string_view task_id) override {
    return WithReader([&](Db& db) { return QueryTask(db, task_id); });
  }
  Result<std::vector<mesh::Task>> ListTasks(const TaskQuery& q) override {
    return WithReader([&](Db& db) { return QueryTasks(db, q); });
  }
  Result<std::vector<TaskLogChunk>> ListTaskLogs(std::string_view task_id, int64_t after_seq,
                                                 int limit) override {
    return WithReader([&](Db& db) { return QueryTaskLogs(db, task_id, after_seq, limit); });
  }
  Result<mesh::AuditPage> ListAudit(int64_t after_seq, int limit) override {
    return WithReader([&](Db& db) { return QueryAuditPage(db, after_seq, limit); });
  }

  Status Export(ExportVisitor& visitor) override {
    return WithReader([&](Db& db) { return ExportStore(db, visitor); });
  }
  Result<StoreStats> Stats() override {
    return WithReader([&](Db& db) { return CollectStats(db, db_path_); });
  }
  Result<CheckReport> Check() override {
    return WithReader([&](Db& db) { return RunCheck(db); });
  }
  Result<RetentionResult> RunRetention(int64_t now_ms, int64_t retention_ms, int batch) override {
    RetentionResult result;
    POPULI_RETURN_IF_ERROR(Write([&](WriteTxn& txn) -> Status {
      POPULI_ASSIGN_OR_RETURN(result, DeleteExpiredRows(static_cast<SqliteWriteTxn&>(txn).db(),
                                                        now_ms - retention_ms, batch));
      return Status::Ok();
    }));
    return result;
  }

  Status Close() override {
    {
      std::lock_guard<std::mutex> guard(queue_mu_);
      if (stopping_ && !writer_thread_.joinable()) return Status::Ok();
      stopping_ = true;
      queue_cv_.notify_all();
    }
    if (writer_thread_.joinable()) writer_thread_.join();
    syncer_.reset();                                     // flushes and completes the last batches
    sqlite3_wal_hook(writer_->raw(), nullptr, nullptr);  // before the checkpointer goes
    checkpointer_.reset();
    {
      std::unique_lock<std::mutex> guard(readers_mu_);
      closed_ = true;
      readers_cv_.wait(guard, [this] { return idle_readers_.size() == readers_.size(); });
      idle_readers_.clear();
      readers_.clear();
    }
    writer_.reset();  // the last connection to close checkpoints and removes the WAL
    lock_.reset();
    return Status::Ok();
  }

 private:
  struct PendingWrite {
    WriteFn fn;
    std::function<void(Status)> done;
  };

  template <typename F>
  auto WithReader(F&& f) -> decltype(f(std::declval<Db&>())) {
    Db* db = nullptr;
    {
      std::unique_lock<std::mutex> guard(readers_mu_);
      readers_cv_.wait(guard, [this] { return closed_ || !idle_readers_.empty(); });
      if (closed_) return Closed();
      db = idle_readers_.back();
      idle_readers_.pop_back();
    }
    auto result = f(*db);
    {
      std::lock_guard<std::mutex> guard(readers_mu_);
      idle_readers_.push_back(db);
    }
    readers_cv_.notify_all();
    return result;
  }

  void WriterLoop() {
    pthread_setname_np(pthread_self(), "store-writer");  // shown by top -H and perf
    while (true) {
      std::vector<PendingWrite> batch;
      {
        std::unique_lock<std::mutex> guard(queue_mu_);
        queue_cv_.wait(guard, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything queued before Close() ran
        const size_t take = std::min(queue_.size(), static_cast<size_t>(options_.max_batch));
        for (size_t i = 0; i < take; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      Status failed = syncer_ ? syncer_->failure() : Status::Ok();
      std::vector<Status> results =
          failed.ok() ? RunBatch(batch) : std::vector<Status>(batch.size(), failed);
      checkpointer_->CatchUp(*writer_);
      if (syncer_) {
        std::vector<WalSyncer::Completion> dones;
        dones.reserve(batch.size());
        for (PendingWrite& write : batch) dones.push_back(std::move(write.done));
        syncer_->Enqueue(std::move(dones), std::move(results));
        continue;
      }
      for (size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
    }
  }

  // One physical transaction for the whole batch; each write in its own SAVEPOINT. When SQLite
  // abandons the transaction itself (some SQLITE_FULL / IOERR cases), the write that hit it
  // fails and the others are run again in a fresh transaction, so no caller is told "ok" for
  // work that was rolled back.
  std::vector<Status> RunBatch(std::vector<PendingWrite>& batch) {
    std::vector<Status> results(batch.size());
    std::vector<size_t> todo(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) todo[i] = i;
    Db& db = *writer_;
    SqliteWriteTxn txn(db);
    PendingDelta committed_delta;  // of the write functions released into this transaction
    std::vector<std::string> committed_kinds;  // events those functions appended
    while (!todo.empty()) {
      committed_delta.Clear();
      committed_kinds.clear();
      Status begin = db.RunCached("BEGIN IMMEDIATE");
      if (!begin.ok()) {
        for (size_t i : todo) results[i] = begin;
        return results;
      }
      std::vector<size_t> retry;
      bool abandoned = false;
      for (size_t k = 0; k < todo.size(); ++k) {
        const size_t i = todo[k];
        if (abandoned) {
          retry.push_back(i);
          continue;
        }
        Status status = db.RunCached("SAVEPOINT write_fn");
        txn.pending_delta().Clear();
        txn.event_kinds().clear();
        if (status.ok()) status = RunGuarded(batch[i].fn, txn);
        if (db.AutoCommit()) {
          results[i] = status.ok()
                           ? Internal("transaction ended inside a write", "report this as a bug")
                           : status;
          retry.assign(todo.begin(), todo.begin() + static_cast<ptrdiff_t>(k));
          abandoned = true;
          continue;
        }
        if (status.ok()) {
          status = db.RunCached("RELEASE write_fn");
          if (status.ok()) {
            committed_delta.Merge(txn.pending_delta());
            for (auto& kind : txn.event_kinds()) committed_kinds.push_back(std::move(kind));
          }
        } else {
          (void)db.RunCached("ROLLBACK TO write_fn");
          (void)db.RunCached("RELEASE write_fn");
        }
        results[i] = std::move(status);
      }
      if (abandoned) {
        todo = std::move(retry);
        continue;
      }
      Status commit = db.RunCached("COMMIT");
      if (!commit.ok()) {
        if (!db.AutoCommit()) (void)db.Exec("ROLLBACK");
        for (size_t i : todo) {
          if (results[i].ok()) results[i] = commit;
        }
      } else {
        pending_->Apply(committed_delta);
        StoreMetrics::Get().Committed(todo.size(), committed_kinds);
      }
      break;
    }
    return results;
  }

  const SqliteOptions options_;
  const std::string db_path_;
  std::unique_ptr<DirLock> lock_;
  std::unique_ptr<Db> writer_;
  std::unique_ptr<Checkpointer> checkpointer_;
  std::unique_ptr<PendingCounts> pending_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<PendingWrite> queue_;
  bool stopping_ = false;
  std::thread writer_thread_;
  std::unique_ptr<WalSyncer> syncer_;  // set when commits are flushed off the writer thread

  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<Db>> readers_;
  std::vector<Db*> idle_readers_;
  bool closed_ = false;
};

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status ConfigureWriter(Db& db, const SqliteOptions& options) {
  POPULI_ASSIGN_OR_RETURN(Stmt mode, db.Prepare("PRAGMA journal_mode=WAL"));
  POPULI_ASSIGN_OR_RETURN(bool row, mode.Step());
  if (!row || mode.Text(0) != "wal") {
    return Status(Code::kStoreIo, "the store could not switch to WAL journaling",
                  "put the store on a local file system that supports shared memory");
  }
  POPULI_RETURN_IF_ERROR(mode.Run());
  const bool sync_each_commit = options.durability == Durability::kFull && !OverlapsFlush(options);
  POPULI_RETURN_IF_ERROR(
      db.Exec(sync_each_commit ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  if (options.max_size_bytes > 0) {
    POPULI_ASSIGN_OR_RETURN(int64_t page_size, db.QueryInt("PRAGMA page_size"));
    const int64_t pages = std::max<int64_t>(options.max_size_bytes / page_size, 1);
    POPULI_RETURN_IF_ERROR(db.Exec("PRAGMA max_page_count=" + std::to_string(pages)));
  }
  return Status::Ok();
}

}  // namespace
}  // namespace sqlite

Result<std::unique_ptr<MeshStore>> OpenSqliteStore(const SqliteOptions& options) {
  using sqlite::Db;
  if (options.directory.empty()) {
    return InvalidArgument("store directory is empty", "set --data-dir or [mesh] data_dir");
  }
  if (options.reader_pool_size < 1 || options.max_batch < 1 || options.checkpoint_frames < 1) {
    return InvalidArgument(
        "store reader_pool_size, max_batch and checkpoint_frames must be at least 1",
        "set each to 1 or more");
  }
  std::error_code ec;
  std::filesystem::create_directories(options.directory, ec);
  if (ec) {
    return Status(Code::kStoreIo,
                  "create store directory " + options.directory + ": " + ec.message(),
                  "check the parent directory exists and is writable");
  }
  const std::string db_path = SqliteDatabasePath(options.directory);
  POPULI_ASSIGN_OR_RETURN(
      std::unique_ptr<sqlite::DirLock> lock,
      sqlite::DirLock::Acquire(
          (std::filesystem::path(options.directory) / kSqliteLockFileName).string(),
          options.directory));
  POPULI_ASSIGN_OR_RETURN(std::unique_ptr<Db> writer,
                          Db::Open(db_path, true, false, options.busy_timeout_ms));
  POPULI_RETURN_IF_ERROR(sqlite::ConfigureWriter(*writer, options).WithContext("open store"));
  POPULI_RETURN_IF_ERROR(sqlite::Migrate(*writer, db_path, sqlite::WallClockMs()));
  POPULI_ASSIGN_OR_RETURN(std::unique_ptr<Db> checkpoint_db,
                          Db::Open(db_path, false, false, options.busy_timeout_ms));
  auto checkpointer =
      std::make_unique<sqlite::Checkpointer>(std::move(checkpoint_db), options.checkpoint_frames);
  checkpointer->Install(*writer);
  auto pending = std::make_unique<sqlite::PendingCounts>();
  POPULI_RETURN_IF_ERROR(pending->Load(*writer).WithContext("count pending messages"));
  std::vector<std::unique_ptr<Db>> readers;
  for (int i = 0; i < options.reader_pool_size; ++i) {
    POPULI_ASSIGN_OR_RETURN(std::unique_ptr<Db> reader,
                            Db::Open(db_path, false, true, options.busy_timeout_ms));
    readers.push_back(std::move(reader));
  }
  return std::unique_ptr<MeshStore>(
      new sqlite::SqliteStore(options, db_path, std::move(lock), std::move(writer),
                              std::move(checkpointer), std::move(pending), std::move(readers)));
}

}  // namespace populi::store
