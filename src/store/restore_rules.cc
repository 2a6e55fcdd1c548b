#include "store/restore_rules.h"

#include <string>

namespace populi::store {
namespace {

constexpr char kRestoreHint[] = "check the source store with `vox populi store check`";

}  // namespace

bool IsTaskLogStream(std::string_view stream) {
  return stream == "stdout" || stream == "stderr" || stream == "system";
}

Status ValidateImportedEvent(const mesh::Event& event) {
  if (event.id < 1 || event.kind.empty()) {
    return InvalidArgument(
        "imported event " + std::to_string(event.id) + " needs a positive id and a kind",
        kRestoreHint);
  }
  return Status::Ok();
}

Status ValidateImportedTaskLog(std::string_view task_id, const TaskLogChunk& chunk) {
  const std::string what =
      "imported log chunk " + std::to_string(chunk.seq) + " of task " + std::string(task_id);
  if (task_id.empty() || chunk.seq < 1 || chunk.attempt < 0) {
    return InvalidArgument(what + " needs a task id, a positive seq and an attempt >= 0",
                           kRestoreHint);
  }
  if (!IsTaskLogStream(chunk.stream)) {
    return InvalidArgument(what + " names an unknown stream", "use stdout, stderr or system");
  }
  return Status::Ok();
}

Status ValidateImportedAudit(const mesh::AuditEntry& entry) {
  if (entry.seq < 1 || entry.kind.empty()) {
    return InvalidArgument(
        "imported audit entry " + std::to_string(entry.seq) + " needs a positive seq and a kind",
        kRestoreHint);
  }
  return Status::Ok();
}

Status ValidateImportedRole(const RoleLease& role) {
  if (role.role.empty() || role.fencing_token < 0) {
    return InvalidArgument("imported role needs a name and a fencing token >= 0", kRestoreHint);
  }
  return Status::Ok();
}

Status ValidateImportedCounter(const FencingCounter& counter) {
  if (counter.scope_key.empty() || counter.last_token < 0) {
    return InvalidArgument("imported fencing counter needs a scope key and a token >= 0",
                           kRestoreHint);
  }
  return Status::Ok();
}

}  // namespace populi::store
