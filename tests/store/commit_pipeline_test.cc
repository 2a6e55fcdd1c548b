// The SQLite store's commit pipeline: the log flush off the writer thread (WalSyncer) and the
// background checkpoint (Checkpointer). Real files; the crash test in sqlite_store_test.cc covers
// "acknowledged means on disk" with this pipeline on.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <thread>
#include <vector>

#include "store/sqlite/wal_syncer.h"
#include "store/store_test_util.h"

namespace populi::store::testing {
namespace {

TEST(WalSyncer, CompletesCallersOnlyAfterAFlushAndPassesFailuresThrough) {
  TempDir dir;
  const std::string log = dir.path() + "/log";
  const int fd = ::open(log.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "frame", 5), 5);
  ::close(fd);

  sqlite::WalSyncer syncer(log);
  std::promise<std::vector<std::pair<Status, int64_t>>> seen;
  auto results = std::make_shared<std::vector<std::pair<Status, int64_t>>>();
  std::vector<sqlite::WalSyncer::Completion> dones;
  for (int i = 0; i < 3; ++i) {
    dones.push_back([&, results, i](Status s) {
      results->emplace_back(std::move(s), syncer.flushes());
      if (i == 2) seen.set_value(*results);
    });
  }
  syncer.Enqueue(
      std::move(dones),
      {Status::Ok(), Conflict("message 7 is not claimed by n1", "a test hint"), Status::Ok()});
  auto got = seen.get_future().get();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(got[0].first.ok());
  EXPECT_EQ(got[1].first.code(), Code::kConflict);  // the write's own error, unchanged
  EXPECT_EQ(got[1].first.message(), "message 7 is not claimed by n1");
  EXPECT_TRUE(got[2].first.ok());
  for (const auto& [status, flushes] : got) EXPECT_GE(flushes, 1) << "completed before a flush";
  EXPECT_TRUE(syncer.failure().ok());
}

TEST(WalSyncer, AFailedFlushFailsEveryPendingWriteAndStaysFailed) {
  TempDir dir;
  sqlite::WalSyncer syncer(dir.path() + "/no-such-log");
  std::promise<Status> first;
  syncer.Enqueue({[&](Status s) { first.set_value(std::move(s)); }}, {Status::Ok()});
  Status status = first.get_future().get();
  EXPECT_EQ(status.code(), Code::kStoreIo);
  EXPECT_NE(status.message().find("no-such-log"), std::string::npos) << status.message();
  EXPECT_FALSE(status.hint().empty());
  EXPECT_EQ(syncer.failure().code(), Code::kStoreIo);
}

TEST(SqliteCommitPipeline, WritesAreRefusedOnceTheLogCannotBeFlushed) {
  TempDir dir;
  SqliteOptions options;
  options.directory = dir.path();
  auto opened = OpenSqliteStore(options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  MeshStore& store = **opened;
  auto deliver = [&](const std::string& key) {
    return store.Write([&](WriteTxn& t) { return t.Deliver(Msg("a", "b", key), 1).status(); });
  };
  ASSERT_TRUE(deliver("k1").ok());
  // An operator (or a failing disk) takes the log away under the running store.
  ASSERT_TRUE(std::filesystem::remove(SqliteDatabasePath(dir.path()) + "-wal"));
  Status lost = deliver("k2");
  EXPECT_EQ(lost.code(), Code::kStoreIo) << lost.ToString();
  Status after = deliver("k3");
  EXPECT_EQ(after.code(), Code::kStoreIo) << "a store that could not flush must stop accepting";
}

TEST(SqliteCommitPipeline, TheLogIsCopiedIntoTheDatabaseInTheBackground) {
  TempDir dir;
  SqliteOptions options;
  options.directory = dir.path();
  options.checkpoint_frames = 16;
  auto opened = OpenSqliteStore(options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  MeshStore& store = **opened;
  const std::string db_file = SqliteDatabasePath(dir.path());
  const auto initial = std::filesystem::file_size(db_file);
  for (int i = 0; i < 300; ++i) {
    Status s = store.Write([&](WriteTxn& t) {
      return t.Deliver(Msg("a", "r" + std::to_string(i % 7), "k" + std::to_string(i)), 1).status();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // Without a checkpoint every change stays in the log and the database file keeps its size.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::filesystem::file_size(db_file) <= initial &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(std::filesystem::file_size(db_file), initial);
  // The log is reused after a checkpoint instead of holding all 300 writes.
  EXPECT_LT(std::filesystem::file_size(db_file + "-wal"), 300u * 4096u);
  auto page = store.ListInbox(InboxQuery{"r3"});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->size(), 43u);  // i % 7 == 3 for 43 of 0..299
}

// Under writes that never pause, a background checkpoint never finds the log fully copied when
// the writer starts a transaction, so without the writer's catch-up the log only grows.
TEST(SqliteCommitPipeline, TheLogStaysBoundedUnderWritesThatNeverPause) {
  TempDir dir;
  SqliteOptions options;
  options.directory = dir.path();
  options.durability = Durability::kBuffered;  // no flush wait: the writer is never idle
  options.checkpoint_frames = 16;
  auto opened = OpenSqliteStore(options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  MeshStore& store = **opened;
  const std::string wal = SqliteDatabasePath(dir.path()) + "-wal";
  constexpr int kThreads = 16;
  constexpr int kWritesPerThread = 400;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        const std::string receiver = "r" + std::to_string((t * 7 + i) % 64);
        Status s = store.Write([&](WriteTxn& txn) {
          return txn.Deliver(Msg("a", receiver, std::to_string(t) + ":" + std::to_string(i)), 1)
              .status();
        });
        if (!s.ok()) failures.fetch_add(1);
      }
    });
  }
  // The log's size is sampled while the writes run: after them the last checkpoint may hide it.
  std::atomic<bool> finished{false};
  uintmax_t largest = 0;
  std::thread sampler([&] {
    while (!finished.load()) {
      std::error_code ec;
      const auto size = std::filesystem::file_size(wal, ec);
      if (!ec) largest = std::max(largest, size);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  for (auto& thread : threads) thread.join();
  finished = true;
  sampler.join();
  EXPECT_EQ(failures.load(), 0);
  // 6,400 deliveries spread over 64 inboxes dirty tens of thousands of pages in all; a log that
  // is reused holds a few times the restart threshold (4 x 16 frames) plus one batch.
  EXPECT_LT(largest, 2000u * 4096u);
  auto page = store.ListInbox(InboxQuery{"r5"});
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->size(), 64u);  // ListInbox's default page; every inbox holds 100
}

}  // namespace
}  // namespace populi::store::testing
