#include "store/audit_append.h"

#include <string>

#include <boost/json.hpp>

namespace populi::store {

Result<std::vector<mesh::AuditEntry>> AuditEntriesToAppend(
    const mesh::AuditRecord& record, const std::optional<mesh::AuditEntry>& last,
    const Result<std::optional<mesh::AuditHead>>& stored) {
  if (record.kind.empty()) {
    return InvalidArgument("audit entry kind is empty", "e.g. \"auth.failed\"");
  }
  std::vector<mesh::AuditEntry> entries;
  std::optional<mesh::AuditHead> head;
  if (last) head = mesh::AuditHead{last->seq, last->hash};
  const bool head_ok =
      stored.ok() && ((!*stored && !last) || (*stored && last && (*stored)->seq == last->seq &&
                                              (*stored)->hash == last->hash));
  if (!head_ok) {
    const std::string stored_text = !stored.ok() ? "unreadable"
                                    : *stored    ? mesh::EncodeAuditHead(**stored)
                                                 : "absent";
    mesh::AuditRecord note{
        record.ts_ms, std::string(mesh::kAuditHeadMismatchKind), "control-plane", "audit",
        boost::json::serialize(boost::json::object{{"stored_head", stored_text},
                                                   {"newest_seq", last ? last->seq : int64_t{0}}})};
    entries.push_back(mesh::ChainAuditEntry(head, note));
    head = mesh::AuditHead{entries.back().seq, entries.back().hash};
  }
  entries.push_back(mesh::ChainAuditEntry(head, record));
  return entries;
}

}  // namespace populi::store
