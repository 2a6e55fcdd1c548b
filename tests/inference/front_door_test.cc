// inference/front_door.h: the request table without HTTP — jobs taken per node, chunks posted,
// failover before the first output, the error after it, 4xx passed through, deadlines, sweeps,
// and in-flight counts released exactly once whatever way a request ends; and which nodes'
// agents poll this control plane (replicas), and the order the candidates are tried in by it.
#include "inference/front_door.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace populi::inference {
namespace {

class FrontDoorTest : public ::testing::Test {
 protected:
  FrontDoorTest() : door_(router_, [this](std::string_view t) { topics_.emplace_back(t); }) {}

  RequestSpec Spec(const std::string& id, std::vector<std::string> nodes, bool stream = true) {
    RequestSpec s;
    s.request_id = id;
    s.model = "m";
    s.body = R"({"model":"m"})";
    s.stream = stream;
    s.deadline_ms = 100'000;
    s.rendered = std::string(4 * kBlockBytes, 'x');
    for (const auto& n : nodes) s.targets.push_back({{n, true}, "http://" + n});
    return s;
  }
  mesh::InferenceJob Take(const std::string& node) {
    auto job = door_.TakeJob(node);
    EXPECT_TRUE(job.has_value()) << node;
    return job.value_or(mesh::InferenceJob{});
  }
  mesh::InferenceChunkReply Post(const std::string& job, int64_t seq, int status,
                                 std::vector<std::string> events, bool done,
                                 std::string error = {}) {
    mesh::InferenceChunk c{job, seq, status, std::move(events), done, std::move(error)};
    auto r = door_.Post(c, now_);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : mesh::InferenceChunkReply{};
  }
  Progress Read(const std::string& id) {
    auto p = door_.Read(id, now_);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? *p : Progress{};
  }

  Router router_;
  std::vector<std::string> topics_;
  FrontDoor door_;
  int64_t now_ = 1'000;
};

TEST_F(FrontDoorTest, StreamsWhatTheAgentPostsAndReleasesOnce) {
  ASSERT_TRUE(door_.Begin(Spec("r1", {"a"}), now_).ok());
  EXPECT_EQ(router_.InFlight("a"), 1);
  EXPECT_EQ(topics_.back(), TopicOfNode("a"));
  EXPECT_FALSE(door_.TakeJob("b").has_value());
  mesh::InferenceJob job = Take("a");
  EXPECT_EQ(job.id, "r1.1");
  EXPECT_EQ(job.endpoint, "http://a");
  EXPECT_TRUE(job.stream);
  EXPECT_FALSE(door_.TakeJob("a").has_value());  // taken once
  EXPECT_EQ(Read("r1").phase, Phase::kWaiting);
  EXPECT_FALSE(Post(job.id, 0, 200, {"t1", "t2"}, false).cancel);
  EXPECT_EQ(topics_.back(), TopicOfRequest("r1"));
  Progress p = Read("r1");
  EXPECT_EQ(p.phase, Phase::kStreaming);
  EXPECT_EQ(p.node_id, "a");
  EXPECT_EQ(p.events, (std::vector<std::string>{"t1", "t2"}));
  EXPECT_TRUE(Read("r1").events.empty());  // each event handed over once
  Post(job.id, 0, 200, {"t1"}, false);     // a repeated seq is ignored
  Post(job.id, 1, 200, {"t3"}, true);
  p = Read("r1");
  EXPECT_EQ(p.phase, Phase::kDone);
  EXPECT_TRUE(p.error.empty());
  EXPECT_EQ(p.events, (std::vector<std::string>{"t3"}));
  EXPECT_EQ(router_.InFlight("a"), 0);  // released when the answer completed
  door_.End("r1", now_);
  door_.End("r1", now_);
  EXPECT_EQ(router_.InFlight("a"), 0);  // and not again
  EXPECT_EQ(door_.Active(), 0u);
  auto e = door_.Explain("r1");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->served_by, "a");
  EXPECT_EQ(e->state, "done");
  EXPECT_EQ(e->blocks, 4);
  ASSERT_EQ(e->attempts.size(), 1u);
  EXPECT_EQ(e->attempts[0].outcome, "done");
}

