// The attempt lifecycle of a task (docs/tasks.md): placed → running → ended, or lost (lease
// expired or revoked, node down or gone) and then placed again while attempts remain. Every
// function here runs inside one store transaction, so the task row, the lease and the event that
// records the change commit together.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/task.h"
#include "mesh/types.h"
#include "store/mesh_store.h"
#include "util/status.h"

namespace populi::dispatch {

// The task when `claim` names its current attempt — same number, node, lease id and fencing
// token — with that attempt placed or running and its lease live at `now_ms`. kNotFound for an
// unknown task; kConflict (hint: stop the process) for anything else, so a zombie of an earlier
// attempt can never touch the task.
Result<mesh::Task> CheckReporter(store::WriteTxn& txn, const std::string& task_id,
                                 const mesh::AttemptReport& claim, int64_t now_ms);

// The attempt holding `lease_id` of task `task_id` is lost (lease expired, revoked, node down);
// the task goes back to pending, or fails when no attempt is left. Does nothing when that
// attempt already ended. Appends a `task.attempt_lost` event.
Status MarkAttemptLost(store::WriteTxn& txn, const std::string& task_id,
                       const std::string& lease_id, const std::string& why, int64_t now_ms);

// Revokes every task lease in `live` whose holder is one of `holders` and marks its attempt lost
// with `why`; each revocation is a `lease.revoked` event with `by` = `why`. Leases that ended
// meanwhile are skipped. Returns how many attempts were lost.
Result<int> LoseAttemptsHeldBy(store::WriteTxn& txn, const std::vector<mesh::ExecLease>& live,
                               const std::vector<std::string>& holders, std::string_view why,
                               int64_t now_ms);

}  // namespace populi::dispatch
