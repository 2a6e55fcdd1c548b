// The node's model inventory, kept current on the control plane (docs/models.md, "Reporting";
// MESH-169, 171, 175): one thread scans the node's model directories, hub cache and engine
// endpoints at start and then every poll interval, and reports what changed.
//
// A report is the whole inventory the first time and after the control plane said it lost
// track of the node (a diff against a generation it does not hold is answered
// failed_precondition, and the whole inventory follows at once); otherwise the entries added or
// changed and the ids removed since the generation the control plane acknowledged last, or a
// refresh when nothing changed (a few dozen bytes: it tells the control plane the inventory is
// still current). A failed report is retried after an exponentially growing, fully jittered
// delay (agent/backoff.h) capped at the poll interval, reset by the next success.
//
// Each cycle is a `models.poll` span (model count, problems, engine errors, what was sent). The
// spans go to the control plane after a cycle that changed something or failed, and otherwise
// every kSpanBatchCycles cycles, so a quiet node costs one small request per poll.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/backoff.h"
#include "agent/engine_source.h"
#include "client/control_plane_api.h"
#include "models/inventory.h"
#include "models/report.h"
#include "obs/span_store.h"

namespace spdlog {
class logger;
}

namespace populi::agent {

// Quiet cycles (refreshes) whose spans are sent together.
inline constexpr int kSpanBatchCycles = 10;

struct InventoryReporterOptions {
  std::string control_url;
  std::string token;
  std::string tls_ca_file;
  std::string node_id;
  int64_t poll_ms = 60'000;
  models::InventoryOptions scan;  // model directories, hub cache, file cache, context length
  std::vector<EngineEndpoint> engines;
  int engine_timeout_ms = 5'000;
  int request_timeout_ms = 30'000;
  int64_t backoff_base_ms = 1'000;  // capped at poll_ms
  // Reports start once this says the node has joined (a report of an unknown node is refused);
  // called with a wait in ms. Empty: at once.
  std::function<bool(int64_t)> joined;
};

struct InventoryReporterStats {
  int64_t cycles = 0;
  int64_t whole_reports = 0;  // accepted whole inventories
  int64_t diff_reports = 0;   // accepted diffs
  int64_t refreshes = 0;      // accepted refreshes
  int64_t resyncs = 0;        // diffs refused for their generation (a whole report followed)
  int64_t failures = 0;       // cycles whose report was not accepted
  int consecutive_failures = 0;
  int64_t last_delay_ms = 0;  // the last backoff delay
  int64_t generation = 0;     // what the control plane acknowledged last (0: nothing)
  int64_t models = 0;         // entries of the last scan
};

class InventoryReporter {
 public:
  InventoryReporter(InventoryReporterOptions options, std::shared_ptr<spdlog::logger> logger);
  ~InventoryReporter();  // Stop()
  InventoryReporter(const InventoryReporter&) = delete;
  InventoryReporter& operator=(const InventoryReporter&) = delete;

  void Start();
  // Ends the thread after the cycle in progress. Idempotent.
  void Stop();

  // One scan and report on the caller's thread (what the thread does every poll); the status of
  // the report. Not to be called while the thread runs.
  Status RunCycle();
  InventoryReporterStats stats() const;
  // The cycles' spans not sent yet (the thread sends them after each cycle).
  std::vector<obs::Span> TakeSpans() { return spans_.Take(); }

 private:
  void Loop();
  mesh::ModelInventory Scan(obs::ActiveSpan& span);
  // Sends the report bringing the control plane to `inv`, once more whole if it lost track.
  Status Report(const mesh::ModelInventory& inv, obs::ActiveSpan& span);
  // Sends the buffered spans: `at_once`, or when kSpanBatchCycles quiet cycles have gathered.
  void SendSpans(bool now);
  bool Sleep(int64_t ms);

  InventoryReporterOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  models::InventoryBuilder builder_;
  EngineSource engines_;
  client::ControlPlaneApi api_;
  Backoff backoff_;
  models::AckedInventory acked_;  // the reporting thread's (or RunCycle's caller's) only
  obs::SpanBuffer spans_;
  int64_t spans_refused_until_ms_ = 0;  // the control plane's tracing is off: send none until then
  int quiet_cycles_ = 0;                // refreshes since the spans were last sent
  bool last_was_refresh_ = false;       // the last accepted report was a refresh

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  InventoryReporterStats stats_;
  std::thread thread_;
};

}  // namespace populi::agent