TEST_F(FrontDoorTest, FailsOverBeforeTheFirstOutputAndLeavesTheFailedNodeOut) {
  ASSERT_TRUE(door_.Begin(Spec("r2", {"a", "b", "c"}), now_).ok());
  mesh::InferenceJob first = Take("a");
  // A 429 before any output: the client sees nothing, b gets the request.
  EXPECT_TRUE(Post(first.id, 0, 429, {R"({"error":"busy"})"}, true).cancel);
  EXPECT_EQ(router_.InFlight("a"), 0);
  EXPECT_EQ(Read("r2").phase, Phase::kWaiting);
  mesh::InferenceJob second = Take("b");
  EXPECT_EQ(second.id, "r2.2");
  // The engine died before answering.
  Post(second.id, 0, 0, {}, true, "connection reset");
  mesh::InferenceJob third = Take("c");
  Post(third.id, 0, 500, {"oops"}, true);
  // Nobody left: failed, never streamed; not every engine said 429.
  Progress p = Read("r2");
  EXPECT_EQ(p.phase, Phase::kFailed);
  EXPECT_EQ(p.code, Code::kUnavailable);
  EXPECT_NE(p.error.find("500"), std::string::npos) << p.error;
  EXPECT_EQ(router_.TotalInFlight(), 0);
  auto e = door_.Explain("r2");
  ASSERT_EQ(e->attempts.size(), 3u);
  EXPECT_EQ(e->attempts[1].error, "connection reset");
  EXPECT_EQ(e->state, "failed");
  // A late chunk of a failed attempt is told to cancel.
  EXPECT_TRUE(Post(first.id, 1, 200, {"late"}, false).cancel);
  door_.End("r2", now_);
  EXPECT_EQ(router_.TotalInFlight(), 0);
}

TEST_F(FrontDoorTest, EveryEngineBusyIsResourceExhausted) {
  ASSERT_TRUE(door_.Begin(Spec("r3", {"a", "b"}), now_).ok());
  Post(Take("a").id, 0, 429, {}, true);
  Post(Take("b").id, 0, 429, {}, true);
  EXPECT_EQ(Read("r3").code, Code::kResourceExhausted);
}

TEST_F(FrontDoorTest, AfterTheFirstOutputAFailureEndsTheStreamWithAnError) {
  ASSERT_TRUE(door_.Begin(Spec("r4", {"a", "b"}), now_).ok());
  mesh::InferenceJob job = Take("a");
  Post(job.id, 0, 200, {"t1"}, false);
  Post(job.id, 1, 0, {}, true, "engine died");
  Progress p = Read("r4");
  EXPECT_EQ(p.phase, Phase::kDone);
  EXPECT_EQ(p.error, "engine died");
  EXPECT_EQ(p.node_id, "a");
  EXPECT_FALSE(door_.TakeJob("b").has_value());  // no second node after output
  EXPECT_EQ(router_.TotalInFlight(), 0);
}

TEST_F(FrontDoorTest, ClientErrorsPassThroughWithoutFailover) {
  ASSERT_TRUE(door_.Begin(Spec("r5", {"a", "b"}, false), now_).ok());
  Post(Take("a").id, 0, 400, {R"({"error":{"message":"bad"}})"}, true);
  Progress p = Read("r5");
  EXPECT_EQ(p.phase, Phase::kDone);
  EXPECT_EQ(p.status, 400);
  EXPECT_EQ(p.events.size(), 1u);
  EXPECT_FALSE(door_.TakeJob("b").has_value());
}

TEST_F(FrontDoorTest, ClientGoneCancelsTheEngineRequest) {
  ASSERT_TRUE(door_.Begin(Spec("r6", {"a"}), now_).ok());
  mesh::InferenceJob job = Take("a");
  Post(job.id, 0, 200, {"t1"}, false);
  door_.End("r6", now_);
  EXPECT_EQ(router_.InFlight("a"), 0);
  EXPECT_TRUE(Post(job.id, 1, 200, {"t2"}, false).cancel);
  EXPECT_EQ(door_.Explain("r6")->attempts[0].outcome, "cancelled");
  EXPECT_EQ(door_.Explain("r6")->state, "cancelled");
  EXPECT_FALSE(door_.Read("r6", now_).ok());
}

