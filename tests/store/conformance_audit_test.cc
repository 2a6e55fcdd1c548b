// The audit log through MeshStore (every backend): appends chain in commit order, commit and roll
// back with the write they belong to, read back in pages with their head, and survive a reopen.
#include <atomic>
#include <thread>
#include <vector>

#include "store/conformance.h"

namespace populi::store::testing {
namespace {

mesh::AuditRecord AuditRec(const std::string& kind, const std::string& subject = "s",
                           int64_t ts = 1000) {
  return mesh::AuditRecord{ts, kind, "admin", subject, "{\"why\":\"test\"}"};
}

Result<mesh::AuditPage> WholeAuditLog(MeshStore& store) {
  return store.ListAudit(0, 100000);
}

TEST_P(StoreConformance, AuditAppendsChainFromGenesisAndMoveTheHead) {
  auto first = Do<mesh::AuditEntry>([](WriteTxn& t) { return t.AppendAudit(AuditRec("a")); });
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->seq, 1);
  EXPECT_EQ(first->prev_hash, mesh::AuditGenesisHash());
  EXPECT_EQ(first->hash, mesh::ComputeAuditHash(*first));
  auto second = Do<mesh::AuditEntry>([](WriteTxn& t) { return t.AppendAudit(AuditRec("b")); });
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->seq, 2);
  EXPECT_EQ(second->prev_hash, first->hash);

  auto page = WholeAuditLog(*store_);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->entries.size(), 2u);
  EXPECT_EQ(page->entries[0].kind, "a");
  EXPECT_EQ(page->entries[0].actor, "admin");
  EXPECT_EQ(page->entries[0].data_json, "{\"why\":\"test\"}");
  ASSERT_TRUE(page->head.has_value());
  EXPECT_EQ(page->head->seq, 2);
  EXPECT_EQ(page->head->hash, second->hash);
  EXPECT_TRUE(mesh::VerifyAuditChain(page->entries, page->head).ok);
}

TEST_P(StoreConformance, AuditEmptyLogHasNoHeadAndEmptyKindIsRefused) {
  auto page = WholeAuditLog(*store_);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->entries.empty());
  EXPECT_FALSE(page->head.has_value());
  auto bad = Do<mesh::AuditEntry>([](WriteTxn& t) { return t.AppendAudit(AuditRec("")); });
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->ListAudit(0, 0).status().code(), Code::kInvalidArgument);
}

TEST_P(StoreConformance, AuditEntryRollsBackWithTheWriteItRecords) {
  ASSERT_TRUE(
      Do<mesh::AuditEntry>([](WriteTxn& t) { return t.AppendAudit(AuditRec("kept")); }).ok());
  Status failed = store_->Write([](WriteTxn& t) -> Status {
    POPULI_RETURN_IF_ERROR(t.AppendAudit(AuditRec("lost")).status());
    return t.SetQuarantine("no-such-node", true);  // kNotFound: everything rolls back
  });
  EXPECT_EQ(failed.code(), Code::kNotFound);
  auto next = Do<mesh::AuditEntry>([](WriteTxn& t) { return t.AppendAudit(AuditRec("next")); });
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->seq, 2);  // the rolled-back entry left no gap
  auto page = WholeAuditLog(*store_);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->entries.size(), 2u);
  EXPECT_EQ(page->entries[1].kind, "next");
  EXPECT_TRUE(mesh::VerifyAuditChain(page->entries, page->head).ok);
}

TEST_P(StoreConformance, AuditConcurrentAppendsChainInCommitOrder) {
  constexpr int kThreads = 8, kEach = 20;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        Status s = store_->Write([&](WriteTxn& txn) {
          return txn.AppendAudit(AuditRec("t" + std::to_string(t), std::to_string(i))).status();
        });
        if (!s.ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto page = WholeAuditLog(*store_);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->entries.size(), static_cast<size_t>(kThreads * kEach));
  const mesh::AuditVerdict v = mesh::VerifyAuditChain(page->entries, page->head);
  EXPECT_TRUE(v.ok) << v.detail;
}

TEST_P(StoreConformance, AuditPagesFollowSeqAndSurviveReopen) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(Do<mesh::AuditEntry>([i](WriteTxn& t) {
                  return t.AppendAudit(AuditRec("k", std::to_string(i)));
                }).ok());
  }
  Reopen();
  auto page = store_->ListAudit(2, 3);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->entries.size(), 3u);
  EXPECT_EQ(page->entries[0].seq, 3);
  EXPECT_EQ(page->entries[2].seq, 5);
  ASSERT_TRUE(page->head.has_value());
  EXPECT_EQ(page->head->seq, 7);  // the head, not the page's last entry
  auto tail = store_->ListAudit(7, 10);
  ASSERT_TRUE(tail.ok());
  EXPECT_TRUE(tail->entries.empty());
  auto more = Do<mesh::AuditEntry>([](WriteTxn& t) { return t.AppendAudit(AuditRec("after")); });
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(more->seq, 8);
  auto all = WholeAuditLog(*store_);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(mesh::VerifyAuditChain(all->entries, all->head).ok);
}

TEST_P(StoreConformance, AuditHeadDeletedIsRecordedInTheChain) {
  ASSERT_TRUE(Do<mesh::AuditEntry>([](WriteTxn& t) { return t.AppendAudit(AuditRec("a")); }).ok());
  ASSERT_TRUE(store_->Write([](WriteTxn& t) { return t.DeleteKv("audit", "head"); }).ok());
  auto next = Do<mesh::AuditEntry>([](WriteTxn& t) { return t.AppendAudit(AuditRec("b")); });
  ASSERT_TRUE(next.ok()) << next.status().ToString();  // audited actions keep working
  EXPECT_EQ(next->seq, 3);
  auto page = WholeAuditLog(*store_);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->entries.size(), 3u);
  EXPECT_EQ(page->entries[1].kind, mesh::kAuditHeadMismatchKind);
  const mesh::AuditVerdict v = mesh::VerifyAuditChain(page->entries, page->head);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.damage, mesh::AuditDamage::kHeadMismatch);
  EXPECT_EQ(v.position, 2);
}

}  // namespace
}  // namespace populi::store::testing
