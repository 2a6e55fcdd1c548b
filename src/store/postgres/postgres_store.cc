#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "store/postgres.h"
#include "store/postgres/conn.h"
#include "store/postgres/maintenance.h"
#include "store/postgres/queries.h"
#include "store/postgres/schema.h"
#include "store/postgres/topic_listener.h"
#include "store/postgres/write_txn.h"

namespace populi::store {
namespace postgres {
namespace {

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

Result<int64_t> QueryPending(Conn& conn, std::string_view receiver) {
  POPULI_ASSIGN_OR_RETURN(Stmt stmt,
                          conn.Prepare("SELECT count(*) FROM messages WHERE receiver = ? AND "
                                       "state IN ('pending', 'claimed')"));
  stmt.Bind(1, receiver);
  POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Int(0) : 0;
}

class PostgresStore final : public MeshStore {
 public:
  PostgresStore(PostgresOptions options, std::string location, std::unique_ptr<Conn> writer,
                std::vector<std::unique_ptr<Conn>> readers, std::unique_ptr<TopicListener> topics)
      : options_(std::move(options)),
        location_(std::move(location)),
        writer_(std::move(writer)),
        readers_(std::move(readers)),
        topics_(std::move(topics)) {
    for (auto& reader : readers_) idle_readers_.push_back(reader.get());
    writer_thread_ = std::thread([this] { WriterLoop(); });
  }

  ~PostgresStore() override { (void)Close(); }

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
    return WithReader([&](Conn& c) { return QueryNode(c, node_id); });
  }
  Result<std::vector<mesh::NodeRecord>> ListNodes() override {
    return WithReader([&](Conn& c) { return QueryNodes(c); });
  }
  Result<std::vector<mesh::A2AMessage>> ListInbox(const InboxQuery& q) override {
    return WithReader([&](Conn& c) { return QueryInbox(c, q); });
  }
  Result<std::optional<mesh::A2AMessage>> GetMessage(int64_t id) override {
    return WithReader([&](Conn& c) { return QueryMessage(c, id); });
  }
  // Counted in the database (an index range), not in memory: other replicas deliver and ack too.
  Result<int64_t> CountPending(std::string_view receiver) override {
    return WithReader([&](Conn& c) { return QueryPending(c, receiver); });
  }
  Result<std::optional<mesh::ExecLease>> GetLease(std::string_view lease_id) override {
    return WithReader([&](Conn& c) { return QueryLease(c, lease_id); });
  }
  Result<std::optional<mesh::ExecLease>> LiveLeaseForScope(std::string_view scope_key,
                                                           int64_t now_ms) override {
    return WithReader([&](Conn& c) -> Result<std::optional<mesh::ExecLease>> {
      POPULI_ASSIGN_OR_RETURN(std::optional<mesh::ExecLease> lease, QueryActiveLease(c, scope_key));
      if (lease && lease->expires_ms <= now_ms) lease.reset();
      return lease;
    });
  }
  Result<std::vector<mesh::ExecLease>> ListLeases(bool live_only, int64_t now_ms) override {
    return WithReader([&](Conn& c) { return QueryLeases(c, live_only, now_ms); });
  }
  Result<std::vector<mesh::Event>> ListEvents(int64_t after_id, int limit) override {
    return WithReader([&](Conn& c) { return QueryEvents(c, after_id, limit); });
  }
  Result<std::optional<RoleLease>> GetRole(std::string_view role) override {
    return WithReader([&](Conn& c) { return QueryRole(c, role); });
  }
  Result<std::vector<RoleLease>> ListRoles() override {
    return WithReader([&](Conn& c) { return QueryRoles(c, /*held_only=*/true); });
  }
  Result<std::optional<std::string>> GetKv(std::string_view ns, std::string_view key) override {
    return WithReader([&](Conn& c) { return QueryKv(c, ns, key); });
  }
  Result<std::vector<std::pair<std::string, std::string>>> ListKv(std::string_view ns) override {
    return WithReader([&](Conn& c) { return QueryKvNamespace(c, ns); });
  }
  Result<std::optional<mesh::Task>> GetTask(std::string_view task_id) override {
    return WithReader([&](Conn& c) { return QueryTask(c, task_id); });
  }
  Result<std::vector<mesh::Task>> ListTasks(const TaskQuery& q) override {
    return WithReader([&](Conn& c) { return QueryTasks(c, q); });
  }
  Result<std::vector<TaskLogChunk>> ListTaskLogs(std::string_view task_id, int64_t after_seq,
                                                 int limit) override {
    return WithReader([&](Conn& c) { return QueryTaskLogs(c, task_id, after_seq, limit); });
  }

  Result<mesh::AuditPage> ListAudit(int64_t after_seq, int limit) override {
    return WithReader([&](Conn& c) { return QueryAuditPage(c, after_seq, limit); });
  }

  // Other replicas on the schema hear this store's topics through it (LISTEN/NOTIFY).
  TopicChannel* topics() override { return topics_.get(); }

