// a2a_load: durable deliver → claim → ack cycles over HTTP with N concurrent clients.
//
//   a2a_load [--clients 64] [--seconds 10] [--batch 1] [--deliver batch|each] [--ack request|next]
//            [--durability full|buffered] [--driver threads|epoll] [--driver-threads 1]
//            [--handler-threads N] [--tracing on|off] [--metrics on|off] [--span-retention N]
//            [--payload-bytes 1] [--idempotency-keys on|off] [--queue own|shared]
//            [--url http://HOST:PORT[,http://HOST:PORT…]] [--token SECRET]
//   a2a_load --enqueue-only 2000
//
// Without --url it starts the control plane and the HTTP server in this process on 127.0.0.1:0
// over a SQLite store in a temp directory (request log lines go to a file in that directory).
// With --url it starts nothing and drives the control planes at those URLs instead (running
// `vox populi serve` processes: replicas on one PostgreSQL schema, or one on SQLite), client c
// talking to URL c mod n, each request carrying `Authorization: Bearer SECRET` when --token is
// given (the server's settings — tracing, durability, handler threads — are then its own).
//
// Each of `clients` threads, on one keep-alive connection, joins as its own node and loops:
// deliver `batch` messages (one deliver-batch request, or with --deliver each one request per
// message), claim (one request with max_messages = batch), acknowledge what it got (one request,
// a list when batch > 1; with --ack next, in the next claim's ack_message_ids). Messages carry a
// payload of --payload-bytes letters and, with --idempotency-keys on, a key of their own (new in
// every run). With --queue own (the default) each client uses its own inbox; with --queue shared
// every client delivers to and claims from one receiver, as the workers of one job queue do — a
// claim may then get nothing (counted as empty_claims), and the next cycle starts. Prints
// cycles/s (one cycle = one message delivered, claimed and acknowledged) and deliver latency
// percentiles.
// --driver epoll runs the same clients as connections on --driver-threads epoll loops instead of
// a blocking thread each (epoll_driver.h): the load generator then takes far less of the cores
// the server runs on.
// --enqueue-only N measures enqueue latency the way the peer harness does
// (../shared/bench/peers/METHOD.md): one client, N sequential deliver requests, each waiting for
// its answer, no consumer; prints p50 / p99 (nearest rank) of the round trip.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../http_conn.h"
#include "cycle_requests.h"
#include "epoll_driver.h"
#include "in_process_plane.h"
#include "util/random.h"

namespace {

using populi::bench::AckBody;
using populi::bench::ClaimBody;
using populi::bench::Conn;
using populi::bench::CyclePlan;
using populi::bench::DriverTotals;
using populi::bench::Endpoint;
using populi::bench::kAckPath;
using populi::bench::kClaimPath;
using populi::bench::MessageIdsIn;
using Steady = std::chrono::steady_clock;

struct LoadOptions {
  int clients = 64;
  int seconds = 10;
  int driver_threads = 1;
  std::string driver = "threads";
  int enqueue_only = 0;
  populi::bench::PlaneOptions plane;  // without --url
  std::vector<Endpoint> urls;         // with --url
  std::string token;
  CyclePlan plan;
};

std::vector<Endpoint> ParseUrls(const std::string& list) {
  std::vector<Endpoint> urls;
  for (size_t start = 0; start <= list.size();) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    if (end > start) urls.push_back(populi::bench::ParseHttpUrl(list.substr(start, end - start)));
    start = end + 1;
  }
  return urls;
}

