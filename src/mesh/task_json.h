// JSON wire codecs for the task vocabulary (mesh/task.h); docs/tasks.md names every field.
//
// Same contract as mesh/json.h:
//  * Encoding omits empty strings, empty lists/maps and times of 0; numbers that carry meaning at
//    0 or below (resources, priority, exit codes, fencing tokens, counts) are always written, and
//    so are `resources` and `constraints`.
//  * Decoding ignores unknown fields and treats null as absent; TaskSpec requires `command`, Task
//    requires `id` and `spec`. Wrong types, out-of-range numbers and unknown enum strings
//    (privacy_class, state, dispatch) are kInvalidArgument naming the field path
//    ("spec.resources.gpus: …", "attempts[0].state: unknown attempt state 'x'") with a hint.
//  * TaskFromJson(ToJson(t)) reproduces every field of t; likewise for TaskSpec.
// Semantic checks (sizes, ids, kind) are ValidateTaskSpec in mesh/validate.h.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mesh/task.h"
#include "util/status.h"

namespace populi::mesh {

boost::json::object ToJson(const Resources& resources);
boost::json::object ToJson(const Constraints& constraints);
boost::json::object ToJson(const TaskSpec& spec);
boost::json::object ToJson(const Attempt& attempt);
boost::json::object ToJson(const Task& task);
// For `explain` and logs; there is no decoder (the decision is never read back).
boost::json::object ToJson(const PlacementDecision& decision);

Result<TaskSpec> TaskSpecFromJson(const boost::json::value& v);
Result<Task> TaskFromJson(const boost::json::value& v);

// ---- the agent ↔ control plane task protocol ----
// Decoders require every field that names the attempt (task_id / attempt ≥ 1, lease_id, and
// node_id on reports); a chunk's stream must be stdout, stderr or system.
boost::json::object ToJson(const TaskAssignment& assignment);
boost::json::object ToJson(const AttemptReport& report);
boost::json::object ToJson(const LogsReport& report);
boost::json::object ToJson(const ResultReport& report);

Result<TaskAssignment> TaskAssignmentFromJson(const boost::json::value& v);
Result<AttemptReport> AttemptReportFromJson(const boost::json::value& v);
Result<LogsReport> LogsReportFromJson(const boost::json::value& v);
Result<ResultReport> ResultReportFromJson(const boost::json::value& v);

}  // namespace populi::mesh
