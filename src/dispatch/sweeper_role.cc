// The sweeper role of Dispatcher (dispatcher.h): which replica on the store runs the sweeper's
// passes, and what the other replicas do meanwhile.
#include "dispatch/dispatcher.h"
#include "mesh/json.h"

namespace populi::dispatch {

bool Dispatcher::leading() const {
  std::lock_guard lock(role_mu_);
  return role_token_ != 0;
}

Status Dispatcher::WriteAsSweeper(const store::WriteFn& fn) {
  int64_t token = 0;
  {
    std::lock_guard lock(role_mu_);
    token = role_token_;
  }
  if (token == 0) return store_.Write(fn);
  Status s = store_.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_RETURN_IF_ERROR(txn.CheckRole(kSweeperRole, replica_id_, token));
    return fn(txn);
  });
  if (s.code() == Code::kConflict) {
    // Fenced off (another replica took the role): stop acting as its holder at once.
    std::lock_guard lock(role_mu_);
    if (role_token_ == token) role_token_ = 0;
  }
  return s;
}

Result<bool> Dispatcher::HoldSweeperRole() {
  const int64_t now = clock_.NowMs();
  {
    // The sweeper loop wakes at every node's liveness deadline, often several times a second:
    // a held role is renewed (a durable write) once a third of its TTL has passed, not per pass,
    // which still leaves two renewals' worth of margin before it could lapse.
    std::lock_guard lock(role_mu_);
    if (role_token_ != 0 && now - role_renewed_ms_ < options_.sweeper_role_ttl_ms / 3) {
      return true;
    }
  }
  store::RoleLease held;
  Status s = store_.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(
        held, txn.AcquireRole(kSweeperRole, replica_id_, options_.sweeper_role_ttl_ms, now));
    return Status::Ok();
  });
  int64_t previous = 0;
  bool followed = false;
  {
    std::lock_guard lock(role_mu_);
    previous = role_token_;
    role_token_ = s.ok() ? held.fencing_token : 0;
    if (s.ok()) role_renewed_ms_ = now;
    if (s.code() == Code::kConflict) followed_ = true;
    followed = followed_;
  }
  if (s.code() == Code::kConflict) return false;
  POPULI_RETURN_IF_ERROR(s);
  if (previous == held.fencing_token) return true;
  if (followed) {
    // Taken over from another holder: its unflushed heartbeats are not in the store, so every
    // node gets one down window of grace from now, as after a restart. (A replica that held the
    // role from its start has the grace its construction gave.)
    POPULI_ASSIGN_OR_RETURN(auto nodes, store_.ListNodes());
    liveness_.Load(nodes, now);
  }
  Status recorded = WriteAsSweeper([&](store::WriteTxn& txn) -> Status {
    return txn
        .AppendEvent(mesh::MakeEvent(now, "control.sweeper_acquired", replica_id_,
                                     {{"replica_id", replica_id_},
                                      {"fencing_token", held.fencing_token},
                                      {"ttl_ms", options_.sweeper_role_ttl_ms}}))
        .status();
  });
  if (announce_) announce_(kEventsTopic);
  POPULI_RETURN_IF_ERROR(recorded);
  return true;
}

Status Dispatcher::ReleaseSweeperRole() {
  int64_t token = 0;
  {
    std::lock_guard lock(role_mu_);
    token = role_token_;
    role_token_ = 0;
  }
  if (token == 0) return Status::Ok();
  const int64_t now = clock_.NowMs();
  return store_.Write([&](store::WriteTxn& txn) -> Status {
    return txn.ReleaseRole(kSweeperRole, replica_id_, token, now);
  });
}

Status Dispatcher::Follow() {
  const int64_t now = clock_.NowMs();
  {
    std::lock_guard lock(role_mu_);
    followed_ = true;
  }
  // The holder judges silence on the stored times: flush them well inside one suspect window.
  if (now - last_flush_ms_ >= std::min(options_.liveness_flush_ms, options_.heartbeat_ms)) {
    POPULI_RETURN_IF_ERROR(FlushLiveness());
    last_flush_ms_ = now;
  }
  POPULI_ASSIGN_OR_RETURN(auto nodes, store_.ListNodes());
  liveness_.Adopt(nodes);
  return Status::Ok();
}

// ---- connection drops across replicas -------------------------------------------------------

void Dispatcher::RememberDrop(const std::string& node_id, int64_t now) {
  const int64_t keep_ms = 2 * options_.connection_drop_grace_ms;
  std::erase_if(recent_drops_, [&](const auto& drop) { return now - drop.second > keep_ms; });
  recent_drops_[node_id] = now;
}

bool Dispatcher::ConnectionDropped(const std::string& node_id) {
  const int64_t now = clock_.NowMs();
  const bool marked = leading() && liveness_.ConnectionDropped(node_id, now);
  {
    std::lock_guard lock(drops_mu_);
    RememberDrop(node_id, now);
  }
  // The holder announces its own drops too: the node may hold its next connection elsewhere.
  if (announce_) announce_(DroppedTopic(node_id));
  return marked;
}

void Dispatcher::ConnectionHeld(const std::string& node_id) {
  liveness_.ConnectionHeld(node_id);
  {
    std::lock_guard lock(drops_mu_);
    if (recent_drops_.erase(node_id) == 0) return;
  }
  if (!leading() && announce_) announce_(HeldTopic(node_id));
}

bool Dispatcher::AnnouncedConnectionDropped(const std::string& node_id) {
  const int64_t now = clock_.NowMs();
  {
    std::lock_guard lock(drops_mu_);
    RememberDrop(node_id, now);
  }
  return leading() && liveness_.ConnectionDropped(node_id, now, /*announced=*/true);
}

void Dispatcher::AnnouncedConnectionHeld(const std::string& node_id) {
  {
    std::lock_guard lock(drops_mu_);
    recent_drops_.erase(node_id);
  }
  liveness_.ConnectionHeld(node_id);
}

void Dispatcher::ForgetAnnouncedDrops() {
  (void)liveness_.ForgetAnnouncedDrops();
}

}  // namespace populi::dispatch
