// The audit log's hash chain (mesh/audit.h) and its wire codec: every kind of tampering is found
// at its first bad position.
#include "mesh/audit.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>
#include <utility>
#include <vector>

#include "mesh/audit_json.h"

namespace populi::mesh {
namespace {

// A chain of `n` entries and its head.
std::pair<std::vector<AuditEntry>, AuditHead> MakeAuditChain(int n) {
  std::vector<AuditEntry> entries;
  std::optional<AuditHead> head;
  for (int i = 1; i <= n; ++i) {
    AuditRecord r{1000 + i, "kind." + std::to_string(i % 3), "admin", "node-" + std::to_string(i),
                  "{\"n\":" + std::to_string(i) + "}"};
    entries.push_back(ChainAuditEntry(head, r));
    head = AuditHead{entries.back().seq, entries.back().hash};
  }
  return {entries, head.value_or(AuditHead{0, AuditGenesisHash()})};
}

// The entry a forger who knows the construction would write after `prev`.
AuditEntry ForgeAfter(const AuditEntry& prev) {
  return ChainAuditEntry(AuditHead{prev.seq, prev.hash},
                         AuditRecord{prev.ts_ms + 1, "forged", "nobody", "x", "{}"});
}

void ExpectDamage(const std::vector<AuditEntry>& entries, const std::optional<AuditHead>& head,
                  AuditDamage damage, int64_t position) {
  const AuditVerdict v = VerifyAuditChain(entries, head);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(ToString(v.damage), ToString(damage)) << v.detail;
  EXPECT_EQ(v.position, position) << v.detail;
  EXPECT_FALSE(v.detail.empty());
}

TEST(AuditChainTest, FirstEntryLinksToGenesisAndEachNextToItsPredecessor) {
  auto [entries, head] = MakeAuditChain(4);
  EXPECT_EQ(entries[0].seq, 1);
  EXPECT_EQ(entries[0].prev_hash, std::string(64, '0'));
  for (size_t i = 1; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].seq, static_cast<int64_t>(i + 1));
    EXPECT_EQ(entries[i].prev_hash, entries[i - 1].hash);
  }
  EXPECT_EQ(head.seq, 4);
  EXPECT_EQ(head.hash.size(), 64u);
  const AuditVerdict v = VerifyAuditChain(entries, head);
  EXPECT_TRUE(v.ok) << v.detail;
  EXPECT_EQ(v.entries, 4);
}

TEST(AuditChainTest, HashCoversEveryFieldAndIsUnambiguous) {
  AuditEntry base = ChainAuditEntry(std::nullopt, {5, "ab", "c", "s", "{}"});
  EXPECT_EQ(ComputeAuditHash(base), base.hash);  // deterministic
  std::set<std::string> hashes{base.hash};
  auto changed = [&](auto edit) {
    AuditEntry e = base;
    edit(e);
    hashes.insert(ComputeAuditHash(e));
  };
  changed([](AuditEntry& e) { e.seq = 2; });
  changed([](AuditEntry& e) { e.ts_ms = 6; });
  changed([](AuditEntry& e) {
    e.kind = "a";
    e.actor = "bc";
  });  // same bytes, other split
  changed([](AuditEntry& e) { e.actor = "d"; });
  changed([](AuditEntry& e) { e.subject = "t"; });
  changed([](AuditEntry& e) { e.data_json = "{\"a\":1}"; });
  changed([](AuditEntry& e) { e.prev_hash = std::string(64, '1'); });
  EXPECT_EQ(hashes.size(), 8u);
}

TEST(AuditChainTest, EmptyLogWithoutHeadIsIntactAndWithAHeadIsTruncated) {
  EXPECT_TRUE(VerifyAuditChain({}, std::nullopt).ok);
  ExpectDamage({}, AuditHead{3, std::string(64, 'a')}, AuditDamage::kTruncated, 1);
}

TEST(AuditChainTest, AnEditedFieldIsFoundAtItsEntry) {
  auto [entries, head] = MakeAuditChain(6);
  entries[2].actor = "someone-else";
  ExpectDamage(entries, head, AuditDamage::kEdited, 3);
  auto [again, head2] = MakeAuditChain(6);
  again[4].hash[0] = again[4].hash[0] == 'a' ? 'b' : 'a';
  ExpectDamage(again, head2, AuditDamage::kEdited, 5);
}

TEST(AuditChainTest, ARemovedMiddleEntryIsFoundAtItsPosition) {
  auto [entries, head] = MakeAuditChain(6);
  entries.erase(entries.begin() + 3);  // seq 4
  ExpectDamage(entries, head, AuditDamage::kRemoved, 4);
}

TEST(AuditChainTest, ARemovedLastEntryIsATruncatedTail) {
  auto [entries, head] = MakeAuditChain(6);
  entries.pop_back();
  ExpectDamage(entries, head, AuditDamage::kTruncated, 6);
}

TEST(AuditChainTest, AForgedEntryAfterTheHeadIsInserted) {
  auto [entries, head] = MakeAuditChain(5);
  entries.push_back(ForgeAfter(entries.back()));
  ExpectDamage(entries, head, AuditDamage::kInserted, 6);
  entries.back().hash = std::string(64, 'f');  // a crude forgery too
  ExpectDamage(entries, head, AuditDamage::kInserted, 6);
}

