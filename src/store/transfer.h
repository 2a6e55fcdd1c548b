// Copying a whole store into another one, across backends: what `vox populi store migrate --to
// postgres` and `--from postgres` run. It goes through MeshStore alone (Export on the source, the
// WriteTxn restore path on the destination), so every backend copies into every other.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/mesh_store.h"
#include "util/status.h"

namespace populi::store {

struct CopyOptions {
  // Replace what the destination holds (WriteTxn::ClearForRestore, in the copy's transaction; its
  // fencing counters, roles and id sequences stay and are only raised). false: a destination that
  // holds any row is refused.
  bool replace = false;
};

// One table's rows: as the source exported them, and as the destination counts them afterwards.
struct CopiedTable {
  std::string table;
  int64_t source = 0;
  int64_t destination = 0;
};

struct CopyReport {
  std::vector<CopiedTable> tables;  // every table Stats() counts, in its order
  // The destination's Check() after the copy, then the copy's own items: `row_counts` (every
  // table holds as many rows as the source exported; with replace, fencing_counters and roles at
  // least as many) and `audit_head` (the destination's chain head is the source's).
  CheckReport check;
};

// Copies every record of `from` into `to`, in three steps:
//  1. `from` must pass its own Check() (kFailedPrecondition naming the failed items otherwise),
//     and `to` must hold no row unless options.replace (kAlreadyExists with the row counts);
//  2. every record is imported in one Write() of `to`: all or nothing (the first import error
//     is returned and nothing is written);
//  3. the result is verified (CopyReport::check). A copy that committed but fails verification is
//     returned with check.ok false; the caller reports it.
// `from` is read in one snapshot; nothing else should write to either store meanwhile.
Result<CopyReport> CopyStore(MeshStore& from, MeshStore& to, const CopyOptions& options);

// kFailedPrecondition when somebody holds a role in `store` at now_ms: a control plane runs on
// it, and a copy would miss (or, replacing, delete) what it writes. `what` names the store.
Status RefuseHeldRoles(MeshStore& store, std::string_view what, int64_t now_ms);

}  // namespace populi::store
