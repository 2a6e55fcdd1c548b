#include "store/legacy_import.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "mesh/json_reader.h"
#include "store/sqlite.h"

namespace populi::store {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr char kFixHint[] =
    "fix or remove that record, then run `vox populi store migrate --from DIR` again";

// Integers of the earlier version: JSON numbers, or decimal strings (it wrote lease ids as
// strings on the wire and numbers on disk).
Result<int64_t> LegacyInt(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v.get_uint64());
  }
  if (v.is_string()) {
    const std::string s(v.get_string());
    if (!s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos) {
      return static_cast<int64_t>(std::stoll(s));
    }
  }
  return InvalidArgument("expected an integer or a decimal string", kFixHint);
}

// A record's reader: its path names the file and the record ("a2a-store.json: messages[3]"), so
// an error reads "a2a-store.json: messages[3].sender_agent_id: expected a string".
mesh::FieldReader RecordReader(const json::value& record, std::string where) {
  return mesh::FieldReader(record, std::move(where), {kFixHint, mesh::UnknownFields::kIgnore});
}

// Records `what` at `field` (the first error wins) and returns the reader's error.
Status Bad(mesh::FieldReader& r, std::string_view field, const std::string& what) {
  r.Fail(field, what);
  return r.status();
}

// The records array of a legacy file: either a bare array or an object with `key`: [...].
Result<std::vector<json::value>> ReadRecords(const fs::path& path, std::string_view key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status(Code::kStoreIo, "read " + path.string() + " failed", "check its permissions");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  boost::system::error_code ec;
  json::value doc = json::parse(buffer.str(), ec);
  if (ec) {
    return InvalidArgument(path.string() + " is not valid JSON: " + ec.message(),
                           "restore it from a backup, or move it away to start empty");
  }
  const json::array* records = doc.if_array();
  if (doc.is_object()) {
    mesh::FieldReader file(doc, "");
    if (const json::value* inner = file.Raw(key)) records = inner->if_array();
  }
  if (records == nullptr) {
    return InvalidArgument(path.string() + " holds no `" + std::string(key) + "` array",
                           "expected the earlier version's store file");
  }
  return std::vector<json::value>(records->begin(), records->end());
}

Result<mesh::A2AMessage> ParseMessage(const json::value& record, std::string where,
                                      int64_t now_ms) {
  mesh::FieldReader r = RecordReader(record, std::move(where));
  mesh::A2AMessage m;
  std::string privacy = "public";  // the earlier version's default
  int64_t priority = 128;
  bool acknowledged = false;
  std::string holder;
  int64_t claim_expires = 0;
  r.Field("id", m.id, LegacyInt, true);
  r.Str("sender_agent_id", m.sender, true);
  r.Str("receiver_agent_id", m.receiver, true);
  r.Str("message_type", m.message_type, true);
  r.Str("payload", m.payload, true);
  r.Field("created_unix_ms", m.created_ms, LegacyInt, true);
  r.Str("privacy_class", privacy);
  r.Field("priority", priority, LegacyInt);
  r.Str("idempotency_dedupe_key", m.idempotency_key);
  r.Str("payload_blake3_hex", m.payload_blake3_hex);
  r.Str("worker_ed25519_sig_b64", m.signature_b64);
  r.Str("jwe_payload", m.jwe_payload);
  r.Str("task_kind", m.task_kind);
  r.Str("model_id", m.model_id);
  r.Str("traceparent", m.traceparent);
  r.Bool("acknowledged", acknowledged);
  r.Str("lease_holder_node_id", holder);
  r.Field("lease_expires_unix_ms", claim_expires, LegacyInt);
  if (!r.ok()) return r.status();
  if (m.id <= 0) return Bad(r, "id", "must be positive");
  if (m.sender.empty()) return Bad(r, "sender_agent_id", "is empty");
  if (m.receiver.empty()) return Bad(r, "receiver_agent_id", "is empty");
  auto privacy_class = mesh::ParsePrivacyClass(privacy.empty() ? "public" : privacy);
  if (!privacy_class.ok()) return Bad(r, "privacy_class", "is not a known privacy class");
  m.privacy_class = *privacy_class;
  if (priority < 0 || priority > 255) return Bad(r, "priority", "must be 0..255");
  m.priority = static_cast<uint8_t>(priority);
  if (acknowledged) {
    m.state = mesh::MessageState::kAcked;
    m.acked_ms = now_ms;  // unknown in the old format: retention counts from the import
  } else if (!holder.empty() && claim_expires > now_ms) {
    m.state = mesh::MessageState::kClaimed;
    m.claimer_node_id = holder;
    m.claim_expires_ms = claim_expires;
    m.delivery_count = 1;
  } else {
    m.delivery_count = holder.empty() ? 0 : 1;
  }
  return m;
}

