// `vox populi serve`'s tracing, from [mesh.observability]: the in-memory span store the server,
// the placer and the trace routes share, and the OTLP exporter it forwards to when
// otlp_endpoint is set. Declared in this order so the exporter outlives the store that feeds it.
#pragma once

#include <memory>
#include <string>

#include "config/config.h"
#include "obs/otlp_exporter.h"
#include "obs/span_store.h"
#include "util/status.h"

namespace populi::cli {

struct Tracing {
  std::unique_ptr<obs::OtlpExporter> exporter;  // null: no collector configured
  std::unique_ptr<obs::SpanStore> spans;        // null: tracing = false
};

// kInvalidArgument when otlp_endpoint is not an http(s)://host:port URL (optionally ending in
// /v1/traces).
Result<Tracing> TracingFrom(const config::Config& cfg, const std::string& version);

}  // namespace populi::cli
