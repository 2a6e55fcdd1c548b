// pg_queue_load: the durable queue a user would build on PostgreSQL itself, driven by N clients
// at once, as the baseline for the control plane's A2A inbox on the same server (bench/README.md,
// "Scale-out").
//
//   pg_queue_load --dsn 'host=… port=… dbname=… user=…' [--clients 64] [--seconds 10]
//                 [--payload-bytes 256] [--synchronous-commit on|off] [--keep-table]
//
// One table in a schema of its own (created fresh, dropped at the end unless --keep-table):
//   inbox(id bigserial primary key, idem_key text unique, payload text, state smallint,
//         lease_owner text, lease_until timestamptz, created_at timestamptz)
// with a partial index on (id) where state = 0. Each client is a thread with its own connection
// (synchronous_commit as given, plan_cache_mode = force_custom_plan, every statement prepared and
// its own autocommit transaction) and loops over one cycle:
//   enqueue  INSERT … (idem_key, payload) ON CONFLICT (idem_key) DO NOTHING   (a unique key)
//   claim    UPDATE inbox SET state = 1, lease_owner = $1, lease_until = now() + 30 s
//            WHERE id = (SELECT id FROM inbox WHERE state = 0 ORDER BY id
//                        FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id, payload
//   ack      UPDATE inbox SET state = 2 WHERE id = $1 AND lease_owner = $2
// so all clients share one queue, as the workers of one job queue do. A claim that finds nothing
// (every pending row is being claimed by others) sleeps 1 ms and claims again; those are counted
// as empty polls. One cycle is one message acknowledged. Prints cycles/s, enqueue latency
// p50/p99 (nearest rank, the round trip of the INSERT) and what was left unacknowledged.
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Steady = std::chrono::steady_clock;

struct Options {
  std::string dsn;
  int clients = 64;
  int seconds = 10;
  int payload_bytes = 256;
  std::string synchronous_commit = "on";
  bool keep_table = false;
};

struct Totals {
  std::atomic<int64_t> cycles{0};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> empty_polls{0};
  std::mutex mu;
  std::vector<double> enqueue_us;
};

// Runs `sql` (no parameters); false and a message on stderr when it fails.
bool Exec(PGconn* conn, const std::string& sql) {
  PGresult* r = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  if (!ok) std::fprintf(stderr, "%s: %s", sql.c_str(), PQerrorMessage(conn));
  PQclear(r);
  return ok;
}

PGconn* Connect(const std::string& dsn) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::fprintf(stderr, "connect: %s", PQerrorMessage(conn));
    PQfinish(conn);
    return nullptr;
  }
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return conn;
}

bool CreateQueue(PGconn* conn, const std::string& schema) {
  return Exec(conn, "DROP SCHEMA IF EXISTS " + schema + " CASCADE") &&
         Exec(conn, "CREATE SCHEMA " + schema) &&
         Exec(conn,
              "CREATE TABLE " + schema +
                  ".inbox(id bigserial PRIMARY KEY, idem_key text UNIQUE, payload text, "
                  "state smallint NOT NULL DEFAULT 0, lease_owner text, "
                  "lease_until timestamptz, created_at timestamptz NOT NULL DEFAULT now())") &&
         Exec(conn, "CREATE INDEX inbox_pending ON " + schema + ".inbox(id) WHERE state = 0");
}

bool Prepare(PGconn* conn, const char* name, const std::string& sql) {
  PGresult* r = PQprepare(conn, name, sql.c_str(), 0, nullptr);
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) std::fprintf(stderr, "prepare %s: %s", name, PQerrorMessage(conn));
  PQclear(r);
  return ok;
}

// One client's connection: the session settings and the three prepared statements.
PGconn* OpenClient(const Options& o, const std::string& schema) {
  PGconn* conn = Connect(o.dsn);
  if (conn == nullptr) return nullptr;
  const bool ok =
      Exec(conn, "SET search_path TO " + schema) &&
      Exec(conn, "SET synchronous_commit TO " + o.synchronous_commit) &&
      Exec(conn, "SET plan_cache_mode TO force_custom_plan") &&
      Prepare(conn, "enqueue",
              "INSERT INTO inbox(idem_key, payload) VALUES ($1, $2) "
              "ON CONFLICT (idem_key) DO NOTHING") &&
      Prepare(
          conn, "claim",
          "UPDATE inbox SET state = 1, lease_owner = $1, "
          "lease_until = now() + interval '30 seconds' WHERE id = (SELECT id FROM inbox "
          "WHERE state = 0 ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id, payload") &&
      Prepare(conn, "ack", "UPDATE inbox SET state = 2 WHERE id = $1 AND lease_owner = $2");
  if (!ok) {
    PQfinish(conn);
    return nullptr;
  }
  return conn;
}

// Runs a prepared statement; the result (caller clears) or null on failure.
PGresult* Run(PGconn* conn, const char* name, std::initializer_list<const char*> params,
              ExecStatusType expect) {
  std::vector<const char*> values(params);
  PGresult* r = PQexecPrepared(conn, name, static_cast<int>(values.size()), values.data(), nullptr,
                               nullptr, 0);
  if (PQresultStatus(r) == expect) return r;
  PQclear(r);
  return nullptr;
}

