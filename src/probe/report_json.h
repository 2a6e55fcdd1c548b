// JSON codecs for probe output: the `vox populi probe --json` report, attempt events, and the
// device / CPU objects (also the mock fixture format). Field names match the C++ members.
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

// Reads a report written by ReportToJson (the CLI's on-disk cache).
Result<ProbeReport> ReportFromJson(const boost::json::value& value);

// Reads a GpuDevice / CpuInfo object as written by the *ToJson functions (also the mock fixture
// format); unknown keys are rejected so fixture typos surface.
Result<mesh::GpuDevice> GpuDeviceFromJson(const boost::json::value& value);
Result<mesh::CpuInfo> CpuInfoFromJson(const boost::json::value& value);

}  // namespace populi::probe
