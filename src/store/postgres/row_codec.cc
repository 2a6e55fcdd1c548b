#include "store/postgres/row_codec.h"

#include <string>

#include "mesh/json.h"

namespace populi::store::postgres {
namespace {

Status CorruptRow(std::string_view what, std::string_view detail) {
  return {Code::kStoreIo, "stored " + std::string(what) + " is unreadable: " + std::string(detail),
          "run `vox populi store check`"};
}

}  // namespace

// The node's JSON column uses the wire codec: one declaration of the record's fields.
std::string EncodeNodeJson(const mesh::NodeRecord& n) {
  return mesh::Serialize(mesh::ToJson(n));
}

Result<mesh::NodeRecord> DecodeNodeJson(std::string_view text) {
  auto parsed = mesh::ParseJson(text);
  if (!parsed.ok()) return CorruptRow("node", parsed.status().message());
  auto node = mesh::NodeRecordFromJson(*parsed);
  if (!node.ok()) return CorruptRow("node", node.status().message());
  return std::move(*node);
}

void BindNewMessage(Stmt& stmt, int first, const mesh::NewMessage& m) {
  stmt.Bind(first, m.sender)
      .Bind(first + 1, m.receiver)
      .Bind(first + 2, m.message_type)
      .Bind(first + 3, m.payload)
      .Bind(first + 4, m.idempotency_key)
      .Bind(first + 5, mesh::ToString(m.privacy_class))
      .Bind(first + 6, int64_t{m.priority})
      .Bind(first + 7, m.task_kind)
      .Bind(first + 8, m.model_id)
      .Bind(first + 9, m.traceparent)
      .Bind(first + 10, m.payload_blake3_hex)
      .Bind(first + 11, m.signature_b64)
      .Bind(first + 12, m.jwe_payload);
}

Result<mesh::A2AMessage> ReadMessage(const Stmt& row) {
  mesh::A2AMessage m;
  m.id = row.Int(0);
  m.sender = row.Text(1);
  m.receiver = row.Text(2);
  m.message_type = row.Text(3);
  m.payload = row.Text(4);
  m.idempotency_key = row.Text(5);
  auto privacy = mesh::ParsePrivacyClass(row.Text(6));
  if (!privacy.ok()) return CorruptRow("message", privacy.status().message());
  m.privacy_class = *privacy;
  m.priority = static_cast<uint8_t>(row.Int(7));
  m.task_kind = row.Text(8);
  m.model_id = row.Text(9);
  m.traceparent = row.Text(10);
  m.payload_blake3_hex = row.Text(11);
  m.signature_b64 = row.Text(12);
  m.jwe_payload = row.Text(13);
  m.created_ms = row.Int(14);
  auto state = mesh::ParseMessageState(row.Text(15));
  if (!state.ok()) return CorruptRow("message", state.status().message());
  m.state = *state;
  m.claimer_node_id = row.Text(16);
  m.claim_expires_ms = row.Int(17);
  m.delivery_count = static_cast<int32_t>(row.Int(18));
  m.acked_ms = row.Int(19);
  m.schema_version = static_cast<int>(row.Int(20));
  m.claim_token = row.Text(21);
  return m;
}

Result<mesh::ExecLease> ReadLease(const Stmt& row) {
  mesh::ExecLease l;
  l.lease_id = row.Text(0);
  l.scope_key = row.Text(1);
  l.holder_node_id = row.Text(2);
  l.fencing_token = row.Int(3);
  auto state = mesh::ParseLeaseState(row.Text(4));
  if (!state.ok()) return CorruptRow("lease", state.status().message());
  l.state = *state;
  l.granted_ms = row.Int(5);
  l.renewed_ms = row.Int(6);
  l.expires_ms = row.Int(7);
  l.ended_ms = row.Int(8);
  l.schema_version = static_cast<int>(row.Int(9));
  return l;
}

Result<mesh::NodeRecord> ReadNode(const Stmt& row) {
  POPULI_ASSIGN_OR_RETURN(mesh::NodeRecord n, DecodeNodeJson(row.Text(0)));
  auto state = mesh::ParseNodeState(row.Text(1));
  if (!state.ok()) return CorruptRow("node", state.status().message());
  n.state = *state;
  n.joined_ms = row.Int(2);
  n.last_seen_ms = row.Int(3);
  n.maintenance = row.Int(4) != 0;
  n.maintenance_until_ms = row.Int(5);
  n.quarantined = row.Int(6) != 0;
  n.schema_version = static_cast<int>(row.Int(7));
  return n;
}

mesh::Event ReadEvent(const Stmt& row) {
  mesh::Event e;
  e.id = row.Int(0);
  e.ts_ms = row.Int(1);
  e.kind = row.Text(2);
  e.subject = row.Text(3);
  e.data_json = row.Text(4);
  return e;
}

}  // namespace populi::store::postgres
