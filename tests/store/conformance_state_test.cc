// Conformance: transactions, nodes, events, kv, retention, stats and check.
#include <atomic>
#include <future>
#include <thread>

#include "store/conformance.h"

namespace populi::store::testing {
namespace {

TEST_P(StoreConformance, FailedWriteLeavesNothing) {
  Status status = store_->Write([](WriteTxn& t) -> Status {
    POPULI_RETURN_IF_ERROR(t.Deliver(Msg("a", "b", "k"), 1).status());
    POPULI_RETURN_IF_ERROR(t.PutKv("ns", "k", "v"));
    POPULI_RETURN_IF_ERROR(t.GrantLease("task:1", "n1", 1000, 1).status());
    return Conflict("changed my mind", "a test hint");
  });
  EXPECT_EQ(status.code(), Code::kConflict);
  EXPECT_EQ(*store_->CountPending("b"), 0);
  EXPECT_FALSE(store_->GetKv("ns", "k")->has_value());
  EXPECT_FALSE(store_->LiveLeaseForScope("task:1", 2)->has_value());
  // The rolled-back grant consumed no fencing token.
  auto lease =
      Do<mesh::ExecLease>([](WriteTxn& t) { return t.GrantLease("task:1", "n1", 1000, 1); });
  EXPECT_EQ(lease->fencing_token, 1);
}

TEST_P(StoreConformance, FailingWriteDoesNotDisturbItsBatch) {
  // The first write holds the writer until the rest are queued, so they share one batch.
  std::promise<void> queued;
  std::shared_future<void> go = queued.get_future().share();
  std::promise<Status> first_done;
  store_->SubmitWrite(
      [go](WriteTxn& t) -> Status {
        go.wait();
        return t.PutKv("ns", "first", "1");
      },
      [&](Status s) { first_done.set_value(s); });
  constexpr int kWrites = 9;
  std::vector<std::promise<Status>> done(kWrites);
  for (int i = 0; i < kWrites; ++i) {
    store_->SubmitWrite(
        [i](WriteTxn& t) -> Status {
          POPULI_RETURN_IF_ERROR(t.PutKv("ns", "k" + std::to_string(i), "v"));
          if (i % 3 == 1)
            return InvalidArgument("write " + std::to_string(i) + " fails", "a test hint");
          return Status::Ok();
        },
        [&done, i](Status s) { done[i].set_value(s); });
  }
  queued.set_value();
  EXPECT_TRUE(first_done.get_future().get().ok());
  for (int i = 0; i < kWrites; ++i) {
    Status s = done[i].get_future().get();
    const bool should_fail = i % 3 == 1;
    EXPECT_EQ(s.ok(), !should_fail) << i << " " << s.ToString();
    EXPECT_EQ(store_->GetKv("ns", "k" + std::to_string(i))->has_value(), !should_fail) << i;
  }
}

TEST_P(StoreConformance, GrantAndDeliverAtomically) {
  Status status = store_->Write([](WriteTxn& t) -> Status {
    POPULI_ASSIGN_OR_RETURN(mesh::ExecLease lease, t.GrantLease("task:7", "n1", 1000, 5));
    auto m = Msg("control", "n1");
    m.payload = lease.lease_id;
    return t.Deliver(m, 5).status();
  });
  ASSERT_TRUE(status.ok()) << status.ToString();
  auto lease = store_->LiveLeaseForScope("task:7", 6);
  auto inbox = store_->ListInbox({"n1", 0, 10, false});
  ASSERT_TRUE(lease->has_value());
  ASSERT_EQ(inbox->size(), 1u);
  EXPECT_EQ((*inbox)[0].payload, (*lease)->lease_id);
}

TEST_P(StoreConformance, WriteSeesItsOwnWrites) {
  Status status = store_->Write([](WriteTxn& t) -> Status {
    POPULI_RETURN_IF_ERROR(t.PutKv("pair", "code", "1234"));
    POPULI_ASSIGN_OR_RETURN(auto value, t.GetKv("pair", "code"));
    if (value != std::optional<std::string>("1234"))
      return Internal("own write invisible", "a test hint");
    POPULI_RETURN_IF_ERROR(t.DeleteKv("pair", "code"));
    POPULI_ASSIGN_OR_RETURN(value, t.GetKv("pair", "code"));
    if (value.has_value()) return Internal("own delete invisible", "a test hint");
    return t.PutKv("pair", "code", "5678");
  });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(*store_->GetKv("pair", "code"), std::optional<std::string>("5678"));
}

TEST_P(StoreConformance, ListKvReadsOneNamespaceByKey) {
  using Rows = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(*store_->ListKv("models"), Rows{});
  ASSERT_TRUE(store_
                  ->Write([](WriteTxn& t) -> Status {
                    POPULI_RETURN_IF_ERROR(t.PutKv("models", "node-b", "{\"b\":1}"));
                    POPULI_RETURN_IF_ERROR(t.PutKv("models", "node-a", "{\"a\":1}"));
                    POPULI_RETURN_IF_ERROR(t.PutKv("models.refresh", "node-a", "other"));
                    POPULI_RETURN_IF_ERROR(t.PutKv("modelz", "node-c", "other"));
                    return t.PutKv("models", "node-c", "gone soon");
                  })
                  .ok());
  EXPECT_EQ(*store_->ListKv("models"),
            (Rows{{"node-a", "{\"a\":1}"}, {"node-b", "{\"b\":1}"}, {"node-c", "gone soon"}}));
  ASSERT_TRUE(store_
                  ->Write([](WriteTxn& t) -> Status {
                    POPULI_RETURN_IF_ERROR(t.DeleteKv("models", "node-c"));
                    return t.PutKv("models", "node-a", "{\"a\":2}");
                  })
                  .ok());
  EXPECT_EQ(*store_->ListKv("models"), (Rows{{"node-a", "{\"a\":2}"}, {"node-b", "{\"b\":1}"}}));
  EXPECT_EQ(*store_->ListKv("models.refresh"), (Rows{{"node-a", "other"}}));
}

mesh::NodeRecord Node(std::string id) {
  mesh::NodeRecord n;
  n.id = std::move(id);
  n.version = "0.1.0";
  n.labels = {{"zone", "attic"}};
  n.visibility = mesh::Visibility::kHybrid;
  n.cpu.model = "Ryzen";
  n.cpu.cores = 8;
  mesh::GpuDevice gpu;
  gpu.uuid = "GPU-1";
  gpu.name = "RTX";
  gpu.memory_total_bytes = 24ull << 30;
  gpu.utilization_pct = 7;
  gpu.confirmed_by = {"nvml", "vulkan"};
  gpu.memory_allocatable_bytes = 20ull << 30;
  n.gpus.push_back(gpu);
  n.probe_failures.push_back({"vulkan", "library_missing", "no loader", "install it"});
  n.joined_ms = 100;
  n.last_seen_ms = 100;
  return n;
}

TEST_P(StoreConformance, NodesKeepAdminFieldsOnUpsert) {
  ASSERT_TRUE(store_->Write([](WriteTxn& t) { return t.UpsertNode(Node("n1")); }).ok());
  ASSERT_TRUE(store_
                  ->Write([](WriteTxn& t) -> Status {
                    POPULI_RETURN_IF_ERROR(t.SetQuarantine("n1", true));
                    POPULI_RETURN_IF_ERROR(t.SetMaintenance("n1", true, 9000));
                    return t.TouchNode("n1", 500);
                  })
                  .ok());
  auto rejoin = Node("n1");
  rejoin.joined_ms = 999;
  rejoin.last_seen_ms = 600;
  rejoin.cpu.cores = 16;
  ASSERT_TRUE(store_->Write([&](WriteTxn& t) { return t.UpsertNode(rejoin); }).ok());
  auto got = *store_->GetNode("n1");
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->quarantined);
  EXPECT_TRUE(got->maintenance);
  EXPECT_EQ(got->maintenance_until_ms, 9000);
  EXPECT_EQ(got->joined_ms, 100);
  EXPECT_EQ(got->last_seen_ms, 600);
  EXPECT_EQ(got->cpu.cores, 16u);
  ASSERT_EQ(got->gpus.size(), 1u);
  EXPECT_EQ(got->gpus[0].memory_total_bytes, 24ull << 30);
  EXPECT_EQ(got->gpus[0].utilization_pct, std::optional<uint32_t>(7));
  EXPECT_EQ(got->gpus[0].temperature_c, std::nullopt);
  EXPECT_EQ(got->gpus[0].confirmed_by, (std::vector<std::string>{"nvml", "vulkan"}));
  EXPECT_EQ(got->gpus[0].memory_allocatable_bytes, 20ull << 30);
  ASSERT_EQ(got->probe_failures.size(), 1u);
  EXPECT_EQ(got->probe_failures[0].hint, "install it");
  EXPECT_EQ(got->labels.at("zone"), "attic");
  EXPECT_EQ(got->visibility, mesh::Visibility::kHybrid);
  ASSERT_TRUE(store_->Write([&](WriteTxn& t) { return t.UpsertNode(rejoin, true); }).ok());
  got = *store_->GetNode("n1");
  EXPECT_FALSE(got->quarantined);
  EXPECT_EQ(got->joined_ms, 999);
}

TEST_P(StoreConformance, NodeStateListAndRemove) {
  ASSERT_TRUE(store_
                  ->Write([](WriteTxn& t) -> Status {
                    POPULI_RETURN_IF_ERROR(t.UpsertNode(Node("b")));
                    POPULI_RETURN_IF_ERROR(t.UpsertNode(Node("a")));
                    return t.SetNodeState("a", mesh::NodeState::kSuspect);
                  })
                  .ok());
  auto nodes = store_->ListNodes();
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_EQ((*nodes)[0].id, "a");
  EXPECT_EQ((*nodes)[0].state, mesh::NodeState::kSuspect);
  EXPECT_EQ(store_->Write([](WriteTxn& t) { return t.RemoveNode("zz"); }).code(), Code::kNotFound);
  EXPECT_EQ(store_->Write([](WriteTxn& t) { return t.TouchNode("zz", 1); }).code(),
            Code::kNotFound);
  ASSERT_TRUE(store_->Write([](WriteTxn& t) { return t.RemoveNode("a"); }).ok());
  EXPECT_FALSE(store_->GetNode("a")->has_value());
}

TEST_P(StoreConformance, EventsAppendInOrder) {
  for (int i = 0; i < 5; ++i) {
    auto id = Do<int64_t>([&](WriteTxn& t) {
      return t.AppendEvent({0, 100 + i, "node.down", "n" + std::to_string(i), "{\"i\":1}"});
    });
    ASSERT_TRUE(id.ok());
  }
  auto first = store_->ListEvents(0, 3);
  ASSERT_EQ(first->size(), 3u);
  auto rest = store_->ListEvents(first->back().id, 10);
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ((*rest)[1].subject, "n4");
  EXPECT_EQ((*rest)[1].data_json, "{\"i\":1}");
  EXPECT_EQ(Do<int64_t>([](WriteTxn& t) { return t.AppendEvent({}); }).status().code(),
            Code::kInvalidArgument);
}

TEST_P(StoreConformance, RetentionDeletesOnlyOldFinishedRowsInBatches) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(Deliver(Msg("s", "r", "k" + std::to_string(i)), 10)->message_id);
  ASSERT_TRUE(Do<std::vector<int64_t>>([&](WriteTxn& t) {
                return t.Ack("r", {ids[0], ids[1], ids[2], ids[3]}, "", 20);
              }).ok());
  ASSERT_TRUE(Do<int64_t>([](WriteTxn& t) {
                return t.AppendEvent({0, 20, "x.y", "", "{}"});
              }).ok());
  auto too_young = store_->RunRetention(1000, 990, 100);  // cutoff 10: nothing is older
  EXPECT_EQ(too_young->messages_deleted + too_young->events_deleted, 0);
  auto batch = store_->RunRetention(1000, 100, 3);
  EXPECT_EQ(batch->messages_deleted, 3);
  EXPECT_EQ(batch->events_deleted, 1);
  auto rest = store_->RunRetention(1000, 100, 3);
  EXPECT_EQ(rest->messages_deleted, 1);
  EXPECT_TRUE(store_->GetMessage(ids[4])->has_value());  // pending survives
  // The dedupe key of a deleted row is free again.
  EXPECT_FALSE(Deliver(Msg("s", "r", "k0"))->duplicate);
}

