#include "store/postgres/conn.h"

#include <cstdlib>
#include <cstring>

#include "store/postgres.h"

namespace populi::store::postgres {
namespace {

// `?` → `$k` (k counting up) and `?N` → `$N`, outside string literals.
std::string Rewrite(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int next = 0;
  bool quoted = false;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'') quoted = !quoted;
    if (c != '?' || quoted) {
      out += c;
      continue;
    }
    out += '$';
    if (i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') continue;
    out += std::to_string(++next);
  }
  return out;
}

void IgnoreNotice(void*, const char*) {}

}  // namespace

Status PgStatus(PGconn* conn, const PGresult* result, std::string_view what) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string code = state ? state : "";
  std::string detail = result ? PQresultErrorMessage(result) : "";
  if (detail.empty() && conn) detail = PQerrorMessage(conn);
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
  const std::string msg = std::string(what) + ": " + detail;
  if (code == "53100") {
    return {Code::kStoreFull, msg, "free space on the PostgreSQL server's disk"};
  }
  if (code == "23505" || code == "23P01") return Conflict(msg, "the row exists already");
  if (code == "40P01" || code == "40001") {
    return Unavailable(msg, "another control plane wrote the same rows at once; retry");
  }
  if (code == "22021" || code == "22P05" || code == "54000") {
    return InvalidArgument(msg, "send valid UTF-8 text without NUL bytes");
  }
  if (code.rfind("08", 0) == 0 || code.rfind("57P", 0) == 0 ||
      (conn && PQstatus(conn) != CONNECTION_OK)) {
    return Unavailable(msg, "check that the PostgreSQL server is up and reachable");
  }
  return {Code::kStoreIo, msg, "check the PostgreSQL server's log"};
}

std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Stmt::Stmt(Stmt&& other) noexcept
    : conn_(other.conn_),
      sql_(std::move(other.sql_)),
      params_(std::move(other.params_)),
      result_(other.result_),
      row_(other.row_) {
  other.result_ = nullptr;
}

Stmt::~Stmt() {
  if (result_) PQclear(result_);
}

Stmt& Stmt::Bind(int index, int64_t value) {
  return Bind(index, std::string_view(std::to_string(value)));
}

Stmt& Stmt::Bind(int index, std::string_view value) {
  if (static_cast<int>(params_.size()) < index) params_.resize(index);
  params_[index - 1] = Param{std::string(value), false};
  return *this;
}

Stmt& Stmt::BindBlob(int index, std::string_view bytes) {
  if (static_cast<int>(params_.size()) < index) params_.resize(index);
  params_[index - 1] = Param{std::string(bytes), true};
  return *this;
}

Stmt& Stmt::BindNull(int index) {
  if (static_cast<int>(params_.size()) < index) params_.resize(index);
  params_[index - 1] = Param{};
  return *this;
}

Status Stmt::Execute() {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const Param& p : params_) {
    if (p.value && !p.binary && p.value->find('\0') != std::string::npos) {
      return InvalidArgument("text with a NUL byte cannot be stored",
                             "send text without NUL bytes");
    }
    values.push_back(p.value ? p.value->c_str() : nullptr);
    lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
    formats.push_back(p.binary ? 1 : 0);
  }
  result_ = conn_->ExecParams(sql_, static_cast<int>(values.size()), values.data(), lengths.data(),
                              formats.data());
  const ExecStatusType st = result_ ? PQresultStatus(result_) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    // A prepared statement the session no longer has (a pooler between us and the server that
    // moved us to another session): made again on the next run.
    const char* state = result_ ? PQresultErrorField(result_, PG_DIAG_SQLSTATE) : nullptr;
    if (state != nullptr && std::string_view(state) == "26000") conn_->prepared_.erase(sql_);
    Status status = PgStatus(conn_->raw(), result_, "postgres statement failed");
    if (result_) PQclear(result_);
    result_ = nullptr;
    return status;
  }
  row_ = -1;
  return Status::Ok();
}

Result<bool> Stmt::Step() {
  if (!result_) POPULI_RETURN_IF_ERROR(Execute());
  ++row_;
  return row_ < PQntuples(result_);
}

Status Stmt::Run() {
  if (result_) return Status::Ok();
  return Execute();
}

int64_t Stmt::Int(int column) const {
  const char* v = PQgetvalue(result_, row_, column);
  if (v[0] == 't') return 1;  // a boolean column
  return std::strtoll(v, nullptr, 10);
}

