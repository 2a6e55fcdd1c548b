// The audit log's append rule (WriteTxn::AppendAudit, docs/audit.md), the same on every backend:
// a backend reads the newest entry and the stored head inside its write transaction, writes the
// entries this returns in order, and stores the last one's head.
#pragma once

#include <optional>
#include <vector>

#include "mesh/audit.h"
#include "util/status.h"

namespace populi::store {

// The entries appending `record` writes: its entry chained after `last`, preceded by an
// `audit.head_mismatch` marker when the stored head (`stored`; an error when unreadable) does not
// name `last` — the damage is recorded in the chain itself, and audited actions keep working.
// invalid_argument for a record without a kind.
Result<std::vector<mesh::AuditEntry>> AuditEntriesToAppend(
    const mesh::AuditRecord& record, const std::optional<mesh::AuditEntry>& last,
    const Result<std::optional<mesh::AuditHead>>& stored);

}  // namespace populi::store