LoadOptions Parse(int argc, char** argv) {
  LoadOptions o;
  int payload_bytes = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--clients") o.clients = std::atoi(v.c_str());
    if (k == "--seconds") o.seconds = std::atoi(v.c_str());
    if (k == "--batch") o.plan.batch = std::max(1, std::atoi(v.c_str()));
    if (k == "--deliver") o.plan.deliver_each = v == "each";
    if (k == "--ack") o.plan.ack_next = v == "next";
    if (k == "--payload-bytes") payload_bytes = std::max(1, std::atoi(v.c_str()));
    if (k == "--idempotency-keys") o.plan.idempotency_keys = v == "on";
    if (k == "--queue") o.plan.shared_queue = v == "shared" ? "load-queue" : "";
    if (k == "--driver") o.driver = v;
    if (k == "--driver-threads") o.driver_threads = std::max(1, std::atoi(v.c_str()));
    if (k == "--enqueue-only") o.enqueue_only = std::max(1, std::atoi(v.c_str()));
    if (k == "--url") o.urls = ParseUrls(v);
    if (k == "--token") o.token = v;
    if (k == "--durability") o.plane.durability = v;
    if (k == "--handler-threads") o.plane.handler_threads = std::max(1, std::atoi(v.c_str()));
    if (k == "--tracing") o.plane.tracing = v != "off";
    if (k == "--metrics") o.plane.metrics = v != "off";
    if (k == "--span-retention") o.plane.span_retention = std::strtoull(v.c_str(), nullptr, 10);
  }
  o.plan.key_prefix = populi::RandomHex(6) + "-";
  o.plan.payload.clear();
  for (int i = 0; i < payload_bytes; ++i) o.plan.payload += static_cast<char>('a' + i % 26);
  return o;
}

// The nearest-rank percentile p (0..1] of sorted `v`.
double Rank(const std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, std::max<size_t>(i, 1) - 1)];
}

