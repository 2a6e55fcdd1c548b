// The rules of a role lease (MeshStore's WriteTxn::AcquireRole / CheckRole), the same on every
// backend: a backend reads the role's row, locked as its engine needs, and writes what these
// decide. A role's fencing token only grows: a renewal by the live holder keeps it, any other
// acquisition of a lapsed (or never held) role takes the next one.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "store/mesh_store.h"
#include "util/status.h"

namespace populi::store {

// invalid_argument for an empty role or holder, or a ttl below 1 ms.
Status ValidateRoleArgs(std::string_view role, std::string_view holder, int64_t ttl_ms = 1);

// The lease AcquireRole writes over `current` (the row as read; nullopt when never held):
// conflict while another holder's lease is live.
Result<RoleLease> NextRoleLease(std::string_view role, std::string_view holder, int64_t ttl_ms,
                                int64_t now_ms, const std::optional<RoleLease>& current);

// Ok when `holder` holds `role` under `fencing_token` according to `current`; conflict (with
// who holds it now) otherwise.
Status CheckRoleHolder(std::string_view role, std::string_view holder, int64_t fencing_token,
                       const std::optional<RoleLease>& current);

}  // namespace populi::store
