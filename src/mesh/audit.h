// The tamper-evident audit log (docs/audit.md): security events in a hash chain.
//
// Entry n carries hash(n) = SHA-256 over a domain tag, prev_hash (= hash(n-1); 64 zeros for the
// first entry) and every other field, each length-prefixed, so no two different entries encode to
// the same bytes. The store keeps the chain head (the last seq and hash) beside the entries, so a
// removed tail is found as well as an edited, removed, inserted or reordered entry.
// Pure: no I/O; the store extends the chain inside its single writer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace populi::mesh {

// What a caller records; the store assigns seq, prev_hash and hash.
struct AuditRecord {
  int64_t ts_ms = 0;
  std::string kind;              // "auth.failed", "lease.revoked", …
  std::string actor;             // the token label, "anonymous", a source address, "control-plane"
  std::string subject;           // node id, lease id, route …
  std::string data_json = "{}";  // never a token or a secret
};

struct AuditEntry {
  int64_t seq = 0;  // 1, 2, … without gaps
  int64_t ts_ms = 0;
  std::string kind;
  std::string actor;
  std::string subject;
  std::string data_json = "{}";
  std::string prev_hash;  // lowercase hex, 64 characters
  std::string hash;
};

// The newest entry's seq and hash (seq 0 and the genesis hash for an empty log).
struct AuditHead {
  int64_t seq = 0;
  std::string hash;
};

// A page of the log with the head read in the same snapshot.
struct AuditPage {
  std::vector<AuditEntry> entries;
  std::optional<AuditHead> head;  // absent when the store holds no head (empty log or removed)
};

// The kind of the entry the store chains when it finds the head disagreeing with the log.
inline constexpr std::string_view kAuditHeadMismatchKind = "audit.head_mismatch";

// The prev_hash of the first entry: 64 zeros.
const std::string& AuditGenesisHash();

// hash(entry) from prev_hash and the entry's other fields (its own `hash` is not read).
std::string ComputeAuditHash(const AuditEntry& entry);

// The entry that follows `head` (nullopt: the empty log) for `record`, hash computed.
AuditEntry ChainAuditEntry(const std::optional<AuditHead>& head, const AuditRecord& record);

enum class AuditDamage {
  kNone,
  kEdited,        // an entry's content no longer matches its hash
  kRemoved,       // entries missing before the position
  kInserted,      // an entry that was never chained here
  kReordered,     // an entry out of its place
  kTruncated,     // entries missing at the end (the head names a later one)
  kHeadMismatch,  // the head is missing or names another hash
};
std::string_view ToString(AuditDamage damage);

struct AuditVerdict {
  bool ok = true;
  AuditDamage damage = AuditDamage::kNone;
  int64_t position = 0;  // the first bad seq (1-based); 0 when ok
  int64_t entries = 0;   // entries read
  std::string detail;    // one line for the operator
};

// Verifies `entries` (in stored order, the whole log) against `head`. Finds the first bad
// position and classifies the damage; an empty log with no head is intact.
AuditVerdict VerifyAuditChain(const std::vector<AuditEntry>& entries,
                              const std::optional<AuditHead>& head);

// The kv value the store keeps the head in ("<seq>:<hash>") and its reading.
std::string EncodeAuditHead(const AuditHead& head);
std::optional<AuditHead> DecodeAuditHead(std::string_view text);

}  // namespace populi::mesh