std::string Stmt::Text(int column) const {
  return std::string(PQgetvalue(result_, row_, column),
                     static_cast<size_t>(PQgetlength(result_, row_, column)));
}

std::string Stmt::Blob(int column) const {
  size_t n = 0;
  unsigned char* bytes = PQunescapeBytea(
      reinterpret_cast<const unsigned char*>(PQgetvalue(result_, row_, column)), &n);
  if (!bytes) return {};
  std::string out(reinterpret_cast<const char*>(bytes), n);
  PQfreemem(bytes);
  return out;
}

bool Stmt::IsNull(int column) const {
  return PQgetisnull(result_, row_, column) != 0;
}

int64_t Stmt::Changes() const {
  const char* n = result_ ? PQcmdTuples(result_) : "";
  return n[0] ? std::strtoll(n, nullptr, 10) : 0;
}

Result<std::unique_ptr<Conn>> Conn::Open(const std::string& dsn, const std::string& schema,
                                         int connect_timeout_s) {
  // libpq's parse errors may quote a piece of the string, the password included: refused here
  // without them.
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(dsn.c_str(), &parse_error);
  if (parse_error) PQfreemem(parse_error);
  if (!parsed) {
    return InvalidArgument("the PostgreSQL connection string does not parse",
                           "write it as libpq key=value pairs (host=… dbname=… user=…) or a "
                           "postgresql:// URL");
  }
  PQconninfoFree(parsed);
  // The DSN comes after the timeout, so a connect_timeout it sets wins.
  const std::string timeout = std::to_string(connect_timeout_s);
  const char* keys[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), dsn.c_str(), nullptr};
  PGconn* raw = connect_timeout_s > 0 ? PQconnectdbParams(keys, values, /*expand_dbname=*/1)
                                      : PQconnectdb(dsn.c_str());
  if (!raw) return Unavailable("cannot allocate a PostgreSQL connection", "check free memory");
  std::unique_ptr<Conn> conn(new Conn(raw, schema));
  if (PQstatus(raw) != CONNECTION_OK) {
    // libpq's message may run over several lines ("…\n\tIs the server running…"): one line here.
    std::string detail;
    for (const char* c = PQerrorMessage(raw); *c != '\0'; ++c) {
      const bool space = *c == '\n' || *c == '\t';
      if (!space) {
        detail += *c;
      } else if (!detail.empty() && detail.back() != ' ') {
        detail += ' ';
      }
    }
    while (!detail.empty() && detail.back() == ' ') detail.pop_back();
    return Unavailable("connect to PostgreSQL (" + RedactPostgresDsn(dsn) + "): " + detail,
                       "check [mesh.store] dsn (or VOX_MESH_STORE_DSN) and that the server is up");
  }
  PQsetNoticeProcessor(raw, IgnoreNotice, nullptr);
  POPULI_RETURN_IF_ERROR(conn->Setup());
  return conn;
}

Conn::~Conn() {
  PQfinish(conn_);
}

Status Conn::Setup() {
  return Exec("SET search_path TO " + QuoteIdent(schema_) +
              "; SET synchronous_commit TO on; SET client_encoding TO 'UTF8'");
}

Status Conn::Reset() {
  PQreset(conn_);
  prepared_.clear();  // a new session has none of them
  if (PQstatus(conn_) != CONNECTION_OK) return PgStatus(conn_, nullptr, "reconnect to PostgreSQL");
  PQsetNoticeProcessor(conn_, IgnoreNotice, nullptr);
  return Setup();
}

Status Conn::Exec(std::string_view sql) {
  std::string text;
  for (const std::string& ahead : deferred_) text += ahead + "; ";
  deferred_.clear();
  text += sql;
  // Several statements in one simple query stop at the first that fails, whose error it returns.
  PGresult* result = PQexec(conn_, text.c_str());
  const ExecStatusType st = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  Status status = Status::Ok();
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    status = PgStatus(conn_, result, "postgres statement failed");
  }
  if (result) PQclear(result);
  return status;
}

bool Conn::Withdraw(std::string_view sql) {
  if (deferred_.empty() || deferred_.back() != sql) return false;
  deferred_.pop_back();
  return true;
}