  Status Export(ExportVisitor& visitor) override {
    return WithReader([&](Conn& c) { return ExportStore(c, visitor); });
  }
  Result<StoreStats> Stats() override {
    return WithReader([&](Conn& c) { return CollectStats(c, location_); });
  }
  Result<CheckReport> Check() override {
    return WithReader([&](Conn& c) { return RunCheck(c); });
  }
  Result<RetentionResult> RunRetention(int64_t now_ms, int64_t retention_ms, int batch) override {
    RetentionResult result;
    POPULI_RETURN_IF_ERROR(Write([&](WriteTxn& txn) -> Status {
      POPULI_ASSIGN_OR_RETURN(result, DeleteExpiredRows(static_cast<PgWriteTxn&>(txn).db(),
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
    topics_->Stop();  // after the writer: topics its last completions published still go out
    {
      std::unique_lock<std::mutex> guard(readers_mu_);
      closed_ = true;
      readers_cv_.wait(guard, [this] { return idle_readers_.size() == readers_.size(); });
      idle_readers_.clear();
      readers_.clear();
    }
    writer_.reset();
    return Status::Ok();
  }

 private:
  struct PendingWrite {
    WriteFn fn;
    std::function<void(Status)> done;
  };

  template <typename F>
  auto WithReader(F&& f) -> decltype(f(std::declval<Conn&>())) {
    Conn* conn = nullptr;
    {
      std::unique_lock<std::mutex> guard(readers_mu_);
      readers_cv_.wait(guard, [this] { return closed_ || !idle_readers_.empty(); });
      if (closed_) return Closed();
      conn = idle_readers_.back();
      idle_readers_.pop_back();
    }
    Status ready = conn->Broken() ? conn->Reset() : Status::Ok();
    auto result = ready.ok() ? f(*conn) : decltype(f(*conn))(ready);
    {
      std::lock_guard<std::mutex> guard(readers_mu_);
      idle_readers_.push_back(conn);
    }
    readers_cv_.notify_all();
    return result;
  }

  void WriterLoop() {
    pthread_setname_np(pthread_self(), "store-writer");
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
      std::vector<Status> results = RunBatch(batch);
      for (size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
    }
  }

  // One transaction for the whole batch, each write in its own SAVEPOINT; callers learn their
  // result only after COMMIT returned (synchronous_commit = on: the commit is on the server's
  // disk). When COMMIT fails, or the connection drops, no write of the batch reports ok.
  // BEGIN, SAVEPOINT and RELEASE are deferred (Conn::Defer): each goes out with the statement
  // after it, so a write costs the round trips of its own statements and the batch one COMMIT.
  std::vector<Status> RunBatch(std::vector<PendingWrite>& batch) {
    std::vector<Status> results(batch.size());
    Conn& conn = *writer_;
    if (conn.Broken()) {
      Status reset = conn.Reset();
      if (!reset.ok()) return std::vector<Status>(batch.size(), reset);
    }
    conn.Defer("BEGIN");
    PgWriteTxn txn(conn);
    for (size_t i = 0; i < batch.size(); ++i) results[i] = RunInSavepoint(conn, txn, batch[i].fn);
    Status commit = conn.Exec("COMMIT");
    if (!commit.ok()) {
      if (!conn.Broken() && !conn.Idle()) (void)conn.Exec("ROLLBACK");
      for (Status& result : results) {
        if (result.ok()) result = commit;
      }
    }
    return results;
  }

  // Runs one write in its own savepoint; a write that fails is rolled back alone.
  static Status RunInSavepoint(Conn& conn, PgWriteTxn& txn, const WriteFn& fn) {
    static constexpr std::string_view kSavepoint = "SAVEPOINT write_fn";
    conn.Defer(std::string(kSavepoint));
    Status status = RunGuarded(fn, txn);
    if (status.ok() && conn.InFailedTransaction()) {
      status = Status(Code::kStoreIo, "a statement of the write failed and the write went on",
                      "report this as a bug");
    }
    // A write that sent no statement needs no savepoint.
    if (conn.Withdraw(kSavepoint)) return status;
    if (status.ok()) {
      conn.Defer("RELEASE write_fn");
    } else {
      (void)conn.Exec("ROLLBACK TO write_fn; RELEASE write_fn");
    }
    return status;
  }

  const PostgresOptions options_;
  const std::string location_;
  std::unique_ptr<Conn> writer_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<PendingWrite> queue_;
  bool stopping_ = false;
  std::thread writer_thread_;

  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<Conn>> readers_;
  std::vector<Conn*> idle_readers_;
  bool closed_ = false;

  const std::unique_ptr<TopicListener> topics_;
};

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace
}  // namespace postgres

Result<std::unique_ptr<MeshStore>> OpenPostgresStore(const PostgresOptions& options) {
  using postgres::Conn;
  if (options.dsn.empty()) {
    return InvalidArgument("the PostgreSQL store needs a connection string",
                           "set [mesh.store] dsn in the user config or VOX_MESH_STORE_DSN");
  }
  if (options.schema.empty() || options.reader_pool_size < 1 || options.max_batch < 1) {
    return InvalidArgument("store schema must be named; reader_pool_size and max_batch >= 1",
                           "name a schema and set each count to 1 or more");
  }
  const std::string location =
      RedactPostgresDsn(options.dsn) + " schema " + postgres::QuoteIdent(options.schema);
  POPULI_ASSIGN_OR_RETURN(std::unique_ptr<Conn> writer, Conn::Open(options.dsn, options.schema));
  POPULI_RETURN_IF_ERROR(
      postgres::Migrate(*writer, options.schema, location, postgres::WallClockMs()));
  std::vector<std::unique_ptr<Conn>> readers;
  for (int i = 0; i < options.reader_pool_size; ++i) {
    POPULI_ASSIGN_OR_RETURN(std::unique_ptr<Conn> reader, Conn::Open(options.dsn, options.schema));
    readers.push_back(std::move(reader));
  }
  POPULI_ASSIGN_OR_RETURN(std::unique_ptr<postgres::TopicListener> topics,
                          postgres::TopicListener::Start(options.dsn, options.schema));
  return std::unique_ptr<MeshStore>(new postgres::PostgresStore(
      options, location, std::move(writer), std::move(readers), std::move(topics)));
}

}  // namespace populi::store