TEST_F(FrontDoorTest, AJobIsWantedUntilItsAttemptEndsAndItsWatchIsWokenThen) {
  auto woken = [this](const std::string& job) {
    return std::count(topics_.begin(), topics_.end(), TopicOfJob(job));
  };
  EXPECT_FALSE(door_.JobWanted("nobody.1"));
  // Another node takes over: the first node's job is no longer wanted.
  ASSERT_TRUE(door_.Begin(Spec("r12", {"a", "b"}), now_).ok());
  mesh::InferenceJob first = Take("a");
  EXPECT_TRUE(door_.JobWanted(first.id));
  EXPECT_EQ(woken(first.id), 0);
  door_.Sweep(now_ + 1, [](const std::string& n) { return n != "a"; });
  EXPECT_FALSE(door_.JobWanted(first.id));
  EXPECT_EQ(woken(first.id), 1);
  // The client hangs up before the first output: the running job is no longer wanted.
  mesh::InferenceJob second = Take("b");
  EXPECT_FALSE(Post(second.id, 0, 0, {}, false).cancel);  // taken; the engine is slow
  EXPECT_TRUE(door_.JobWanted(second.id));
  door_.End("r12", now_);
  EXPECT_FALSE(door_.JobWanted(second.id));
  EXPECT_EQ(woken(second.id), 1);
  // The deadline passes while the engine thinks.
  ASSERT_TRUE(door_.Begin(Spec("r13", {"a"}), now_).ok());
  mesh::InferenceJob late = Take("a");
  Read("r13");
  EXPECT_TRUE(door_.JobWanted(late.id));
  EXPECT_EQ(door_.Read("r13", 100'000)->phase, Phase::kFailed);
  EXPECT_FALSE(door_.JobWanted(late.id));
  EXPECT_EQ(woken(late.id), 1);
}

TEST_F(FrontDoorTest, SweepFailsDownNodesAndUnpickedJobs) {
  ASSERT_TRUE(door_.Begin(Spec("r7", {"a", "b", "c"}), now_).ok());
  Take("a");  // taken, but the node goes down before it answers
  door_.Sweep(now_ + 100, [](const std::string& n) { return n != "a"; });
  EXPECT_EQ(router_.InFlight("a"), 0);
  EXPECT_EQ(router_.InFlight("b"), 1);
  // b never picks its job up.
  door_.Sweep(now_ + 100 + kPickupTimeoutMs, [](const std::string&) { return true; });
  EXPECT_EQ(router_.InFlight("b"), 0);
  mesh::InferenceJob job = Take("c");
  EXPECT_EQ(job.id, "r7.3");
  EXPECT_FALSE(door_.TakeJob("b").has_value());  // b's job was withdrawn
}

TEST_F(FrontDoorTest, ATakenJobIsNotMistakenForAnUnpickedOne) {
  ASSERT_TRUE(door_.Begin(Spec("r11", {"a", "b"}), now_).ok());
  mesh::InferenceJob job = Take("a");
  EXPECT_FALSE(Post(job.id, 0, 0, {}, false).cancel);  // the agent's "taken"
  door_.Sweep(now_ + 2 * kPickupTimeoutMs, [](const std::string&) { return true; });
  EXPECT_EQ(Read("r11").phase, Phase::kWaiting);
  EXPECT_EQ(router_.InFlight("a"), 1);
  EXPECT_FALSE(door_.TakeJob("b").has_value());
  Post(job.id, 1, 200, {"t"}, true);
  EXPECT_EQ(Read("r11").phase, Phase::kDone);
}

TEST_F(FrontDoorTest, TheDeadlineEndsAWaitingRequest) {
  ASSERT_TRUE(door_.Begin(Spec("r8", {"a"}), now_).ok());
  Take("a");
  auto p = door_.Read("r8", 100'000);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->phase, Phase::kFailed);
  EXPECT_EQ(p->code, Code::kTimeout);
  EXPECT_EQ(router_.InFlight("a"), 0);
  door_.End("r8", 100'000);
  EXPECT_EQ(router_.InFlight("a"), 0);
}

TEST_F(FrontDoorTest, RefusesUnknownModelsAndDuplicateIds) {
  EXPECT_EQ(door_.Begin(Spec("r9", {}), now_).code(), Code::kNotFound);
  ASSERT_TRUE(door_.Begin(Spec("r9", {"a"}), now_).ok());
  EXPECT_EQ(door_.Begin(Spec("r9", {"a"}), now_).code(), Code::kAlreadyExists);
  EXPECT_TRUE(door_.Post({"nope.1", 0, 200, {}, false, ""}, now_)->cancel);
  door_.End("r9", now_);
  EXPECT_EQ(router_.TotalInFlight(), 0);
}

TEST_F(FrontDoorTest, DestroyingTheTableReleasesWhatStillRuns) {
  Router router;
  {
    FrontDoor door(router, [](std::string_view) {});
    ASSERT_TRUE(door.Begin(Spec("r10", {"a"}), now_).ok());
    EXPECT_EQ(router.InFlight("a"), 1);
  }
  EXPECT_EQ(router.InFlight("a"), 0);
}

TEST_F(FrontDoorTest, PollingIsHeldPollsPlusAGraceThenStopped) {
  EXPECT_EQ(door_.PollingOf("a", now_), Polling::kNever);
  door_.NotePoll("a", now_, 10'000);  // a poll that may be held 10 s
  EXPECT_EQ(door_.PollingOf("a", now_ + 10'000 + kPollGraceMs), Polling::kPolling);
  EXPECT_EQ(door_.PollingOf("a", now_ + 10'001 + kPollGraceMs), Polling::kStopped);
  // A shorter poll opened later never shortens the window; the next one extends it.
  door_.NotePoll("a", now_ + 1'000, 0);
  EXPECT_EQ(door_.PollingOf("a", now_ + 10'001 + kPollGraceMs), Polling::kStopped);
  door_.NotePoll("a", now_ + 20'000, -5);  // a negative hold counts as none
  EXPECT_EQ(door_.PollingOf("a", now_ + 20'000 + kPollGraceMs), Polling::kPolling);
  EXPECT_EQ(door_.PollingOf("a", now_ + 20'001 + kPollGraceMs), Polling::kStopped);
  EXPECT_EQ(door_.PollingOf("b", now_), Polling::kNever);
  EXPECT_EQ(ToString(Polling::kStopped), "stopped_polling");
}

// Another replica's node (never polled here), a node whose agent stopped polling here, and one
// polling here: the router alone would pick "a" (fewest dispatched, then node id); the polling
// node goes first, then the one that never polled, and the one that stopped only when nobody
// else is left. `explain` names who was left out and why.
TEST_F(FrontDoorTest, NodesPollingThisReplicaGoFirstThenNeverPolledThenStopped) {
  door_.NotePoll("b", now_ - 60'000, 10'000);
  door_.NotePoll("c", now_, 10'000);
  ASSERT_TRUE(door_.Begin(Spec("r12", {"a", "b", "c"}), now_).ok());
  EXPECT_FALSE(door_.TakeJob("a").has_value());
  Post(Take("c").id, 0, 500, {"down"}, true);
  Post(Take("a").id, 0, 0, {}, true, "connection refused");
  mesh::InferenceJob last = Take("b");
  EXPECT_EQ(last.id, "r12.3");
  Post(last.id, 0, 200, {"t"}, true);
  EXPECT_EQ(Read("r12").node_id, "b");
  auto e = door_.Explain("r12");
  ASSERT_TRUE(e.has_value());
  ASSERT_EQ(e->attempts.size(), 3u);
  EXPECT_EQ(e->attempts[0].node_id, "c");
  ASSERT_EQ(e->attempts[0].skipped.size(), 2u);
  EXPECT_EQ(e->attempts[0].skipped[0].node_id, "a");
  EXPECT_EQ(e->attempts[0].skipped[0].reason, "never_polled");
  EXPECT_EQ(e->attempts[0].skipped[1].node_id, "b");
  EXPECT_EQ(e->attempts[0].skipped[1].reason, "stopped_polling");
  EXPECT_EQ(e->attempts[1].node_id, "a");
  ASSERT_EQ(e->attempts[1].skipped.size(), 1u);
  EXPECT_EQ(e->attempts[1].skipped[0].node_id, "b");
  EXPECT_EQ(e->attempts[2].node_id, "b");
  EXPECT_TRUE(e->attempts[2].skipped.empty());
  door_.End("r12", now_);
  EXPECT_EQ(router_.TotalInFlight(), 0);
}

// One control plane, a node that just joined: before its agent's first poll it is no reason to
// fail a request, and once it polls it is routed to like any other.
TEST_F(FrontDoorTest, ANodeWhoseFirstPollIsLateStillGetsTheRequest) {
  ASSERT_TRUE(door_.Begin(Spec("r13", {"a"}), now_).ok());
  door_.NotePoll("a", now_ + 5, 10'000);
  mesh::InferenceJob job = Take("a");
  EXPECT_TRUE(door_.Explain("r13")->attempts[0].skipped.empty());
  Post(job.id, 0, 200, {"t"}, true);
  EXPECT_EQ(Read("r13").phase, Phase::kDone);
}

}  // namespace
}  // namespace populi::inference