std::string Conn::PreparedName(const std::string& sql, bool* prepare, std::string* retire) {
  *prepare = false;
  const auto now = std::chrono::steady_clock::now();
  auto it = prepared_.find(sql);
  if (it != prepared_.end()) {
    Prepared& p = it->second;
    // Not made again inside a failed transaction, where nothing but a rollback runs (the
    // statement fails by name as it would unnamed).
    if ((++p.uses <= kReprepareUses && now - p.made < kReprepareAge) || InFailedTransaction()) {
      return p.name;
    }
    *retire = p.name;
    prepared_.erase(it);
  } else if (prepared_.size() >= kMaxPrepared || InFailedTransaction()) {
    return {};
  }
  *prepare = true;
  return "populi_" + std::to_string(++next_name_);
}

PGresult* Conn::ExecParams(const std::string& sql, int count, const char* const* values,
                           const int* lengths, const int* formats) {
  bool prepare = false;
  std::string retire;
  const std::string name = PreparedName(sql, &prepare, &retire);
  if (!retire.empty()) deferred_.push_back("DEALLOCATE " + retire);
  if (deferred_.empty() && !prepare) {
    if (!name.empty()) {
      return PQexecPrepared(conn_, name.c_str(), count, values, lengths, formats, 0);
    }
    return PQexecParams(conn_, Rewrite(sql).c_str(), count, nullptr, values, lengths, formats, 0);
  }
  std::vector<std::string> ahead = std::move(deferred_);
  deferred_.clear();
  return ExecPipelined(std::move(ahead), name, prepare, sql, count, values, lengths, formats);
}

// Sends `ahead`, then (when `prepare`) the Parse of `name`, then `sql` without waiting in
// between, and one Sync (which ends no explicit transaction), then reads every result up to the
// Sync's. Each query's results end with a null; after a failure the later queries of the
// pipeline are reported aborted. A prepared statement is remembered once its Parse succeeded.
PGresult* Conn::ExecPipelined(std::vector<std::string> ahead, const std::string& name, bool prepare,
                              const std::string& sql, int count, const char* const* values,
                              const int* lengths, const int* formats) {
  if (PQenterPipelineMode(conn_) != 1) return nullptr;
  bool sent = true;
  for (const std::string& s : ahead) {
    sent = sent && PQsendQueryParams(conn_, s.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0);
  }
  if (prepare) {
    sent = sent && PQsendPrepare(conn_, name.c_str(), Rewrite(sql).c_str(), count, nullptr);
  }
  if (!name.empty()) {
    sent = sent && PQsendQueryPrepared(conn_, name.c_str(), count, values, lengths, formats, 0);
  } else {
    sent = sent && PQsendQueryParams(conn_, Rewrite(sql).c_str(), count, nullptr, values, lengths,
                                     formats, 0);
  }
  sent = sent && PQpipelineSync(conn_);
  // The queries before `sql`'s: the deferred ones and the Parse.
  const size_t before = ahead.size() + (prepare ? 1 : 0);
  PGresult* failed_ahead = nullptr;  // the first earlier query that failed
  PGresult* mine = nullptr;          // the result of `sql`
  size_t query = 0;                  // whose results are being read (`before`: `sql`'s)
  // Until the Sync's result; nulls only separate queries (the bound is a safeguard).
  for (size_t nulls = 0; sent && nulls <= 2 * (before + 2);) {
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) {
      ++nulls;
      ++query;
      if (Broken()) break;
      continue;
    }
    const ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_PIPELINE_SYNC) {
      PQclear(r);
      break;
    }
    const bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (query < before && !ok && failed_ahead == nullptr) {
      failed_ahead = r;
    } else if (query == before && mine == nullptr) {
      mine = r;
    } else {
      PQclear(r);
    }
  }
  // Fails only with results left unread (a broken connection, whose reset leaves the mode).
  (void)PQexitPipelineMode(conn_);
  if (failed_ahead != nullptr) {
    if (mine != nullptr) PQclear(mine);
    return failed_ahead;
  }
  // The Parse went through when `sql` ran (an aborted query reports PGRES_PIPELINE_ABORTED).
  const bool ran = mine != nullptr && PQresultStatus(mine) != PGRES_PIPELINE_ABORTED;
  if (prepare && ran) {
    prepared_.emplace(sql, Prepared{name, 1, std::chrono::steady_clock::now()});
  }
  return mine;
}

Result<int64_t> Conn::QueryInt(const std::string& sql) {
  POPULI_ASSIGN_OR_RETURN(Stmt stmt, Prepare(sql));
  POPULI_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Int(0) : 0;
}

}  // namespace populi::store::postgres