Result<mesh::ExecLease> ParseLease(const json::value& record, std::string where, int64_t now_ms) {
  mesh::FieldReader r = RecordReader(record, std::move(where));
  mesh::ExecLease l;
  int64_t legacy_id = 0;
  std::string state = "granted";
  r.Field("lease_id", legacy_id, LegacyInt, true);
  r.Str("scope_key", l.scope_key, true);
  r.Str("holder_node_id", l.holder_node_id, true);
  r.Field("expires_unix_ms", l.expires_ms, LegacyInt, true);
  r.Field("granted_unix_ms", l.granted_ms, LegacyInt);
  if (l.granted_ms == 0) r.Field("granted_at", l.granted_ms, LegacyInt);  // an older spelling
  r.Str("state", state);
  if (!r.ok()) return r.status();
  l.lease_id = LegacyLeaseId(static_cast<uint64_t>(legacy_id));
  if (l.scope_key.empty() || l.scope_key.size() > 2048) {
    return Bad(r, "scope_key", "must be 1..2048 bytes");
  }
  if (l.holder_node_id.empty()) return Bad(r, "holder_node_id", "is empty");
  auto parsed = mesh::ParseLeaseState(state.empty() ? "granted" : state);
  if (!parsed.ok()) return Bad(r, "state", "is not a known lease state");
  l.state = *parsed;
  if (!mesh::IsTerminal(l.state) && l.expires_ms <= now_ms) l.state = mesh::LeaseState::kExpired;
  if (mesh::IsTerminal(l.state)) l.ended_ms = now_ms;
  return l;
}

Status RenameMigrated(const fs::path& path, LegacyImportReport& report) {
  std::error_code ec;
  fs::rename(path, path.string() + ".migrated", ec);
  if (ec) {
    return Status(Code::kStoreIo, "rename " + path.string() + ": " + ec.message(),
                  "the data was imported; rename the file by hand");
  }
  report.renamed.push_back(path.string());
  return Status::Ok();
}

}  // namespace

std::string LegacyLeaseId(uint64_t legacy_id) {
  char buffer[33];
  std::snprintf(buffer, sizeof(buffer), "%032llu", static_cast<unsigned long long>(legacy_id));
  return buffer;
}

