// Placement: which eligible node wins, which GPUs it gets, and the summary line.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "scheduler/nodes.h"
#include "scheduler/scheduler.h"

namespace populi::scheduler {
namespace {

using testing::CpuTask;
using testing::GpuNode;
using testing::GpuTask;
using testing::kGiB;
using testing::Mesh;
using testing::Node;
using testing::Reserve;

// The product's three-node mesh: one 80 GB GPU node, one 8 GB GPU node whose labels claim a
// big GPU, one CPU-only node.
class ThreeNodeMesh : public ::testing::Test {
 protected:
  void SetUp() override {
    mesh_.Add(GpuNode("gpu-80", {79 * kGiB}, 64));
    mesh::NodeRecord& small = mesh_.Add(GpuNode("gpu-8", {8 * kGiB}, 16));
    small.labels = {{"gpu_vram", "80G"}, {"gpu_model", "H100"}};
    mesh_.Add(Node("cpu-1", 32));
  }
  Mesh mesh_;
};

TEST_F(ThreeNodeMesh, TwelveGigTaskLandsOnlyOnTheEightyGigNode) {
  mesh::PlacementDecision d = mesh_.Place(GpuTask(12 * kGiB));
  ASSERT_TRUE(d.placed) << d.summary;
  EXPECT_EQ(d.node_id, "gpu-80");
  EXPECT_EQ(d.gpu_uuids, std::vector<std::string>{"gpu-80-gpu0"});
  EXPECT_EQ(d.nodes_considered, 3);
  EXPECT_EQ(d.rejected,
            (std::map<std::string, int>{{"insufficient_gpus", 1}, {"insufficient_vram", 1}}));
  EXPECT_EQ(d.summary,
            "3 nodes: 1 insufficient GPUs (need 1, best 0), 1 insufficient VRAM (need 12G, best "
            "8G free); chose gpu-80 (most VRAM free after placement)");
}

TEST_F(ThreeNodeMesh, LabelsClaimingABigGpuAddNoCapacity) {
  mesh::TaskSpec task = GpuTask(12 * kGiB);
  task.constraints.required_labels = {{"gpu_vram", "80G"}};
  mesh::PlacementDecision d = mesh_.Place(task);
  EXPECT_FALSE(d.placed);
  EXPECT_EQ(d.rejected,
            (std::map<std::string, int>{{"label_mismatch", 2}, {"insufficient_vram", 1}}));
  EXPECT_EQ(
      d.summary,
      "3 nodes: 2 label mismatch, 1 insufficient VRAM (need 12G, best 8G free); no node fits");
}

TEST_F(ThreeNodeMesh, GpuPlacementsAccumulateUntilVramRunsOut) {
  // 79G allocatable takes six 12G tasks (72G); the seventh finds 7G left.
  for (int i = 0; i < 6; ++i) {
    mesh::PlacementDecision d = mesh_.Place(GpuTask(12 * kGiB));
    ASSERT_TRUE(d.placed) << "placement " << i << ": " << d.summary;
    ASSERT_EQ(d.node_id, "gpu-80");
    mesh_.At("gpu-80").reservations.push_back(
        Reserve("t" + std::to_string(i), d.gpu_uuids, 12 * kGiB));
  }
  mesh::PlacementDecision d = mesh_.Place(GpuTask(12 * kGiB));
  EXPECT_FALSE(d.placed);
  EXPECT_TRUE(d.node_id.empty());
  EXPECT_TRUE(d.gpu_uuids.empty());
  EXPECT_EQ(d.rejected.at("insufficient_vram"), 2);
  EXPECT_EQ(d.summary,
            "3 nodes: 1 insufficient GPUs (need 1, best 0), 2 insufficient VRAM (need 12G, best "
            "8G free); no node fits");
}

TEST_F(ThreeNodeMesh, CpuTasksSpreadAsReservationsAccumulate) {
  std::vector<std::string> chosen;
  for (int i = 0; i < 6; ++i) {
    mesh::PlacementDecision d = mesh_.Place(CpuTask(2, kGiB));
    ASSERT_TRUE(d.placed) << d.summary;
    chosen.push_back(d.node_id);
    EXPECT_TRUE(d.gpu_uuids.empty());
    mesh_.At(d.node_id).reservations.push_back(Reserve("c" + std::to_string(i), {}, 0, 2, kGiB));
  }
  // Fewest reservations first; among equals the most CPUs left (64 > 32 > 16 threads).
  EXPECT_EQ(chosen,
            (std::vector<std::string>{"gpu-80", "cpu-1", "gpu-8", "gpu-80", "cpu-1", "gpu-8"}));
}

TEST_F(ThreeNodeMesh, ImpossibleTaskExplainsEveryRejection) {
  mesh::NodeRecord down = Node("old-1");
  down.state = mesh::NodeState::kDown;
  mesh_.Add(down);
  mesh::PlacementDecision d = mesh_.Place(GpuTask(200 * kGiB));
  EXPECT_FALSE(d.placed);
  EXPECT_EQ(d.nodes_considered, 4);
  EXPECT_EQ(d.rejected, (std::map<std::string, int>{
                            {"down", 1}, {"insufficient_gpus", 1}, {"insufficient_vram", 2}}));
  EXPECT_EQ(d.summary,
            "4 nodes: 1 down, 1 insufficient GPUs (need 1, best 0), 2 insufficient VRAM (need "
            "200G, best 79G free); no node fits");
}

TEST_F(ThreeNodeMesh, CpuAndMemoryShortfallsNameTheBestFigure) {
  mesh::PlacementDecision cpu = mesh_.Place(CpuTask(100));
  EXPECT_EQ(cpu.summary, "3 nodes: 3 insufficient CPU (need 100, best 64 free); no node fits");
  mesh::PlacementDecision memory = mesh_.Place(CpuTask(1, 100 * kGiB));
  EXPECT_EQ(memory.summary,
            "3 nodes: 3 insufficient memory (need 100G, best 64G free); no node fits");
}

TEST(Placement, NoNodeHasJoined) {
  mesh::PlacementDecision d = Place(GpuTask(12 * kGiB), {}, 0);
  EXPECT_FALSE(d.placed);
  EXPECT_EQ(d.nodes_considered, 0);
  EXPECT_TRUE(d.rejected.empty());
  EXPECT_EQ(d.summary, "0 nodes: no node has joined; no node fits");
}

TEST(Placement, SummaryListsReasonsInFilterOrder) {
  auto in_zone = [](mesh::NodeRecord n, const char* zone) {
    n.labels["zone"] = zone;
    return n;
  };
  Mesh m;
  for (const char* id : {"d-1", "d-2", "d-3"}) {
    m.Add(in_zone(Node(id), "a")).state = mesh::NodeState::kDown;
  }
  m.Add(in_zone(GpuNode("m-1", {80 * kGiB}), "a")).maintenance = true;
  m.Add(in_zone(GpuNode("gpu-1", {8 * kGiB}), "a"));
  m.Add(in_zone(GpuNode("gpu-2", {40 * kGiB}), "a"));
  m.Add(in_zone(GpuNode("gpu-3", {8 * kGiB}), "a"));
  m.Add(in_zone(GpuNode("gpu-4", {80 * kGiB}), "b"));
  mesh::TaskSpec task = GpuTask(12 * kGiB);
  task.constraints.required_labels = {{"zone", "a"}};
  mesh::PlacementDecision d = m.Place(task);
  ASSERT_TRUE(d.placed);
  EXPECT_EQ(d.node_id, "gpu-2");
  EXPECT_EQ(d.summary,
            "8 nodes: 3 down, 1 maintenance, 1 label mismatch, 2 insufficient VRAM (need 12G, best "
            "8G free); chose gpu-2 (most VRAM free after placement)");
}

TEST(Placement, AllEligibleSaysSo) {
  Mesh m;
  m.Add(Node("only"));
  mesh::PlacementDecision d = m.Place(CpuTask(1));
  EXPECT_EQ(d.summary,
            "1 node: all eligible; chose only (fewest reservations, most CPUs free after "
            "placement)");
}

TEST(Placement, MostVramLeftAfterPlacementWins) {
  Mesh m;
  m.Add(GpuNode("a", {24 * kGiB}));
  m.Add(GpuNode("b", {40 * kGiB}));
  m.Add(GpuNode("c", {16 * kGiB}));
  EXPECT_EQ(m.Place(GpuTask(12 * kGiB)).node_id, "b");
}

TEST(Placement, ChoosesTheDevicesWithMostAllocatableMemory) {
  Mesh m;
  m.Add(GpuNode("n", {80 * kGiB, 8 * kGiB, 40 * kGiB, 40 * kGiB}));
  mesh::PlacementDecision two = m.Place(GpuTask(12 * kGiB, 2));
  ASSERT_TRUE(two.placed) << two.summary;
  // Equal devices go in device order.
  EXPECT_EQ(two.gpu_uuids, (std::vector<std::string>{"n-gpu0", "n-gpu2"}));
  mesh::PlacementDecision four = m.Place(GpuTask(12 * kGiB, 4));
  EXPECT_FALSE(four.placed);
  // The best node offers 8G on its fourth-best device.
  EXPECT_EQ(four.summary,
            "1 node: 1 insufficient VRAM (need 12G on 4 GPUs, best 8G free); no node fits");
  mesh::PlacementDecision five = m.Place(GpuTask(1, 5));
  EXPECT_EQ(five.summary, "1 node: 1 insufficient GPUs (need 5, best 4); no node fits");
}

TEST(Placement, MultiGpuScoreCountsOnlyTheChosenDevices) {
  Mesh m;
  // "wide" has more VRAM in total, but its two best devices leave less after placement.
  m.Add(GpuNode("wide", {30 * kGiB, 30 * kGiB, 30 * kGiB, 30 * kGiB}));
  m.Add(GpuNode("tall", {48 * kGiB, 40 * kGiB}));
  EXPECT_EQ(m.Place(GpuTask(12 * kGiB, 2)).node_id, "tall");
}

TEST(Placement, GpuMemoryWithoutACountMeansOneGpu) {
  Mesh m;
  m.Add(Node("cpu-only", 64));
  m.Add(GpuNode("gpu", {16 * kGiB}));
  mesh::TaskSpec task = GpuTask(12 * kGiB, 0);
  mesh::PlacementDecision d = m.Place(task);
  ASSERT_TRUE(d.placed);
  EXPECT_EQ(d.node_id, "gpu");
  EXPECT_EQ(d.gpu_uuids, std::vector<std::string>{"gpu-gpu0"});
}

TEST(Placement, PreferredLabelsOutrankCapacity) {
  Mesh m;
  m.Add(GpuNode("big", {80 * kGiB}));
  m.Add(GpuNode("one", {16 * kGiB})).labels = {{"region", "eu"}};
  m.Add(GpuNode("two", {14 * kGiB})).labels = {{"region", "eu"}, {"disk", "nvme"}};
  m.Add(GpuNode("wrong", {80 * kGiB})).labels = {{"region", "us"}, {"disk", "nvme"}};
  mesh::TaskSpec task = GpuTask(12 * kGiB);
  task.constraints.preferred_labels = {{"region", "eu"}, {"disk", "nvme"}};
  mesh::PlacementDecision d = m.Place(task);
  EXPECT_EQ(d.node_id, "two");
  EXPECT_EQ(d.summary,
            "4 nodes: all eligible; chose two (matches 2 preferred labels, most VRAM free after "
            "placement)");
  // Without "two", one match each for "one" and "wrong": capacity decides between them.
  task.constraints.node_deny = {"two"};
  EXPECT_EQ(m.Place(task).node_id, "wrong");
  // Preferred labels never admit a node that does not fit.
  mesh::PlacementDecision big = m.Place(GpuTask(20 * kGiB));
  EXPECT_EQ(big.node_id, "big");
}

TEST(Placement, TiesGoToTheSmallestNodeIdWhateverTheOrder) {
  for (bool reversed : {false, true}) {
    Mesh m;
    std::vector<std::string> ids = {"node-b", "node-a", "node-c"};
    if (reversed) ids = {"node-c", "node-a", "node-b"};
    for (const std::string& id : ids) m.Add(GpuNode(id, {24 * kGiB}));
    mesh::PlacementDecision d = m.Place(GpuTask(12 * kGiB));
    EXPECT_EQ(d.node_id, "node-a");
    EXPECT_EQ(d.summary,
              "3 nodes: all eligible; chose node-a (most VRAM free after placement; tie broken "
              "by node id)");
  }
}

TEST(Placement, NoTieNoteWhenTheWinnerIsStrictlyBest) {
  Mesh m;
  m.Add(GpuNode("a", {24 * kGiB}));
  m.Add(GpuNode("b", {24 * kGiB}));  // ties with a, but c beats both
  m.Add(GpuNode("c", {30 * kGiB}));
  mesh::PlacementDecision d = m.Place(GpuTask(12 * kGiB));
  EXPECT_EQ(d.node_id, "c");
  EXPECT_EQ(d.summary.find("tie"), std::string::npos) << d.summary;
}

TEST(Placement, NullCandidatesAreSkipped) {
  mesh::NodeRecord n = Node("n");
  std::vector<Candidate> candidates(2);
  candidates[1].node = &n;
  mesh::PlacementDecision d = Place(CpuTask(1), candidates, 0);
  EXPECT_TRUE(d.placed);
  EXPECT_EQ(d.nodes_considered, 1);
}

}  // namespace
}  // namespace populi::scheduler
