// Row <-> record conversion for the PostgreSQL backend. A node record is persisted as one JSON
// column (the wire codec, mesh/json.h) beside the columns the store queries.
#pragma once

#include <string>

#include "mesh/types.h"
#include "store/postgres/conn.h"
#include "util/status.h"

namespace populi::store::postgres {

// Column lists in the order the readers below expect.
inline constexpr char kMessageColumns[] =
    "id, sender, receiver, message_type, payload, idempotency_key, privacy_class, priority, "
    "task_kind, model_id, traceparent, payload_blake3_hex, signature_b64, jwe_payload, "
    "created_ms, state, claimer_node_id, claim_expires_ms, delivery_count, acked_ms, "
    "schema_version, claim_token";
inline constexpr char kLeaseColumns[] =
    "lease_id, scope_key, holder_node_id, fencing_token, state, granted_ms, renewed_ms, "
    "expires_ms, ended_ms, schema_version";
inline constexpr char kNodeColumns[] =
    "record_json, state, joined_ms, last_seen_ms, maintenance, maintenance_until_ms, "
    "quarantined, schema_version";
inline constexpr char kEventColumns[] = "id, ts_ms, kind, subject, data_json";

// The 13 columns a NewMessage fills, in the order BindNewMessage binds them.
inline constexpr char kNewMessageColumns[] =
    "sender, receiver, message_type, payload, idempotency_key, privacy_class, priority, "
    "task_kind, model_id, traceparent, payload_blake3_hex, signature_b64, jwe_payload";
inline constexpr int kNewMessageColumnCount = 13;
// Binds `m`'s kNewMessageColumns to parameters first … first + 12.
void BindNewMessage(Stmt& stmt, int first, const mesh::NewMessage& m);

Result<mesh::A2AMessage> ReadMessage(const Stmt& row);
Result<mesh::ExecLease> ReadLease(const Stmt& row);
Result<mesh::NodeRecord> ReadNode(const Stmt& row);
mesh::Event ReadEvent(const Stmt& row);

// The node record (all fields) as JSON, and back. Decode fails with kStoreIo on malformed or
// mistyped stored JSON (the store, not the caller, is at fault).
std::string EncodeNodeJson(const mesh::NodeRecord& node);
Result<mesh::NodeRecord> DecodeNodeJson(std::string_view json);

}  // namespace populi::store::postgres
