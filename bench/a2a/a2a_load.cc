// a2a_load: durable deliver → claim → ack cycles over HTTP with N concurrent clients.
//
//   a2a_load [--clients 64] [--seconds 10] [--batch 1] [--deliver batch|each] [--ack request|next]
//            [--durability full|buffered] [--driver threads|epoll] [--driver-threads 1]
//            [--handler-threads N] [--tracing on|off] [--metrics on|off] [--span-retention N]
//   a2a_load --enqueue-only 2000
//
// Starts the control plane and the HTTP server in this process on 127.0.0.1:0 over a SQLite
// store in a temp directory, then runs `clients` threads, each on one keep-alive connection with
// its own receiver (request log lines go to a file in that directory): deliver `batch` messages
// (one deliver-batch request, or with --deliver each one request per message), claim them (one
// request with max_messages = batch), acknowledge them (one request, a list when batch > 1; with
// --ack next, in the next claim's ack_message_ids). Prints cycles/s (one cycle = one message
// delivered, claimed and acknowledged) and deliver latency percentiles.
// --driver epoll runs the same clients as connections on --driver-threads epoll loops instead of
// a blocking thread each (epoll_driver.h): the load generator then takes far less of the cores
// the server runs on.
// --enqueue-only N measures enqueue latency the way the peer harness does
// (../shared/bench/peers/METHOD.md): one client, N sequential deliver requests, each waiting for
// its answer, no consumer; prints p50 / p99 (nearest rank) of the round trip.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include "control/control_plane.h"
#include "control/http/auth.h"
#include "control/http/server.h"
#include "obs/span_store.h"
#include "store/sqlite.h"
#include "util/clock.h"
#include "util/random.h"

#include "../http_conn.h"
#include "cycle_requests.h"
#include "epoll_driver.h"

namespace {

using populi::bench::AckBody;
using populi::bench::ClaimBody;
using populi::bench::Conn;
using populi::bench::kAckPath;
using populi::bench::kClaimPath;
using populi::bench::MessageIdsIn;
using Steady = std::chrono::steady_clock;

}  // namespace

