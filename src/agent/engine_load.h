// What the node's engines say of their own load (docs/inference.md, "Engine truth"), read next
// to the engine source's model lists and carried to the control plane by the heartbeat:
//   - llama.cpp's llama-server: GET /slots, one object per slot; a slot is busy when
//     `is_processing` is true (current servers) or `state` is not 0 (older ones). A server
//     started without the slots endpoint answers 501 (or 404): no report.
//   - vLLM: GET /metrics (Prometheus text): vllm:num_requests_running is busy,
//     vllm:num_requests_waiting is waiting, each summed over its label sets.
//   - Ollama says which models are loaded (GET /api/ps, the inventory's `loaded`) but not how
//     many requests run: no report.
// An endpoint that fails or offers neither reports nothing — never a zero it did not read — and
// one that offered neither is asked again only every kEngineLoadRecheckRounds rounds.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/json/value.hpp>

#include "agent/engine_source.h"
#include "mesh/inference.h"
#include "util/status.h"

namespace populi::agent {

inline constexpr int kEngineLoadRecheckRounds = 30;

// A reading's counts (the endpoint and time are the caller's).
struct EngineCounts {
  int64_t busy = 0;
  int64_t waiting = -1;  // -1: not said
  int64_t slots = -1;
};

// llama-server's GET /slots answer. kInvalidArgument when it is not that shape.
Result<EngineCounts> ParseLlamaSlots(const boost::json::value& doc);
// vLLM's GET /metrics answer. kNotFound when it has no vllm:num_requests_running sample.
Result<EngineCounts> ParseVllmMetrics(std::string_view text);

// Asks each endpoint for its load; one probe per caller thread at a time.
class EngineLoadProbe {
 public:
  explicit EngineLoadProbe(std::vector<EngineEndpoint> endpoints, int timeout_ms = 1'000);
  ~EngineLoadProbe();
  EngineLoadProbe(const EngineLoadProbe&) = delete;
  EngineLoadProbe& operator=(const EngineLoadProbe&) = delete;

  // One reading per endpoint that gave one, observed at `now_ms`.
  std::vector<mesh::EngineLoad> Probe(int64_t now_ms);

 private:
  struct Endpoint;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  int timeout_ms_;
};

// Probes on a thread of its own every `interval_ms`, so a slow engine never delays a heartbeat;
// the heartbeat takes the last round's readings.
class EngineLoadMonitor {
 public:
  EngineLoadMonitor(std::vector<EngineEndpoint> endpoints, int64_t interval_ms);
  ~EngineLoadMonitor();  // Stop()
  EngineLoadMonitor(const EngineLoadMonitor&) = delete;
  EngineLoadMonitor& operator=(const EngineLoadMonitor&) = delete;

  void Start();
  void Stop();  // idempotent
  // The last round's readings, none when that round is older than two intervals.
  std::vector<mesh::EngineLoad> Latest() const;

 private:
  void Loop();

  EngineLoadProbe probe_;
  const int64_t interval_ms_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<mesh::EngineLoad> latest_;
  int64_t latest_ms_ = 0;
  std::thread thread_;
};

}  // namespace populi::agent