TEST_P(StoreConformance, StatsAndCheckOnAHealthyStore) {
  ASSERT_TRUE(Deliver(Msg("s", "r")).ok());
  ASSERT_TRUE(Do<mesh::ExecLease>([](WriteTxn& t) { return t.GrantLease("s", "h", 10, 0); }).ok());
  auto stats = store_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_GT(stats->size_bytes, 0);
  EXPECT_GE(stats->schema_version, 1);
  std::map<std::string, int64_t> rows(stats->row_counts.begin(), stats->row_counts.end());
  EXPECT_EQ(rows["messages"], 1);
  EXPECT_EQ(rows["exec_leases"], 1);
  EXPECT_EQ(rows["nodes"], 0);
  auto report = store_->Check();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok);
  EXPECT_GE(report->items.size(), 5u);
  for (const auto& item : report->items) EXPECT_TRUE(item.ok) << item.name << ": " << item.detail;
}

TEST_P(StoreConformance, ClosedStoreRefusesWork) {
  ASSERT_TRUE(store_->Close().ok());
  EXPECT_TRUE(store_->Close().ok());
  EXPECT_EQ(store_->Write([](WriteTxn&) { return Status::Ok(); }).code(), Code::kUnavailable);
  EXPECT_EQ(store_->GetKv("a", "b").status().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace populi::store::testing