TEST(AuditChainTest, AWellFormedEntryInsertedInTheMiddleIsFound) {
  auto [entries, head] = MakeAuditChain(6);
  // The forger chains a new entry after seq 3 and renumbers the rest.
  AuditEntry forged = ForgeAfter(entries[2]);
  entries.insert(entries.begin() + 3, forged);
  for (size_t i = 4; i < entries.size(); ++i) entries[i].seq = static_cast<int64_t>(i + 1);
  ExpectDamage(entries, head, AuditDamage::kInserted, 4);
}

TEST(AuditChainTest, ACrudeEntryInsertedInTheMiddleIsFound) {
  auto [entries, head] = MakeAuditChain(6);
  AuditEntry forged = entries[2];
  forged.kind = "forged";
  forged.prev_hash = std::string(64, 'e');
  entries.insert(entries.begin() + 3, forged);
  ExpectDamage(entries, head, AuditDamage::kInserted, 4);
}

TEST(AuditChainTest, SwappedEntriesAreReordered) {
  auto [entries, head] = MakeAuditChain(6);
  std::swap(entries[1], entries[2]);  // contents of seq 2 and 3 change places
  std::swap(entries[1].seq, entries[2].seq);
  ExpectDamage(entries, head, AuditDamage::kReordered, 2);
  auto [far, head2] = MakeAuditChain(8);
  std::swap(far[2], far[6]);
  std::swap(far[2].seq, far[6].seq);
  ExpectDamage(far, head2, AuditDamage::kReordered, 3);
}

TEST(AuditChainTest, AHeadThatNamesAnotherHashOrIsMissingIsReported) {
  auto [entries, head] = MakeAuditChain(3);
  ExpectDamage(entries, std::nullopt, AuditDamage::kHeadMismatch, 3);
  AuditHead other = head;
  other.hash = std::string(64, 'c');
  ExpectDamage(entries, other, AuditDamage::kHeadMismatch, 3);
}

TEST(AuditChainTest, AHeadMismatchMarkerInTheChainFailsVerification) {
  auto [entries, head] = MakeAuditChain(3);
  AuditEntry marker = ChainAuditEntry(
      AuditHead{entries.back().seq, entries.back().hash},
      AuditRecord{9, std::string(kAuditHeadMismatchKind), "control-plane", "audit", "{}"});
  entries.push_back(marker);
  ExpectDamage(entries, AuditHead{marker.seq, marker.hash}, AuditDamage::kHeadMismatch, 4);
}

TEST(AuditChainTest, HeadTextRoundTripsAndRejectsGarbage) {
  const AuditHead head{42, std::string(64, 'b')};
  auto back = DecodeAuditHead(EncodeAuditHead(head));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->seq, 42);
  EXPECT_EQ(back->hash, head.hash);
  EXPECT_FALSE(DecodeAuditHead("no-colon").has_value());
  EXPECT_FALSE(DecodeAuditHead("x1:abc").has_value());
  EXPECT_FALSE(DecodeAuditHead("-1:abc").has_value());
}

TEST(AuditJsonTest, PageRoundTripsEveryFieldAndKeepsDataBytes) {
  auto [entries, head] = MakeAuditChain(2);
  entries[1].data_json = "{\"b\":1,  \"a\":2}";  // odd spacing must survive: the hash covers it
  AuditPage page{entries, head};
  auto back = AuditPageFromJson(boost::json::parse(boost::json::serialize(ToJson(page))));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->entries.size(), 2u);
  const AuditEntry& e = back->entries[1];
  EXPECT_EQ(e.seq, entries[1].seq);
  EXPECT_EQ(e.ts_ms, entries[1].ts_ms);
  EXPECT_EQ(e.kind, entries[1].kind);
  EXPECT_EQ(e.actor, entries[1].actor);
  EXPECT_EQ(e.subject, entries[1].subject);
  EXPECT_EQ(e.data_json, entries[1].data_json);
  EXPECT_EQ(e.prev_hash, entries[1].prev_hash);
  EXPECT_EQ(e.hash, entries[1].hash);
  ASSERT_TRUE(back->head.has_value());
  EXPECT_EQ(back->head->seq, head.seq);
  EXPECT_EQ(back->head->hash, head.hash);
  EXPECT_EQ(ToJson(page).at("next_after").as_int64(), 2);
}

TEST(AuditJsonTest, MissingRequiredFieldsAreNamed) {
  auto no_entries = AuditPageFromJson(boost::json::parse("{}"));
  ASSERT_FALSE(no_entries.ok());
  EXPECT_NE(no_entries.status().message().find("entries"), std::string::npos);
  auto no_hash = AuditPageFromJson(
      boost::json::parse(R"({"entries":[{"seq":1,"kind":"k","prev_hash":"00"}]})"));
  ASSERT_FALSE(no_hash.ok());
  EXPECT_NE(no_hash.status().message().find("entries[0].hash"), std::string::npos)
      << no_hash.status().message();
  auto bad_head = AuditPageFromJson(boost::json::parse(R"({"entries":[],"head":{"seq":"x"}})"));
  ASSERT_FALSE(bad_head.ok());
  EXPECT_NE(bad_head.status().message().find("head"), std::string::npos);
  auto no_head = AuditPageFromJson(boost::json::parse(R"({"entries":[]})"));
  ASSERT_TRUE(no_head.ok());
  EXPECT_FALSE(no_head->head.has_value());
}

}  // namespace
}  // namespace populi::mesh
