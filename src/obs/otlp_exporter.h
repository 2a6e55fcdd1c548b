// Sends recorded spans to an OpenTelemetry collector as OTLP/HTTP JSON, in batches, from its
// own thread. Record() only appends to a bounded queue: a slow or stalled collector never slows
// the request that ended a span. When the queue is full the span is dropped and counted.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "obs/span.h"
#include "util/status.h"

namespace populi::obs {

struct OtlpExporterOptions {
  size_t max_queue = 4'096;           // spans waiting; more are dropped
  size_t max_batch = 512;             // spans per POST
  int64_t flush_interval_ms = 1'000;  // a partial batch waits at most this long
  // The destructor waits this long for the last batch; a collector that has not answered by
  // then is abandoned (its POST finishes or times out on its own, the process need not wait).
  int64_t shutdown_grace_ms = 2'000;
  std::string version;  // service.version and the scope's version
};

class OtlpExporter final : public SpanSink {
 public:
  // `post(body)` sends one ExportTraceServiceRequest (JSON) and returns when the collector has
  // answered or its own timeout passed; it runs on the exporter's thread only.
  using PostFn = std::function<Status(const std::string& body)>;
  OtlpExporter(OtlpExporterOptions options, PostFn post);
  ~OtlpExporter() override;  // one last batch of what is queued, within shutdown_grace_ms
  OtlpExporter(const OtlpExporter&) = delete;
  OtlpExporter& operator=(const OtlpExporter&) = delete;

  void Record(Span span) override;

  struct Stats {
    uint64_t exported = 0;        // spans in batches the collector accepted
    uint64_t dropped = 0;         // spans refused because the queue was full (or at shutdown)
    uint64_t failed_batches = 0;  // POSTs that failed (their spans are not retried)
    uint64_t failed_spans = 0;
    size_t queued = 0;
  };
  Stats stats() const;

  struct State;  // shared with the sending thread, which may outlive the exporter

 private:
  std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace populi::obs