Result<LegacyImportReport> ImportLegacyJson(MeshStore& store, const std::string& from_dir,
                                            int64_t now_ms) {
  LegacyImportReport report;
  const fs::path a2a_path = fs::path(from_dir) / kLegacyA2aFile;
  const fs::path lease_path = fs::path(from_dir) / kLegacyLeaseFile;
  std::error_code ec;
  const bool has_a2a = fs::exists(a2a_path, ec);
  const bool has_leases = fs::exists(lease_path, ec);

  std::vector<mesh::A2AMessage> messages;
  if (has_a2a) {
    POPULI_ASSIGN_OR_RETURN(std::vector<json::value> records, ReadRecords(a2a_path, "messages"));
    std::set<int64_t> ids;
    for (size_t i = 0; i < records.size(); ++i) {
      const std::string where =
          std::string(kLegacyA2aFile) + ": messages[" + std::to_string(i) + "]";
      POPULI_ASSIGN_OR_RETURN(mesh::A2AMessage m, ParseMessage(records[i], where, now_ms));
      if (!ids.insert(m.id).second) {
        return InvalidArgument(where + ".id: repeats an earlier message id", kFixHint);
      }
      messages.push_back(std::move(m));
    }
  }
  std::vector<mesh::ExecLease> leases;
  if (has_leases) {
    POPULI_ASSIGN_OR_RETURN(std::vector<json::value> records, ReadRecords(lease_path, "leases"));
    std::set<std::string> ids;
    for (size_t i = 0; i < records.size(); ++i) {
      const std::string where =
          std::string(kLegacyLeaseFile) + ": leases[" + std::to_string(i) + "]";
      POPULI_ASSIGN_OR_RETURN(mesh::ExecLease l, ParseLease(records[i], where, now_ms));
      if (!ids.insert(l.lease_id).second) {
        return InvalidArgument(where + ".lease_id: repeats an earlier lease id", kFixHint);
      }
      leases.push_back(std::move(l));
    }
    // Fencing tokens follow the legacy ids' order within a scope; of several live leases on one
    // scope (the earlier version did not prevent it) only the newest stays live.
    std::sort(leases.begin(), leases.end(),
              [](const auto& a, const auto& b) { return a.lease_id < b.lease_id; });
    std::map<std::string, mesh::ExecLease*> newest_live;
    for (mesh::ExecLease& l : leases) {
      if (mesh::IsTerminal(l.state)) continue;
      auto [it, inserted] = newest_live.try_emplace(l.scope_key, &l);
      if (!inserted) {
        it->second->state = mesh::LeaseState::kRevoked;
        it->second->ended_ms = now_ms;
        report.notes.push_back("lease " + it->second->lease_id +
                               " revoked: a newer live lease on " + l.scope_key + " exists");
        it->second = &l;
      }
    }
    for (const mesh::ExecLease& l : leases) {
      if (l.state == mesh::LeaseState::kExpired) {
        report.notes.push_back("lease " + l.lease_id + " imported as expired");
      }
    }
  }

  if (!messages.empty() || !leases.empty()) {
    POPULI_RETURN_IF_ERROR(store.Write([&](WriteTxn& txn) -> Status {
      report.messages_imported = report.messages_skipped = 0;
      report.leases_imported = report.leases_skipped = 0;
      for (const mesh::A2AMessage& m : messages) {
        POPULI_ASSIGN_OR_RETURN(bool inserted, txn.ImportMessage(m));
        ++(inserted ? report.messages_imported : report.messages_skipped);
      }
      for (const mesh::ExecLease& l : leases) {
        POPULI_ASSIGN_OR_RETURN(bool inserted, txn.ImportLease(l));
        ++(inserted ? report.leases_imported : report.leases_skipped);
      }
      return Status::Ok();
    }));
  }
  if (has_a2a) POPULI_RETURN_IF_ERROR(RenameMigrated(a2a_path, report));
  if (has_leases) POPULI_RETURN_IF_ERROR(RenameMigrated(lease_path, report));
  return report;
}

Status RefuseLegacyOnlyDir(const std::string& data_dir) {
  std::error_code ec;
  const fs::path dir(data_dir);
  if (fs::exists(SqliteDatabasePath(data_dir), ec)) return Status::Ok();
  for (const char* name : {kLegacyA2aFile, kLegacyLeaseFile}) {
    if (fs::exists(dir / name, ec)) {
      return FailedPrecondition("data directory " + data_dir +
                                    " holds only the earlier version's JSON store (" + name + ")",
                                "import it first: vox populi store migrate --from " + data_dir);
    }
  }
  return Status::Ok();
}

}  // namespace populi::store
