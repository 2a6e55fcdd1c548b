#include "mesh/audit.h"

#include <sodium.h>

#include <charconv>
#include <unordered_map>

namespace populi::mesh {
namespace {

constexpr std::string_view kDomainTag = "populi-audit-v1";

void PutU64(crypto_hash_sha256_state& state, uint64_t value) {
  unsigned char bytes[8];
  for (int i = 7; i >= 0; --i) {
    bytes[i] = static_cast<unsigned char>(value & 0xff);
    value >>= 8;
  }
  crypto_hash_sha256_update(&state, bytes, sizeof(bytes));
}

// Every field is its length (8 bytes, big-endian) and then its bytes: unambiguous.
void PutField(crypto_hash_sha256_state& state, std::string_view bytes) {
  PutU64(state, bytes.size());
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(bytes.data()),
                            bytes.size());
}

void PutInt(crypto_hash_sha256_state& state, int64_t value) {
  PutU64(state, 8);
  PutU64(state, static_cast<uint64_t>(value));
}

std::string Hex(const unsigned char* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

AuditVerdict Bad(AuditDamage damage, int64_t position, int64_t entries, std::string detail) {
  return AuditVerdict{false, damage, position, entries, std::move(detail)};
}

std::string At(int64_t seq) {
  return "entry " + std::to_string(seq);
}

}  // namespace

const std::string& AuditGenesisHash() {
  static const std::string kGenesis(64, '0');
  return kGenesis;
}

std::string ComputeAuditHash(const AuditEntry& e) {
  static const bool initialised = sodium_init() >= 0;
  (void)initialised;
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  PutField(state, kDomainTag);
  PutField(state, e.prev_hash);
  PutInt(state, e.seq);
  PutInt(state, e.ts_ms);
  PutField(state, e.kind);
  PutField(state, e.actor);
  PutField(state, e.subject);
  PutField(state, e.data_json);
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state, digest);
  return Hex(digest, sizeof(digest));
}

AuditEntry ChainAuditEntry(const std::optional<AuditHead>& head, const AuditRecord& record) {
  AuditEntry e;
  e.seq = head ? head->seq + 1 : 1;
  e.ts_ms = record.ts_ms;
  e.kind = record.kind;
  e.actor = record.actor;
  e.subject = record.subject;
  e.data_json = record.data_json.empty() ? "{}" : record.data_json;
  e.prev_hash = head ? head->hash : AuditGenesisHash();
  e.hash = ComputeAuditHash(e);
  return e;
}

std::string_view ToString(AuditDamage damage) {
  switch (damage) {
    case AuditDamage::kNone:
      return "none";
    case AuditDamage::kEdited:
      return "edited";
    case AuditDamage::kRemoved:
      return "removed";
    case AuditDamage::kInserted:
      return "inserted";
    case AuditDamage::kReordered:
      return "reordered";
    case AuditDamage::kTruncated:
      return "truncated";
    case AuditDamage::kHeadMismatch:
      return "head_mismatch";
  }
  return "unknown";
}

