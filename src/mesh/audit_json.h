// JSON wire codec of the audit log (GET /v1/populi/audit; docs/api.md, docs/audit.md).
//
// An entry's data travels as `data_json`, the exact stored string, since the hash covers its
// bytes: re-serialising a parsed object could change them. Same contract as mesh/replies_json.h:
// unknown fields are ignored, a wrong type is kInvalidArgument naming the field path. Required on
// decode: `entries` of a page; seq, kind, prev_hash and hash of an entry; seq and hash of a head.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mesh/audit.h"
#include "util/status.h"

namespace populi::mesh {

boost::json::object ToJson(const AuditEntry& e);
boost::json::object ToJson(const AuditHead& h);
// {"entries":[…], "head":{…} (absent when none), "next_after": the last entry's seq or 0}
boost::json::object ToJson(const AuditPage& p);

Result<AuditEntry> AuditEntryFromJson(const boost::json::value& v);
Result<AuditHead> AuditHeadFromJson(const boost::json::value& v);
Result<AuditPage> AuditPageFromJson(const boost::json::value& v);

// The verdict of `vox populi audit verify --json`.
boost::json::object ToJson(const AuditVerdict& v);

}  // namespace populi::mesh
