#include "store/legacy_import.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "store/sqlite.h"

namespace populi::store {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr char kFixHint[] =
    "fix or remove that record, then run `vox populi store migrate --from DIR` again";

// Reads one record's fields, remembering where it came from for error messages.
class Fields {
 public:
  Fields(const json::value& v, std::string where) : where_(std::move(where)) {
    if (v.is_object()) obj_ = &v.get_object();
  }
  bool is_object() const { return obj_ != nullptr; }
  const std::string& where() const { return where_; }

  Status Bad(std::string_view field, std::string_view why) const {
    return InvalidArgument(where_ + ": " + std::string(field) + " " + std::string(why), kFixHint);
  }
  const json::value* Get(std::string_view field) const {
    const json::value* v = obj_->if_contains(field);
    return v == nullptr || v->is_null() ? nullptr : v;
  }
  Result<std::string> Text(std::string_view field, bool required) const {
    const json::value* v = Get(field);
    if (v == nullptr) {
      if (required) return Bad(field, "is missing");
      return std::string();
    }
    if (!v->is_string()) return Bad(field, "must be a string");
    return std::string(v->get_string());
  }
  // Integers may be JSON numbers or decimal strings (the earlier version wrote lease ids as
  // strings on the wire and numbers on disk).
  Result<int64_t> Int(std::string_view field, bool required) const {
    const json::value* v = Get(field);
    if (v == nullptr) {
      if (required) return Bad(field, "is missing");
      return int64_t{0};
    }
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
      return static_cast<int64_t>(v->get_uint64());
    }
    if (v->is_string()) {
      const std::string s(v->get_string());
      if (!s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos) {
        return static_cast<int64_t>(std::stoll(s));
      }
    }
    return Bad(field, "must be a non-negative integer");
  }
  Result<bool> Bool(std::string_view field) const {
    const json::value* v = Get(field);
    if (v == nullptr) return false;
    if (!v->is_bool()) return Bad(field, "must be true or false");
    return v->get_bool();
  }

 private:
  const json::object* obj_ = nullptr;
  std::string where_;
};

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
  const json::array* records = nullptr;
  if (doc.is_array()) {
    records = &doc.get_array();
  } else if (doc.is_object()) {
    const json::value* inner = doc.get_object().if_contains(key);
    if (inner != nullptr && inner->is_array()) records = &inner->get_array();
  }
  if (records == nullptr) {
    return InvalidArgument(path.string() + " holds no `" + std::string(key) + "` array",
                           "expected the earlier version's store file");
  }
  return std::vector<json::value>(records->begin(), records->end());
}

