// What the restore path (WriteTxn::Import*) accepts, the same on every backend: a backend checks a
// record with these before it writes it.
#pragma once

#include <string_view>

#include "mesh/audit.h"
#include "mesh/types.h"
#include "store/mesh_store.h"
#include "util/status.h"

namespace populi::store {

// The streams a task log chunk may name: stdout, stderr, system.
bool IsTaskLogStream(std::string_view stream);

// invalid_argument, naming the record, for what the store could not hold or serve back.
Status ValidateImportedEvent(const mesh::Event& event);
Status ValidateImportedTaskLog(std::string_view task_id, const TaskLogChunk& chunk);
Status ValidateImportedAudit(const mesh::AuditEntry& entry);
Status ValidateImportedRole(const RoleLease& role);
Status ValidateImportedCounter(const FencingCounter& counter);

}  // namespace populi::store
