// JSON codecs for probe output: the `vox populi probe --json` report and attempt events. The
// device, CPU and failure objects inside use the mesh codecs (mesh/json.h). Field names match the
// C++ members.
#pragma once

#include <boost/json.hpp>

#include "mesh/types.h"
#include "probe/pipeline.h"
#include "util/status.h"

namespace populi::probe {

// {"vox.mesh.probe.name": …, "outcome": …, "duration_ms": …, "error": …, "gpus_found": …,
//  "detail": …}: the structured event of one attempt.
boost::json::object AttemptToJson(const ProbeAttempt& attempt);

// {"probed_at_ms", "duration_ms", "cpu" (or null), "gpus", "failures", "attempts"}.
boost::json::object ReportToJson(const ProbeReport& report);

// Reads a report written by ReportToJson (the CLI's on-disk cache) with the mesh codecs for the
// CPU, GPUs and failures: strict types, errors naming the field path ("gpus[1].name: expected a
// string"), unknown fields ignored, an attempt's name and outcome required.
Result<ProbeReport> ReportFromJson(const boost::json::value& value);

}  // namespace populi::probe
