// The control plane's side of observability: per-request metrics from the HTTP server's
// on_request_done hook, refusal events coalesced per source and window, and the scrape-time
// gauges read from the store and the liveness table (docs/metrics.md, docs/events.md).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "control/api/context.h"
#include "control/http/server.h"
#include "obs/metrics.h"

namespace populi::control {

class ControlMetrics {
 public:
  // Registers the scrape-time collector in the process registry; the destructor removes it.
  explicit ControlMetrics(ApiContext& ctx);
  ~ControlMetrics();
  ControlMetrics(const ControlMetrics&) = delete;
  ControlMetrics& operator=(const ControlMetrics&) = delete;

  // One finished request (any thread; never blocks: a refusal event is submitted, not awaited).
  void ObserveRequest(const http::RequestRecord& record);

  // Refusals of one kind from one source within one window become one event: the first
  // refusal of a window writes it, carrying how many refusals went unrecorded since the
  // previous event of that source.
  static constexpr int64_t kRefusalWindowMs = 60'000;

 private:
  std::vector<obs::CollectedFamily> Collect();
  void NoteRefusal(const http::RequestRecord& record);

  ApiContext& ctx_;
  obs::CounterFamily& requests_;
  obs::HistogramFamily& latency_;
  obs::CounterFamily& refusals_;
  obs::CounterFamily& heartbeats_;
  int collector_id_ = 0;

  struct Window {
    int64_t started_ms = 0;
    int64_t unrecorded = 0;  // refusals since the last event of this source
  };
  std::mutex mu_;
  std::map<std::string, Window> windows_;  // "<refusal> <source>"
};

}  // namespace populi::control