// Walks the chain from the genesis hash. At the first entry that does not follow (its hash, its
// link to the entry before, its seq), the neighbourhood tells the kinds of damage apart:
//  * link intact, content not: edited (unless the next entry links over it: inserted);
//  * links to an entry further back than its predecessor: the entries between were inserted;
//  * links to an entry further on: reordered;
//  * the next entry links over it: inserted;
//  * links to nothing present and its seq skips ahead: removed.
AuditVerdict VerifyAuditChain(const std::vector<AuditEntry>& entries,
                              const std::optional<AuditHead>& head) {
  const int64_t n = static_cast<int64_t>(entries.size());
  std::unordered_map<std::string, int64_t> accepted;  // hash → index, entries that followed
  std::unordered_map<std::string, int64_t> all;       // hash → index, every stored entry
  for (int64_t i = 0; i < n; ++i) all.emplace(entries[i].hash, i);
  std::string prev = AuditGenesisHash();
  int64_t expect = 1;
  for (int64_t i = 0; i < n; ++i) {
    const AuditEntry& e = entries[i];
    const bool self_ok = ComputeAuditHash(e) == e.hash;
    const bool link_ok = e.prev_hash == prev;
    const bool seq_ok = e.seq == expect;
    if (self_ok && link_ok && seq_ok) {
      if (e.kind == kAuditHeadMismatchKind) {
        // The control plane found the head disagreeing with the log before this entry and
        // chained on from the newest entry: whatever was cut or forged then is gone from view.
        return Bad(AuditDamage::kHeadMismatch, e.seq, n,
                   At(e.seq) +
                       " records that the chain head disagreed with the log when it was "
                       "written (" +
                       e.data_json + "): entries before it were changed");
      }
      accepted.emplace(e.hash, i);
      prev = e.hash;
      ++expect;
      continue;
    }
    if (head && expect > head->seq) {
      return Bad(AuditDamage::kInserted, expect, n,
                 At(expect) + " lies beyond the chain head (seq " + std::to_string(head->seq) +
                     "): added after the fact");
    }
    const bool next_links_over = i + 1 < n && entries[i + 1].prev_hash == prev;
    if (link_ok) {
      if (next_links_over) {
        return Bad(AuditDamage::kInserted, expect, n,
                   At(expect) + " was never chained: the entry after it links over it");
      }
      return Bad(AuditDamage::kEdited, expect, n,
                 At(expect) + " does not match its hash: its content was changed");
    }
    if (auto it = accepted.find(e.prev_hash); it != accepted.end() && it->second + 1 < i) {
      const int64_t first = entries[it->second + 1].seq;
      return Bad(AuditDamage::kInserted, first, n,
                 At(first) + " and what follows up to " + At(e.seq) +
                     " were not in the chain: entries were inserted");
    }
    if (auto it = all.find(e.prev_hash); it != all.end() && it->second > i) {
      return Bad(AuditDamage::kReordered, expect, n,
                 At(expect) + " holds an entry that belongs later: entries were reordered");
    }
    if (next_links_over) {
      return Bad(AuditDamage::kInserted, expect, n,
                 At(expect) + " was never chained: the entry after it links over it");
    }
    if (e.seq > expect || self_ok) {
      return Bad(AuditDamage::kRemoved, expect, n,
                 At(expect) + " is missing: the next entry present links to an entry that is gone");
    }
    return Bad(AuditDamage::kEdited, expect, n,
               At(expect) + " does not match its hash: its content was changed");
  }
  const int64_t last_seq = expect - 1;
  if (!head) {
    if (n == 0) return AuditVerdict{true, AuditDamage::kNone, 0, 0, "empty log"};
    return Bad(AuditDamage::kHeadMismatch, last_seq, n,
               "the chain head is missing: the log's end cannot be vouched for");
  }
  if (last_seq < head->seq) {
    return Bad(AuditDamage::kTruncated, last_seq + 1, n,
               At(last_seq + 1) + " to " + At(head->seq) + " are missing at the end of the log");
  }
  if (last_seq > head->seq) {
    return Bad(AuditDamage::kInserted, head->seq + 1, n,
               At(head->seq + 1) + " lies beyond the chain head: added after the fact");
  }
  if (prev != head->hash) {
    return Bad(AuditDamage::kHeadMismatch, last_seq, n,
               "the chain head names another hash for " + At(last_seq) +
                   ": the entry or the head was replaced");
  }
  return AuditVerdict{true, AuditDamage::kNone, 0, n,
                      std::to_string(n) + " entries, chain intact up to the head"};
}

std::string EncodeAuditHead(const AuditHead& head) {
  return std::to_string(head.seq) + ":" + head.hash;
}

std::optional<AuditHead> DecodeAuditHead(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  AuditHead head;
  auto [end, ec] = std::from_chars(text.data(), text.data() + colon, head.seq);
  if (ec != std::errc() || end != text.data() + colon || head.seq < 0) return std::nullopt;
  head.hash = std::string(text.substr(colon + 1));
  return head;
}

}  // namespace populi::mesh
