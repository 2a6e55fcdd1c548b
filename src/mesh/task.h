// The task vocabulary (remote execution): what a submitter asks for, what the scheduler decided
// and what each attempt did. Pure data, like mesh/types.h.
//
// Lifecycle: pending → placed → running → succeeded | failed | cancelled. An attempt whose lease
// lapsed or whose node went down is `lost`; the task then goes back to pending and is placed
// again (dispatch `fallback`) until max_attempts is reached, after which it is failed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/types.h"
#include "util/status.h"

namespace populi::mesh {

enum class TaskState { kPending, kPlaced, kRunning, kSucceeded, kFailed, kCancelled };
enum class AttemptState { kPlaced, kRunning, kSucceeded, kFailed, kLost, kCancelled };
// local: ran on the submitting node; remote: placed on another node; fallback: re-placed after a
// lost attempt (MESH-083).
enum class DispatchKind { kLocal, kRemote, kFallback };

std::string_view ToString(TaskState v);
std::string_view ToString(AttemptState v);
std::string_view ToString(DispatchKind v);
Result<TaskState> ParseTaskState(std::string_view s);
Result<AttemptState> ParseAttemptState(std::string_view s);
Result<DispatchKind> ParseDispatchKind(std::string_view s);

inline bool IsTerminal(TaskState s) {
  return s == TaskState::kSucceeded || s == TaskState::kFailed || s == TaskState::kCancelled;
}

// What a task needs. Zero = does not matter. GPU memory is per GPU.
struct Resources {
  uint32_t cpus = 0;
  uint64_t memory_bytes = 0;
  uint32_t gpus = 0;
  uint64_t gpu_memory_bytes = 0;  // needed free (Layer B) on each of the `gpus` devices
};

// Where a task may run. Required labels must all match; preferred labels only add score.
// A non-empty allow list admits only those node ids; the deny list always excludes.
struct Constraints {
  std::map<std::string, std::string> required_labels;
  std::map<std::string, std::string> preferred_labels;
  std::vector<std::string> node_allow;
  std::vector<std::string> node_deny;
};

// What a submitter sends (POST /v1/populi/tasks).
struct TaskSpec {
  std::string client_key;  // idempotency key chosen by the submitter; empty = none
  std::string kind = "exec";
  std::string command;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string working_dir;  // empty = a fresh per-task scratch directory
  Resources resources;
  Constraints constraints;
  PrivacyClass privacy_class = PrivacyClass::kPrivate;
  uint8_t priority = 128;
  int64_t timeout_ms = 0;  // 0 = no limit
  int32_t max_attempts = 3;
  std::vector<std::string> secret_names;
  std::string traceparent;
  std::string submitter_node_id;  // where it was submitted from (dispatch local vs remote)
};

// The scheduler's decision for one placement (MESH-127, MESH-204): counts of why nodes were
// filtered out, and the chosen node with the GPUs reserved on it.
struct PlacementDecision {
  bool placed = false;
  std::string node_id;                 // chosen node; empty when not placed
  std::vector<std::string> gpu_uuids;  // GPUs reserved for the attempt
  int nodes_considered = 0;
  std::map<std::string, int> rejected;  // reason code → nodes ("down", "insufficient_vram", …)
  std::string summary;                  // one line for `explain`
};

struct Attempt {
  int32_t number = 0;  // 1-based
  std::string node_id;
  std::string lease_id;
  int64_t fencing_token = 0;
  DispatchKind dispatch = DispatchKind::kRemote;
  AttemptState state = AttemptState::kPlaced;
  int64_t placed_ms = 0;
  int64_t started_ms = 0;
  int64_t ended_ms = 0;
  int32_t exit_code = -1;  // valid when the attempt ended with a process exit
  std::string error;       // lease_lost, timeout, spawn_failed: …
  std::vector<std::string> gpu_uuids;
  std::string placement_summary;
};

struct Task {
  std::string id;
  TaskSpec spec;
  TaskState state = TaskState::kPending;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t ended_ms = 0;
  int32_t exit_code = -1;
  std::string pending_reason;  // last placement summary while pending
  std::vector<Attempt> attempts;
  int schema_version = kRecordSchemaVersion;
};

// ---- the agent ↔ control plane task protocol (docs/tasks.md) ----

// The inbox a node's agent claims its task assignments (`task_submit`) from: "tasks:<node id>",
// apart from the node's own A2A inbox so the task worker never claims other agents' messages.
std::string TaskInboxFor(const std::string& node_id);

// The `task_submit` payload: one attempt of a task handed to the node that holds its lease.
struct TaskAssignment {
  std::string task_id;
  int32_t attempt = 0;  // 1-based
  std::string lease_id;
  int64_t fencing_token = 0;
  int64_t lease_ttl_ms = 0;            // renew well within this
  std::vector<std::string> gpu_uuids;  // GPUs reserved for the attempt
  TaskSpec spec;
};

// What every agent report names: the attempt it speaks for (POST …/tasks/{id}/start carries
// only this). The control plane accepts a report only from the current attempt's node with its
// lease id and fencing token while that lease is live.
struct AttemptReport {
  int32_t attempt = 0;
  std::string node_id;
  std::string lease_id;
  int64_t fencing_token = 0;
};

// One piece of an attempt's output. `stream` is stdout, stderr or system.
struct LogChunk {
  std::string stream;
  std::string data;
};

// POST …/tasks/{id}/logs.
struct LogsReport : AttemptReport {
  std::vector<LogChunk> chunks;
};

// POST …/tasks/{id}/result, signed with the node's Ed25519 key over ResultSigningText.
struct ResultReport : AttemptReport {
  int32_t exit_code = -1;
  std::string error;
  std::string stdout_tail;
  std::string stderr_tail;
  std::string signature_b64;
};

// The text an agent signs for a result. `output_sha256_hex` is the SHA-256 (hex) of
// stdout_tail + "\n" + stderr_tail.
std::string ResultSigningText(const std::string& task_id, int32_t attempt,
                              const std::string& lease_id, int64_t fencing_token, int32_t exit_code,
                              const std::string& error, const std::string& output_sha256_hex);

}  // namespace populi::mesh
