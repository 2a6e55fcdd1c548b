// Filters: every rejection reason, their order, and how capacity is computed from Layer A/B and
// the control plane's reservations.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "scheduler/nodes.h"
#include "scheduler/scheduler.h"

namespace populi::scheduler {
namespace {

using testing::CpuTask;
using testing::Gpu;
using testing::GpuNode;
using testing::GpuTask;
using testing::kGiB;
using testing::Mesh;
using testing::Node;
using testing::Reserve;

constexpr int64_t kNow = 1'000'000;

// Places `task` on a one-node mesh and returns the single reason the node was rejected for
// ("" when placed), checking that Place and RejectReason agree.
std::string ReasonFor(const mesh::NodeRecord& node, const mesh::TaskSpec& task,
                      std::vector<Reservation> reservations = {}, int64_t now_ms = kNow) {
  Candidate c;
  c.node = &node;
  c.reservations = std::move(reservations);
  mesh::PlacementDecision d = Place(task, {&c, 1}, now_ms);
  const std::string single(RejectReason(task, c, now_ms));
  if (d.placed) {
    EXPECT_TRUE(d.rejected.empty());
    EXPECT_EQ(single, "");
    return "";
  }
  EXPECT_EQ(d.rejected.size(), 1u) << d.summary;
  if (d.rejected.empty()) return "?";
  EXPECT_EQ(d.rejected.begin()->second, 1);
  EXPECT_EQ(single, d.rejected.begin()->first);
  return d.rejected.begin()->first;
}

// A node that passes every filter for GpuTask(12G) with cpus 4 and memory 8G.
mesh::NodeRecord Eligible() {
  mesh::NodeRecord n = GpuNode("n-1", {24 * kGiB}, 8);
  n.cpu.memory_available_bytes = 16 * kGiB;
  n.labels = {{"zone", "a"}};
  return n;
}

mesh::TaskSpec Task() {
  mesh::TaskSpec t = GpuTask(12 * kGiB);
  t.resources.cpus = 4;
  t.resources.memory_bytes = 8 * kGiB;
  t.constraints.required_labels = {{"zone", "a"}};
  return t;
}

TEST(Filter, ReasonCodesInCheckOrder) {
  std::vector<std::string> codes(RejectReasons().begin(), RejectReasons().end());
  EXPECT_EQ(codes,
            (std::vector<std::string>{"down", "suspect", "quarantined", "maintenance", "denied",
                                      "not_allowed", "privacy", "not_donating", "not_paired",
                                      "label_mismatch", "insufficient_gpus", "insufficient_vram",
                                      "insufficient_cpu", "insufficient_memory"}));
}

TEST(Filter, EachReason) {
  struct Case {
    std::string want;
    std::function<void(mesh::NodeRecord&, mesh::TaskSpec&)> change;
  };
  const std::vector<Case> cases = {
      {"", [](mesh::NodeRecord&, mesh::TaskSpec&) {}},
      {"down", [](mesh::NodeRecord& n, mesh::TaskSpec&) { n.state = mesh::NodeState::kDown; }},
      {"down", [](mesh::NodeRecord& n, mesh::TaskSpec&) { n.state = mesh::NodeState::kLeft; }},
      {"suspect",
       [](mesh::NodeRecord& n, mesh::TaskSpec&) { n.state = mesh::NodeState::kSuspect; }},
      {"quarantined", [](mesh::NodeRecord& n, mesh::TaskSpec&) { n.quarantined = true; }},
      {"maintenance", [](mesh::NodeRecord& n, mesh::TaskSpec&) { n.maintenance = true; }},
      {"denied",
       [](mesh::NodeRecord&, mesh::TaskSpec& t) {
         t.constraints.node_deny = {"x", "n-1"};
       }},
      {"not_allowed",
       [](mesh::NodeRecord&, mesh::TaskSpec& t) { t.constraints.node_allow = {"n-2"}; }},
      {"privacy",
       [](mesh::NodeRecord& n, mesh::TaskSpec&) { n.visibility = mesh::Visibility::kPublic; }},
      {"not_donating", [](mesh::NodeRecord& n, mesh::TaskSpec&) { n.donation.enabled = false; }},
      // A task naming secrets: only its submitter or a node paired with the submitter.
      {"not_paired",
       [](mesh::NodeRecord&, mesh::TaskSpec& t) {
         t.submitter_node_id = "box-a";
         t.secret_names = {"HF_TOKEN"};
       }},
      {"",
       [](mesh::NodeRecord& n, mesh::TaskSpec& t) {
         t.submitter_node_id = "box-a";
         t.secret_names = {"HF_TOKEN"};
         n.paired_with = {"box-a", "box-c"};
       }},
      {"",
       [](mesh::NodeRecord& n, mesh::TaskSpec& t) {
         t.submitter_node_id = n.id;
         t.secret_names = {"HF_TOKEN"};
       }},
      {"", [](mesh::NodeRecord&, mesh::TaskSpec& t) { t.submitter_node_id = "box-a"; }},
      {"not_donating",
       [](mesh::NodeRecord& n, mesh::TaskSpec&) { n.donation.accepted_kinds = {"inference"}; }},
      {"", [](mesh::NodeRecord& n, mesh::TaskSpec&) { n.donation.accepted_kinds = {"exec"}; }},
      {"not_donating",
       [](mesh::NodeRecord& n, mesh::TaskSpec& t) {
         n.donation.min_priority = 200;
         t.priority = 199;
       }},
      {"",
       [](mesh::NodeRecord& n, mesh::TaskSpec& t) {
         n.donation.min_priority = 200;
         t.priority = 200;
       }},
      // The node's own operator is never refused by its donation policy.
      {"",
       [](mesh::NodeRecord& n, mesh::TaskSpec& t) {
         n.donation.enabled = false;
         n.donation.min_priority = 255;
         t.priority = 0;
         t.submitter_node_id = n.id;
       }},
      {"label_mismatch", [](mesh::NodeRecord& n, mesh::TaskSpec&) { n.labels.clear(); }},
      {"label_mismatch", [](mesh::NodeRecord& n, mesh::TaskSpec&) { n.labels["zone"] = "b"; }},
      {"insufficient_gpus", [](mesh::NodeRecord&, mesh::TaskSpec& t) { t.resources.gpus = 2; }},
      {"insufficient_vram",
       [](mesh::NodeRecord&, mesh::TaskSpec& t) { t.resources.gpu_memory_bytes = 25 * kGiB; }},
      {"insufficient_cpu", [](mesh::NodeRecord&, mesh::TaskSpec& t) { t.resources.cpus = 9; }},
      {"insufficient_memory",
       [](mesh::NodeRecord&, mesh::TaskSpec& t) { t.resources.memory_bytes = 17 * kGiB; }},
  };
  for (const Case& c : cases) {
    mesh::NodeRecord node = Eligible();
    mesh::TaskSpec task = Task();
    c.change(node, task);
    EXPECT_EQ(ReasonFor(node, task), c.want) << "expected " << c.want;
  }
}

TEST(Filter, FirstReasonWinsAndCountsOnce) {
  Mesh m;
  mesh::NodeRecord a = Eligible();
  a.id = "a";
  a.state = mesh::NodeState::kDown;  // also quarantined, in maintenance, denied, no labels
  a.quarantined = true;
  a.maintenance = true;
  a.labels.clear();
  m.Add(a);
  mesh::NodeRecord b = Eligible();
  b.id = "b";
  b.maintenance = true;  // also denied and without GPUs
  b.gpus.clear();
  m.Add(b);
  mesh::TaskSpec task = Task();
  task.constraints.node_deny = {"a", "b"};
  mesh::PlacementDecision d = m.Place(task);
  EXPECT_EQ(d.rejected, (std::map<std::string, int>{{"down", 1}, {"maintenance", 1}}));
  EXPECT_EQ(d.summary, "2 nodes: 1 down, 1 maintenance; no node fits");
}

TEST(Filter, DenyBeatsAllowAndAllowAdmitsOnlyListed) {
  mesh::NodeRecord node = Eligible();
  mesh::TaskSpec task = Task();
  task.constraints.node_allow = {"n-1"};
  EXPECT_EQ(ReasonFor(node, task), "");
  task.constraints.node_deny = {"n-1"};
  EXPECT_EQ(ReasonFor(node, task), "denied");
  task.constraints.node_deny.clear();
  task.constraints.node_allow = {"n-10", "n-0", "n"};
  EXPECT_EQ(ReasonFor(node, task), "not_allowed");
}

TEST(Filter, PublicDonorTakesOnlyPublicTasks) {
  mesh::NodeRecord donor = Eligible();
  donor.visibility = mesh::Visibility::kPublic;
  mesh::TaskSpec task = Task();
  task.privacy_class = mesh::PrivacyClass::kPublic;
  EXPECT_EQ(ReasonFor(donor, task), "");
  for (auto privacy : {mesh::PrivacyClass::kPrivate, mesh::PrivacyClass::kTrusted,
                       mesh::PrivacyClass::kTrustedOnly}) {
    task.privacy_class = privacy;
    EXPECT_EQ(ReasonFor(donor, task), "privacy") << mesh::ToString(privacy);
  }
  mesh::NodeRecord fresh = Eligible();  // private node, but a new trust tier
  fresh.trust_tier = mesh::TrustTier::kNew;
  task.privacy_class = mesh::PrivacyClass::kTrustedOnly;
  EXPECT_EQ(ReasonFor(fresh, task), "privacy");
  task.privacy_class = mesh::PrivacyClass::kPrivate;
  EXPECT_EQ(ReasonFor(fresh, task), "");
}

TEST(Filter, MaintenanceWindowThatHasEndedIsEligible) {
  mesh::NodeRecord node = Eligible();
  node.maintenance = true;
  node.maintenance_until_ms = 5'000;
  EXPECT_EQ(ReasonFor(node, Task(), {}, 4'999), "maintenance");
  EXPECT_EQ(ReasonFor(node, Task(), {}, 5'000), "");
  EXPECT_EQ(ReasonFor(node, Task(), {}, 9'000), "");
  node.maintenance_until_ms = 0;  // open-ended
  EXPECT_EQ(ReasonFor(node, Task(), {}, 9'000'000), "maintenance");
}

TEST(Filter, CpuCapacityUsesThreadsOrCores) {
  mesh::NodeRecord node = Node("n", 8);  // 4 cores, 8 threads
  EXPECT_EQ(ReasonFor(node, CpuTask(8)), "");
  EXPECT_EQ(ReasonFor(node, CpuTask(9)), "insufficient_cpu");
  node.cpu.threads = 0;
  EXPECT_EQ(ReasonFor(node, CpuTask(4)), "");
  EXPECT_EQ(ReasonFor(node, CpuTask(5)), "insufficient_cpu");
}

TEST(Capacity, ReportedReservationsAreNotSubtractedTwice) {
  // Layer B already holds t-run (the agent lists it); t-new is placed but not yet reported.
  mesh::NodeRecord node = GpuNode("n", {40 * kGiB}, 8);
  node.cpu.memory_available_bytes = 32 * kGiB;
  node.running_tasks = {"t-run"};
  const std::vector<Reservation> reservations = {
      Reserve("t-run", {"n-gpu0"}, 30 * kGiB, 6, 24 * kGiB),
      Reserve("t-new", {"n-gpu0"}, 20 * kGiB, 2, 8 * kGiB),
  };
  // 40G − 20G (t-new only) = 20G left.
  EXPECT_EQ(ReasonFor(node, GpuTask(20 * kGiB), reservations), "");
  EXPECT_EQ(ReasonFor(node, GpuTask(20 * kGiB + 1), reservations), "insufficient_vram");
  // 8 threads − 2 = 6; 32G − 8G = 24G.
  EXPECT_EQ(ReasonFor(node, CpuTask(6, 24 * kGiB), reservations), "");
  EXPECT_EQ(ReasonFor(node, CpuTask(7), reservations), "insufficient_cpu");
  EXPECT_EQ(ReasonFor(node, CpuTask(1, 24 * kGiB + 1), reservations), "insufficient_memory");
  // Once the agent reports t-new too, nothing is subtracted.
  node.running_tasks.push_back("t-new");
  EXPECT_EQ(ReasonFor(node, GpuTask(40 * kGiB), reservations), "");
  EXPECT_EQ(ReasonFor(node, CpuTask(8, 32 * kGiB), reservations), "");
}

TEST(Capacity, ReservationsHitOnlyTheDevicesTheyName) {
  mesh::NodeRecord node = GpuNode("n", {16 * kGiB, 16 * kGiB});
  std::vector<Reservation> reservations = {
      Reserve("t1", {"n-gpu0"}, 10 * kGiB),
      Reserve("t2", {"no-such-gpu"}, 16 * kGiB),
  };
  Candidate c;
  c.node = &node;
  c.reservations = reservations;
  mesh::PlacementDecision d = Place(GpuTask(12 * kGiB), {&c, 1}, kNow);
  ASSERT_TRUE(d.placed) << d.summary;
  EXPECT_EQ(d.gpu_uuids, std::vector<std::string>{"n-gpu1"});
  EXPECT_EQ(ReasonFor(node, GpuTask(12 * kGiB, 2), reservations), "insufficient_vram");
  // One reservation spanning both devices takes its figure from each.
  EXPECT_EQ(ReasonFor(node, GpuTask(7 * kGiB), {Reserve("t3", {"n-gpu0", "n-gpu1"}, 10 * kGiB)}),
            "insufficient_vram");
  // Subtraction saturates: over-reserved devices have 0, not a wrapped-around figure.
  EXPECT_EQ(ReasonFor(node, GpuTask(1), {Reserve("t4", {"n-gpu0", "n-gpu1"}, 100 * kGiB)}),
            "insufficient_vram");
}

TEST(Capacity, UncomputedAllocatableFallsBackToFree) {
  mesh::NodeRecord node = Node("n");
  node.gpus.push_back(Gpu("g0", 24 * kGiB));  // Layer A only: allocatable 0 = not computed
  EXPECT_EQ(ReasonFor(node, GpuTask(12 * kGiB)), "");
  EXPECT_EQ(ReasonFor(node, GpuTask(24 * kGiB + 1)), "insufficient_vram");
  node.gpus[0].memory_allocatable_bytes = 10 * kGiB;  // computed: it rules over free
  EXPECT_EQ(ReasonFor(node, GpuTask(12 * kGiB)), "insufficient_vram");
  EXPECT_EQ(ReasonFor(node, GpuTask(10 * kGiB)), "");
}

TEST(Capacity, LayerBZeroMeansFull) {
  mesh::NodeRecord node = GpuNode("n", {0});   // Layer B reported; the device is fully held
  node.gpus[0].memory_free_bytes = 80 * kGiB;  // what a reader of Layer A would wrongly use
  Candidate c;
  c.node = &node;
  mesh::PlacementDecision d = Place(GpuTask(12 * kGiB), {&c, 1}, kNow);
  EXPECT_FALSE(d.placed);
  EXPECT_EQ(d.summary, "1 node: 1 insufficient VRAM (need 12G, best 0B free); no node fits");
}

TEST(Capacity, LabelsNeverAddCapacity) {
  mesh::NodeRecord node = GpuNode("n", {8 * kGiB});
  node.labels = {{"gpu", "80G"}, {"gpu_vram_mb", "81920"}, {"gpus", "8"}};
  mesh::TaskSpec task = GpuTask(12 * kGiB);
  task.constraints.required_labels = {{"gpu", "80G"}};
  EXPECT_EQ(ReasonFor(node, task), "insufficient_vram");
  task.resources.gpus = 2;
  task.resources.gpu_memory_bytes = 1;
  EXPECT_EQ(ReasonFor(node, task), "insufficient_gpus");
}

}  // namespace
}  // namespace populi::scheduler
