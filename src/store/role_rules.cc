#include "store/role_rules.h"

#include <string>

namespace populi::store {

Status ValidateRoleArgs(std::string_view role, std::string_view holder, int64_t ttl_ms) {
  if (role.empty()) return InvalidArgument("role name is empty", "name the role, e.g. sweeper");
  if (holder.empty()) return InvalidArgument("role holder is empty", "name the holding replica");
  if (ttl_ms < 1) return InvalidArgument("role ttl must be positive", "pass a ttl_ms of 1 or more");
  return Status::Ok();
}

Result<RoleLease> NextRoleLease(std::string_view role, std::string_view holder, int64_t ttl_ms,
                                int64_t now_ms, const std::optional<RoleLease>& current) {
  POPULI_RETURN_IF_ERROR(ValidateRoleArgs(role, holder, ttl_ms));
  const bool live = current && current->expires_ms > now_ms;
  if (live && current->holder != holder) {
    return Conflict("role " + std::string(role) + " is held by " + current->holder + " until " +
                        std::to_string(current->expires_ms),
                    "wait for its lease to lapse; its holder renews it while it runs");
  }
  RoleLease lease;
  lease.role = std::string(role);
  lease.holder = std::string(holder);
  lease.expires_ms = now_ms + ttl_ms;
  if (live) {  // the holder renews: same token
    lease.fencing_token = current->fencing_token;
    lease.acquired_ms = current->acquired_ms;
  } else {
    lease.fencing_token = current ? current->fencing_token + 1 : 1;
    lease.acquired_ms = now_ms;
  }
  return lease;
}

Status CheckRoleHolder(std::string_view role, std::string_view holder, int64_t fencing_token,
                       const std::optional<RoleLease>& current) {
  POPULI_RETURN_IF_ERROR(ValidateRoleArgs(role, holder));
  if (current && current->holder == holder && current->fencing_token == fencing_token) {
    return Status::Ok();
  }
  const std::string now_held =
      current ? current->holder + " under fencing token " + std::to_string(current->fencing_token)
              : "nobody";
  return Conflict("role " + std::string(role) + " is held by " + now_held + ", not " +
                      std::string(holder) + " under token " + std::to_string(fencing_token),
                  "this holder lost the role; acquire it again before writing as its holder");
}

}  // namespace populi::store