int main(int argc, char** argv) {
  int clients = 64, seconds = 10, batch = 1, driver_threads = 1, handler_threads = 0;
  std::string durability = "full";
  std::string driver = "threads";
  bool deliver_each = false;
  bool ack_next = false;
  int enqueue_only = 0;
  bool tracing = true;  // as `vox populi serve` runs by default
  bool metrics = true;
  size_t span_retention = 50'000;  // serve's default
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--clients") clients = std::atoi(argv[i + 1]);
    if (k == "--seconds") seconds = std::atoi(argv[i + 1]);
    if (k == "--batch") batch = std::max(1, std::atoi(argv[i + 1]));
    if (k == "--durability") durability = argv[i + 1];
    if (k == "--deliver") deliver_each = std::string(argv[i + 1]) == "each";
    if (k == "--ack") ack_next = std::string(argv[i + 1]) == "next";
    if (k == "--driver") driver = argv[i + 1];
    if (k == "--driver-threads") driver_threads = std::max(1, std::atoi(argv[i + 1]));
    if (k == "--handler-threads") handler_threads = std::max(1, std::atoi(argv[i + 1]));
    if (k == "--enqueue-only") enqueue_only = std::max(1, std::atoi(argv[i + 1]));
    if (k == "--tracing") tracing = std::string(argv[i + 1]) != "off";
    if (k == "--metrics") metrics = std::string(argv[i + 1]) != "off";
    if (k == "--span-retention") span_retention = std::strtoull(argv[i + 1], nullptr, 10);
  }
  using namespace populi;
  const auto dir = std::filesystem::temp_directory_path() / ("a2a-load-" + RandomHex(6));
  store::SqliteOptions so;
  so.directory = dir.string();
  so.durability =
      durability == "buffered" ? store::Durability::kBuffered : store::Durability::kFull;
  auto st = store::OpenSqliteStore(so);
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.status().ToString().c_str());
    return 1;
  }
  control::ControlOptions co;
  co.inbox_cap = 1'000'000;
  // Spans as serve keeps them (in memory, the default retention), or none with --tracing off.
  obs::SpanStore spans(span_retention);
  control::ControlPlane plane(**st, co, SystemClock::Instance());
  if (tracing) plane.SetSpanStore(&spans);
  http::Router router;
  plane.RegisterRoutes(router);
  auto auth = http::Authenticator::Open();
  http::ServerOptions sopt;
  sopt.bind = "127.0.0.1:0";
  // Default: a handler thread per client, so blocking handlers never limit the writes in flight.
  sopt.handler_threads = handler_threads > 0 ? handler_threads : std::max(64, clients);
  sopt.max_connections = clients + 16;
  if (tracing) sopt.spans = &spans;
  // Per-request metrics as serve records them (the store's and the plane's own counters are
  // always on).
  if (metrics) {
    sopt.on_request_done = [&plane](const http::RequestRecord& r) { plane.ObserveRequest(r); };
  }
  // One log line per request, written to a file as a deployed server's are (stdout would make the
  // terminal, or whatever reads the pipe, part of the measurement).
  auto request_log = spdlog::basic_logger_mt("a2a-load", (dir / "requests.log").string());
  auto server = http::Server::Start(sopt, router, *auth, request_log);
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  plane.SetNotifier(&(*server)->notifier());
  const int port = (*server)->port();
  const populi::bench::CyclePlan plan{batch, deliver_each, ack_next};
  if (enqueue_only > 0) {
    Conn conn(port);
    std::string body;
    if (!conn.ok() || conn.Post("/v1/populi/join", "{\"id\":\"producer\"}", &body) != 200) {
      std::fprintf(stderr, "the producer could not connect and join\n");
      return 1;
    }
    std::vector<double> us;
    int failed = 0;
    for (int i = 0; i < enqueue_only; ++i) {
      const auto t0 = Steady::now();
      if (conn.Post(plan.deliver_path(), plan.deliver_body("producer"), &body) != 200) ++failed;
      us.push_back(std::chrono::duration<double, std::micro>(Steady::now() - t0).count());
    }
    std::sort(us.begin(), us.end());
    auto rank = [&](double p) {  // nearest rank
      return us[std::min(us.size() - 1, static_cast<size_t>(std::ceil(p * us.size())) - 1)];
    };
    std::printf("enqueue-only n=%d durability=%s errors=%d p50_us=%.0f p99_us=%.0f max_us=%.0f\n",
                enqueue_only, durability.c_str(), failed, rank(0.50), rank(0.99), us.back());
    (*server)->Stop();
    plane.Stop();
    (void)(*st)->Close();
    std::filesystem::remove_all(dir);
    return 0;
  }

  std::atomic<bool> stop{false};
  std::atomic<int64_t> cycles{0}, errors{0};
  std::mutex mu;
  std::vector<double> deliver_us;
  std::vector<std::thread> threads;
  populi::bench::DriverTotals totals;
  std::vector<std::unique_ptr<populi::bench::EpollClient>> epoll_clients;
  if (driver == "epoll") {
    for (int c = 0; c < clients; ++c) {
      const std::string node = "load-" + std::to_string(c);
      auto client = std::make_unique<populi::bench::EpollClient>(port, node, plan);
      if (!client->ok() ||
          client->conn().Post("/v1/populi/join", "{\"id\":\"" + node + "\"}") != 200) {
        std::fprintf(stderr, "client %d could not connect and join\n", c);
        return 1;
      }
      epoll_clients.push_back(std::move(client));
    }
    for (int t = 0; t < driver_threads; ++t) {
      std::vector<populi::bench::EpollClient*> mine;
      for (size_t c = static_cast<size_t>(t); c < epoll_clients.size();
           c += static_cast<size_t>(driver_threads))
        mine.push_back(epoll_clients[c].get());
      threads.emplace_back([&totals, &stop, mine] { RunEpollLoop(mine, stop, totals); });
    }
  }
  for (int c = 0; c < (driver == "epoll" ? 0 : clients); ++c) {
    threads.emplace_back([&, c] {
      Conn conn(port);
      if (!conn.ok()) {
        ++errors;
        return;
      }
      const std::string node = "load-" + std::to_string(c);
      std::string body;
      conn.Post("/v1/populi/join", "{\"id\":\"" + node + "\"}", &body);
      std::vector<double> local;
      std::vector<int64_t> held;  // with --ack next: claimed, acknowledged by the next claim
      std::string held_token;     // the claim_token of `held`
      while (!stop.load(std::memory_order_relaxed)) {
        for (int i = 0; i < plan.deliver_requests(); ++i) {
          auto t0 = Steady::now();
          int s = conn.Post(plan.deliver_path(), plan.deliver_body(node), &body);
          local.push_back(std::chrono::duration<double, std::micro>(Steady::now() - t0).count());
          if (s != 200) ++errors;
        }
        if (plan.ack_next) {
          int s = conn.Post(kClaimPath, ClaimBody(node, batch, held, held_token), &body);
          if (s != 200) ++errors;
          cycles += populi::bench::AckedCountIn(body);
          held = MessageIdsIn(body);
          held_token = populi::bench::ClaimTokenIn(body);
          continue;
        }
        conn.Post(kClaimPath, ClaimBody(node, batch), &body);
        std::vector<int64_t> ids = MessageIdsIn(body);
        int s = conn.Post(kAckPath, AckBody(node, ids, populi::bench::ClaimTokenIn(body)), &body);
        if (s != 200) ++errors;
        cycles += static_cast<int64_t>(ids.size());
      }
      std::lock_guard lock(mu);
      deliver_us.insert(deliver_us.end(), local.begin(), local.end());
    });
  }
  const auto start = Steady::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Steady::now() - start).count();
  if (driver == "epoll") {
    cycles += totals.cycles.load();
    errors += totals.errors.load();
    deliver_us = std::move(totals.deliver_us);
  }
  std::sort(deliver_us.begin(), deliver_us.end());
  auto pct = [&](double p) {
    return deliver_us.empty() ? 0.0 : deliver_us[static_cast<size_t>(p * (deliver_us.size() - 1))];
  };
  std::printf(
      "driver=%s clients=%d batch=%d deliver=%s ack=%s durability=%s seconds=%.1f cycles=%lld "
      "cycles_per_s=%.0f errors=%lld deliver_p50_ms=%.2f deliver_p99_ms=%.2f\n",
      driver.c_str(), clients, batch, plan.one_request() ? "batch" : "each",
      plan.ack_next ? "next" : "request", durability.c_str(), secs,
      static_cast<long long>(cycles.load()), static_cast<double>(cycles.load()) / secs,
      static_cast<long long>(errors.load()), pct(0.5) / 1000, pct(0.99) / 1000);
  (*server)->Stop();
  plane.Stop();
  (void)(*st)->Close();
  std::filesystem::remove_all(dir);
  return 0;
}