int RunEnqueueOnly(const LoadOptions& o, const Endpoint& to, const std::string& headers) {
  Conn conn(to, headers);
  std::string body;
  if (!conn.ok() || conn.Post("/v1/populi/join", "{\"id\":\"producer\"}", &body) != 200) {
    std::fprintf(stderr, "the producer could not connect and join\n");
    return 1;
  }
  std::vector<double> us;
  int failed = 0;
  int64_t seq = 0;
  for (int i = 0; i < o.enqueue_only; ++i) {
    const auto t0 = Steady::now();
    if (conn.Post(o.plan.deliver_path(), o.plan.deliver_body("producer", &seq), &body) != 200)
      ++failed;
    us.push_back(std::chrono::duration<double, std::micro>(Steady::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  std::printf("enqueue-only n=%d durability=%s errors=%d p50_us=%.0f p99_us=%.0f max_us=%.0f\n",
              o.enqueue_only, o.urls.empty() ? o.plane.durability.c_str() : "server", failed,
              Rank(us, 0.50), Rank(us, 0.99), us.back());
  return 0;
}

// One thread client: joins as `node`, then runs cycles until `stop`.
void ThreadClient(const LoadOptions& o, const Endpoint& to, const std::string& headers,
                  const std::string& node, const std::atomic<bool>& stop, DriverTotals& totals) {
  Conn conn(to, headers);
  std::string body;
  if (!conn.ok() || conn.Post("/v1/populi/join", "{\"id\":\"" + node + "\"}", &body) != 200) {
    ++totals.errors;
    return;
  }
  const CyclePlan& plan = o.plan;
  const std::string receiver = plan.receiver(node);
  std::vector<double> local;
  std::vector<int64_t> held;  // with --ack next: claimed, acknowledged by the next claim
  std::string held_token;     // the claim_token of `held`
  int64_t seq = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    for (int i = 0; i < plan.deliver_requests(); ++i) {
      auto t0 = Steady::now();
      int s = conn.Post(plan.deliver_path(), plan.deliver_body(node, &seq), &body);
      local.push_back(std::chrono::duration<double, std::micro>(Steady::now() - t0).count());
      if (s != 200) ++totals.errors;
    }
    if (plan.ack_next) {
      int s = conn.Post(kClaimPath, ClaimBody(receiver, node, plan.batch, held, held_token), &body);
      if (s != 200) ++totals.errors;
      totals.cycles += populi::bench::AckedCountIn(body);
      held = MessageIdsIn(body);
      held_token = populi::bench::ClaimTokenIn(body);
      if (held.empty()) ++totals.empty_claims;
      continue;
    }
    if (conn.Post(kClaimPath, ClaimBody(receiver, node, plan.batch), &body) != 200) ++totals.errors;
    std::vector<int64_t> ids = MessageIdsIn(body);
    if (ids.empty()) {
      ++totals.empty_claims;
      continue;
    }
    int s = conn.Post(kAckPath, AckBody(receiver, ids, populi::bench::ClaimTokenIn(body)), &body);
    if (s != 200) ++totals.errors;
    if (s == 200) totals.cycles += static_cast<int64_t>(ids.size());
  }
  std::lock_guard lock(totals.mu);
  totals.deliver_us.insert(totals.deliver_us.end(), local.begin(), local.end());
}

// Runs the clients for o.seconds against `urls`; returns the seconds measured.
double RunClients(const LoadOptions& o, const std::vector<Endpoint>& urls,
                  const std::string& headers, DriverTotals& totals) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<populi::bench::EpollClient>> epoll_clients;
  auto node_of = [](int c) { return "load-" + std::to_string(c); };
  if (o.driver == "epoll") {
    for (int c = 0; c < o.clients; ++c) {
      auto client = std::make_unique<populi::bench::EpollClient>(urls[c % urls.size()], headers,
                                                                 node_of(c), o.plan);
      if (!client->ok() ||
          client->conn().Post("/v1/populi/join", "{\"id\":\"" + node_of(c) + "\"}") != 200) {
        std::fprintf(stderr, "client %d could not connect and join\n", c);
        return -1;
      }
      epoll_clients.push_back(std::move(client));
    }
    for (int t = 0; t < o.driver_threads; ++t) {
      std::vector<populi::bench::EpollClient*> mine;
      for (size_t c = static_cast<size_t>(t); c < epoll_clients.size();
           c += static_cast<size_t>(o.driver_threads))
        mine.push_back(epoll_clients[c].get());
      threads.emplace_back([&totals, &stop, mine] { RunEpollLoop(mine, stop, totals); });
    }
  } else {
    for (int c = 0; c < o.clients; ++c) {
      threads.emplace_back(
          [&, c] { ThreadClient(o, urls[c % urls.size()], headers, node_of(c), stop, totals); });
    }
  }
  const auto start = Steady::now();
  std::this_thread::sleep_for(std::chrono::seconds(o.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  return std::chrono::duration<double>(Steady::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const LoadOptions o = Parse(argc, argv);
  std::unique_ptr<populi::bench::InProcessPlane> plane;
  std::vector<Endpoint> urls = o.urls;
  if (urls.empty()) {
    plane = std::make_unique<populi::bench::InProcessPlane>();
    auto port = plane->Start(o.plane, o.clients);
    if (!port.ok()) {
      std::fprintf(stderr, "%s\n", port.status().ToString().c_str());
      return 1;
    }
    urls.push_back(Endpoint{"127.0.0.1", *port});
  }
  const std::string headers =
      o.token.empty() ? std::string() : "Authorization: Bearer " + o.token + "\r\n";
  if (o.enqueue_only > 0) return RunEnqueueOnly(o, urls[0], headers);

  DriverTotals totals;
  const double secs = RunClients(o, urls, headers, totals);
  if (secs < 0) return 1;
  std::vector<double>& deliver_us = totals.deliver_us;
  std::sort(deliver_us.begin(), deliver_us.end());
  auto pct = [&](double p) {
    return deliver_us.empty() ? 0.0 : deliver_us[static_cast<size_t>(p * (deliver_us.size() - 1))];
  };
  const CyclePlan& plan = o.plan;
  std::printf(
      "driver=%s clients=%d urls=%zu batch=%d deliver=%s ack=%s queue=%s payload_bytes=%zu "
      "keys=%s durability=%s seconds=%.1f cycles=%lld cycles_per_s=%.0f errors=%lld "
      "empty_claims=%lld deliver_p50_ms=%.2f deliver_p99_ms=%.2f\n",
      o.driver.c_str(), o.clients, urls.size(), plan.batch, plan.one_request() ? "batch" : "each",
      plan.ack_next ? "next" : "request", plan.shared_queue.empty() ? "own" : "shared",
      plan.payload.size(), plan.idempotency_keys ? "on" : "off",
      plane ? o.plane.durability.c_str() : "server", secs,
      static_cast<long long>(totals.cycles.load()),
      static_cast<double>(totals.cycles.load()) / secs,
      static_cast<long long>(totals.errors.load()),
      static_cast<long long>(totals.empty_claims.load()), pct(0.5) / 1000, pct(0.99) / 1000);
  return 0;
}