// One client: enqueue → claim → ack until `stop`.
void ClientLoop(PGconn* conn, int client, const Options& o, const std::atomic<bool>& stop,
                Totals& totals) {
  const std::string owner = "client-" + std::to_string(client);
  std::string payload(static_cast<size_t>(o.payload_bytes), 'x');
  std::mt19937 rng(static_cast<unsigned>(client));
  for (char& c : payload) c = static_cast<char>('a' + rng() % 26);
  std::vector<double> local;
  for (int64_t seq = 0; !stop.load(std::memory_order_relaxed); ++seq) {
    const std::string key = owner + "-" + std::to_string(seq);
    const auto t0 = Steady::now();
    PGresult* r = Run(conn, "enqueue", {key.c_str(), payload.c_str()}, PGRES_COMMAND_OK);
    local.push_back(std::chrono::duration<double, std::micro>(Steady::now() - t0).count());
    if (r == nullptr) {
      ++totals.errors;
      continue;
    }
    PQclear(r);
    std::string id;
    while (id.empty() && !stop.load(std::memory_order_relaxed)) {
      r = Run(conn, "claim", {owner.c_str()}, PGRES_TUPLES_OK);
      if (r == nullptr) {
        ++totals.errors;
        break;
      }
      if (PQntuples(r) == 1) {
        id = PQgetvalue(r, 0, 0);
      } else {
        ++totals.empty_polls;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      PQclear(r);
    }
    if (id.empty()) continue;
    r = Run(conn, "ack", {id.c_str(), owner.c_str()}, PGRES_COMMAND_OK);
    if (r != nullptr && std::atoi(PQcmdTuples(r)) == 1) {
      ++totals.cycles;
    } else {
      ++totals.errors;
    }
    if (r != nullptr) PQclear(r);
  }
  std::lock_guard lock(totals.mu);
  totals.enqueue_us.insert(totals.enqueue_us.end(), local.begin(), local.end());
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--keep-table") {
      o.keep_table = true;
      continue;
    }
    if (i + 1 >= argc) break;
    const char* v = argv[++i];
    if (k == "--dsn") o.dsn = v;
    if (k == "--clients") o.clients = std::max(1, std::atoi(v));
    if (k == "--seconds") o.seconds = std::max(1, std::atoi(v));
    if (k == "--payload-bytes") o.payload_bytes = std::max(1, std::atoi(v));
    if (k == "--synchronous-commit") o.synchronous_commit = v;
  }
  return o;
}

// The nearest-rank percentile p (0..1] of sorted `v`.
double Rank(const std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, std::max<size_t>(i, 1) - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  if (o.dsn.empty()) {
    std::fprintf(stderr, "usage: pg_queue_load --dsn DSN [--clients N] [--seconds S]\n");
    return 2;
  }
  const std::string schema = "queue_load_" + std::to_string(::getpid());
  PGconn* admin = Connect(o.dsn);
  if (admin == nullptr || !CreateQueue(admin, schema)) return 1;
  std::vector<PGconn*> conns;
  for (int c = 0; c < o.clients; ++c) {
    PGconn* conn = OpenClient(o, schema);
    if (conn == nullptr) return 1;
    conns.push_back(conn);
  }
  std::atomic<bool> stop{false};
  Totals totals;
  std::vector<std::thread> threads;
  const auto start = Steady::now();
  for (int c = 0; c < o.clients; ++c)
    threads.emplace_back([&, c] { ClientLoop(conns[c], c, o, stop, totals); });
  std::this_thread::sleep_for(std::chrono::seconds(o.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Steady::now() - start).count();
  for (PGconn* conn : conns) PQfinish(conn);
  PGresult* left = PQexec(
      admin,
      ("SELECT count(*) FILTER (WHERE state <> 2), count(*) FROM " + schema + ".inbox").c_str());
  const std::string unacked =
      PQresultStatus(left) == PGRES_TUPLES_OK ? PQgetvalue(left, 0, 0) : "?";
  const std::string rows = PQresultStatus(left) == PGRES_TUPLES_OK ? PQgetvalue(left, 0, 1) : "?";
  PQclear(left);
  if (!o.keep_table) Exec(admin, "DROP SCHEMA " + schema + " CASCADE");
  PQfinish(admin);
  std::sort(totals.enqueue_us.begin(), totals.enqueue_us.end());
  std::printf(
      "pg_queue clients=%d payload_bytes=%d synchronous_commit=%s seconds=%.1f cycles=%lld "
      "cycles_per_s=%.0f errors=%lld empty_polls=%lld rows=%s unacked=%s enqueue_p50_ms=%.2f "
      "enqueue_p99_ms=%.2f\n",
      o.clients, o.payload_bytes, o.synchronous_commit.c_str(), secs,
      static_cast<long long>(totals.cycles.load()),
      static_cast<double>(totals.cycles.load()) / secs,
      static_cast<long long>(totals.errors.load()),
      static_cast<long long>(totals.empty_polls.load()), rows.c_str(), unacked.c_str(),
      Rank(totals.enqueue_us, 0.5) / 1000, Rank(totals.enqueue_us, 0.99) / 1000);
  return 0;
}