Result<mesh::A2AMessage> ParseMessage(const Fields& f, int64_t now_ms) {
  if (!f.is_object()) return InvalidArgument(f.where() + " is not an object", kFixHint);
  mesh::A2AMessage m;
  POPULI_ASSIGN_OR_RETURN(m.id, f.Int("id", true));
  if (m.id <= 0) return f.Bad("id", "must be positive");
  POPULI_ASSIGN_OR_RETURN(m.sender, f.Text("sender_agent_id", true));
  POPULI_ASSIGN_OR_RETURN(m.receiver, f.Text("receiver_agent_id", true));
  if (m.sender.empty()) return f.Bad("sender_agent_id", "is empty");
  if (m.receiver.empty()) return f.Bad("receiver_agent_id", "is empty");
  POPULI_ASSIGN_OR_RETURN(m.message_type, f.Text("message_type", true));
  POPULI_ASSIGN_OR_RETURN(m.payload, f.Text("payload", true));
  POPULI_ASSIGN_OR_RETURN(m.created_ms, f.Int("created_unix_ms", true));
  POPULI_ASSIGN_OR_RETURN(std::string privacy, f.Text("privacy_class", false));
  if (privacy.empty()) privacy = "public";  // the earlier version's default
  auto privacy_class = mesh::ParsePrivacyClass(privacy);
  if (!privacy_class.ok()) return f.Bad("privacy_class", "is not a known privacy class");
  m.privacy_class = *privacy_class;
  POPULI_ASSIGN_OR_RETURN(int64_t priority, f.Int("priority", false));
  if (f.Get("priority") == nullptr) priority = 128;
  if (priority > 255) return f.Bad("priority", "must be 0..255");
  m.priority = static_cast<uint8_t>(priority);
  POPULI_ASSIGN_OR_RETURN(m.idempotency_key, f.Text("idempotency_dedupe_key", false));
  POPULI_ASSIGN_OR_RETURN(m.payload_blake3_hex, f.Text("payload_blake3_hex", false));
  POPULI_ASSIGN_OR_RETURN(m.signature_b64, f.Text("worker_ed25519_sig_b64", false));
  POPULI_ASSIGN_OR_RETURN(m.jwe_payload, f.Text("jwe_payload", false));
  POPULI_ASSIGN_OR_RETURN(m.task_kind, f.Text("task_kind", false));
  POPULI_ASSIGN_OR_RETURN(m.model_id, f.Text("model_id", false));
  POPULI_ASSIGN_OR_RETURN(m.traceparent, f.Text("traceparent", false));
  POPULI_ASSIGN_OR_RETURN(bool acknowledged, f.Bool("acknowledged"));
  POPULI_ASSIGN_OR_RETURN(std::string holder, f.Text("lease_holder_node_id", false));
  POPULI_ASSIGN_OR_RETURN(int64_t claim_expires, f.Int("lease_expires_unix_ms", false));
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

Result<mesh::ExecLease> ParseLease(const Fields& f, int64_t now_ms) {
  if (!f.is_object()) return InvalidArgument(f.where() + " is not an object", kFixHint);
  mesh::ExecLease l;
  POPULI_ASSIGN_OR_RETURN(int64_t legacy_id, f.Int("lease_id", true));
  l.lease_id = LegacyLeaseId(static_cast<uint64_t>(legacy_id));
  POPULI_ASSIGN_OR_RETURN(l.scope_key, f.Text("scope_key", true));
  if (l.scope_key.empty() || l.scope_key.size() > 2048) {
    return f.Bad("scope_key", "must be 1..2048 bytes");
  }
  POPULI_ASSIGN_OR_RETURN(l.holder_node_id, f.Text("holder_node_id", true));
  if (l.holder_node_id.empty()) return f.Bad("holder_node_id", "is empty");
  POPULI_ASSIGN_OR_RETURN(l.expires_ms, f.Int("expires_unix_ms", true));
  POPULI_ASSIGN_OR_RETURN(l.granted_ms, f.Int("granted_unix_ms", false));
  if (l.granted_ms == 0) {
    POPULI_ASSIGN_OR_RETURN(l.granted_ms, f.Int("granted_at", false));
  }
  POPULI_ASSIGN_OR_RETURN(std::string state, f.Text("state", false));
  if (state.empty()) state = "granted";
  auto parsed = mesh::ParseLeaseState(state);
  if (!parsed.ok()) return f.Bad("state", "is not a known lease state");
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
      Fields f(records[i], std::string(kLegacyA2aFile) + ": messages[" + std::to_string(i) + "]");
      POPULI_ASSIGN_OR_RETURN(mesh::A2AMessage m, ParseMessage(f, now_ms));
      if (!ids.insert(m.id).second) return f.Bad("id", "repeats an earlier message id");
      messages.push_back(std::move(m));
    }
  }
  std::vector<mesh::ExecLease> leases;
  if (has_leases) {
    POPULI_ASSIGN_OR_RETURN(std::vector<json::value> records, ReadRecords(lease_path, "leases"));
    std::set<std::string> ids;
    for (size_t i = 0; i < records.size(); ++i) {
      Fields f(records[i], std::string(kLegacyLeaseFile) + ": leases[" + std::to_string(i) + "]");
      POPULI_ASSIGN_OR_RETURN(mesh::ExecLease l, ParseLease(f, now_ms));
      if (!ids.insert(l.lease_id).second) return f.Bad("lease_id", "repeats an earlier lease id");
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
