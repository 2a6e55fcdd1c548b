// Control-plane replicas as real processes: two serves on one PostgreSQL schema share their
// state, the sweeper role moves when its serve is killed, and an agent and the CLI given both
// replicas keep working when one is killed. Without POPULI_TEST_PG_DSN they skip (or fail when
// POPULI_TEST_PG_REQUIRED is set).
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "cli/serve_fixture.h"
#include "control/http_client.h"

namespace populi::control::testing {
namespace {

// Two serves on one PostgreSQL schema (two control-plane replicas): what one accepted, the other
// serves (an engine load a heartbeat brought to one is routed by at the other), and an exec
// lease one granted is refused to another holder by the other.
TEST_F(ServeTest, TwoServesOnOnePostgresSchemaShareTheirState) {
  std::vector<std::string> env;
  // trust auth ignores the password; the log must not
  if (!NeedPostgresEnv("serve_", &env, " password=pg-secret-value")) return;
  ServeProcess a = Start("127.0.0.1:0", env);
  ASSERT_GT(a.port, 0) << a.first_line;
  ServeProcess b = Start("127.0.0.1:0", env);
  ASSERT_GT(b.port, 0) << b.first_line;
  ASSERT_EQ(HttpCall(a.port, "POST", "/v1/populi/join", R"({"id":"w1"})").status, 200);
  ASSERT_EQ(HttpCall(b.port, "POST", "/v1/populi/join", R"({"id":"w2"})").status, 200);
  HttpReply d = HttpCall(a.port, "POST", "/v1/populi/a2a/deliver",
                         R"({"sender":"s","receiver":"w1","message_type":"task_submit",)"
                         R"("payload":"through a"})");
  ASSERT_EQ(d.status, 200) << d.body;
  HttpReply c = HttpCall(b.port, "POST", "/v1/populi/a2a/inbox",
                         R"({"receiver":"w1","claimer_node_id":"w1"})");
  EXPECT_EQ(c.status, 200);
  EXPECT_NE(c.body.find("\"payload\":\"through a\""), std::string::npos) << c.body;
  HttpReply granted = HttpCall(a.port, "POST", "/v1/populi/exec/lease/grant",
                               R"({"scope_key":"job:1","holder_node_id":"w1"})");
  ASSERT_EQ(granted.status, 200) << granted.body;
  HttpReply refused = HttpCall(b.port, "POST", "/v1/populi/exec/lease/grant",
                               R"({"scope_key":"job:1","holder_node_id":"w2"})");
  EXPECT_EQ(refused.status, 409) << refused.body;
  // A node's model inventory reported through one replica is listed by the other.
  HttpReply reported = HttpCall(a.port, "PUT", "/v1/populi/models/w1",
                                R"({"schema_version":1,"node_id":"w1","poll_ms":60000,)"
                                R"("entries":[{"id":"sha256:ab","name":"tiny","source":"gguf"}]})");
  ASSERT_EQ(reported.status, 200) << reported.body;
  HttpReply listed = HttpCall(b.port, "GET", "/v1/populi/models?model=tiny");
  EXPECT_NE(listed.body.find(R"("nodes":[{"node_id":"w1","state":"fresh")"), std::string::npos)
      << listed.body;
  // Engine truth: the load w2's engine reported in a heartbeat to one replica is what the other
  // routes by (its `explain`). Nobody takes the job: the request times out, the decision stays.
  ASSERT_EQ(HttpCall(a.port, "PUT", "/v1/populi/models/w2",
                     R"({"schema_version":1,"node_id":"w2","poll_ms":60000,"entries":[)"
                     R"({"id":"chat@http://127.0.0.1:9","name":"chat","source":"engine",)"
                     R"("endpoint":"http://127.0.0.1:9","loaded":true}]})")
                .status,
            200);
  ASSERT_EQ(HttpCall(a.port, "POST", "/v1/populi/heartbeat",
                     R"({"node_id":"w2","engine_load":[{"endpoint":"http://127.0.0.1:9",)"
                     R"("busy":3,"slots":4,"observed_ms":1}]})")
                .status,
            200);
  HttpReply routed = HttpCall(b.port, "POST", "/v1/chat/completions",
                              R"({"model":"chat","messages":[{"role":"user","content":"hi"}]})",
                              {{"x-request-id", "truth-1"}, {"x-populi-timeout-ms", "200"}});
  EXPECT_EQ(routed.status, 504) << routed.body;
  HttpReply explained = HttpCall(b.port, "GET", "/v1/populi/inference/requests/truth-1");
  ASSERT_EQ(explained.status, 200) << explained.body;
  const boost::json::value attempt =
      boost::json::parse(explained.body).at("attempts").as_array().at(0);
  EXPECT_EQ(attempt.at("node_id"), "w2");
  ASSERT_TRUE(attempt.as_object().contains("engine")) << explained.body;
  EXPECT_EQ(attempt.at("load"), 3);
  EXPECT_EQ(attempt.at("engine").at("busy"), 3);
  EXPECT_EQ(attempt.at("engine").at("slots"), 4);
  EXPECT_EQ(Stop(a, SIGTERM), 0);
  kill(b.pid, SIGTERM);
  int status = 0;
  waitpid(b.pid, &status, 0);
  const std::string log = ReadAll(b.stderr_fd);
  close(b.stdout_fd);
  close(b.stderr_fd);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << log;
  EXPECT_NE(log.find("store: postgres"), std::string::npos) << log;
  EXPECT_NE(log.find("password=***"), std::string::npos) << log;
  EXPECT_EQ(log.find("pg-secret-value"), std::string::npos) << log;
}

// Events of `kind` as (subject, id), oldest first, read through the serve on `port`.
std::vector<std::string> EventSubjects(
    int port, const std::string& kind,
    const std::vector<std::pair<std::string, std::string>>& auth) {
  std::vector<std::string> subjects;
  HttpReply r = HttpCall(port, "GET", "/v1/populi/events?after=0&limit=1000", "", auth);
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("events")) return subjects;
  for (const auto& e : v.at("events").as_array())
    if (e.at("kind").as_string() == kind) subjects.emplace_back(e.at("subject").as_string());
  return subjects;
}

// The tasks as the serve on `port` lists them (id → task object).
std::map<std::string, boost::json::object> Tasks(
    int port, const std::vector<std::pair<std::string, std::string>>& auth) {
  std::map<std::string, boost::json::object> out;
  HttpReply r = HttpCall(port, "GET", "/v1/populi/tasks?limit=1000", "", auth);
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("tasks")) return out;
  for (const auto& t : v.at("tasks").as_array())
    out[std::string(t.at("id").as_string())] = t.as_object();
  return out;
}

// Two serves (each with its local worker) on one PostgreSQL schema; the one holding the sweeper
// role is killed with SIGKILL while tasks run on both workers and more wait. The other takes the
// role over within one TTL (plus its retry period), the killed worker's attempts are lost and
// placed again, and every task succeeds exactly once; nothing acknowledged is lost.
TEST_F(ServeTest, SweeperRoleMovesWhenItsServeIsKilled) {
  std::vector<std::string> env;
  if (!NeedPostgresEnv("kill_", &env)) return;
  const std::string secret = WriteInitCredentials();
  const std::vector<std::pair<std::string, std::string>> auth = {
      {"Authorization", "Bearer " + secret}};
  constexpr int kRoleTtlMs = 2'000;
  env.insert(env.end(),
             {"VOX_MESH_CONTROL_SWEEPER_ROLE_TTL_MS=" + std::to_string(kRoleTtlMs),
              "VOX_MESH_CONTROL_HEARTBEAT_SECS=1", "VOX_MESH_CONTROL_SUSPECT_AFTER=2",
              "VOX_MESH_CONTROL_DOWN_AFTER=3", "VOX_MESH_CONTROL_EXEC_LEASE_TTL_SECS=3",
              // Short polls: the test does not rely on wake-ups crossing replicas.
              "VOX_MESH_CONTROL_LONG_POLL_MAX_MS=300", "VOX_MESH_POLICY_EXEC=permissive"});
  auto with = [&](const std::string& extra) {
    auto e = env;
    e.push_back(extra);
    return e;
  };
  ServeProcess a = Start("127.0.0.1:0", with("VOX_MESH_NODE_ID=wa"), true, "data-a");
  ASSERT_GT(a.port, 0) << a.first_line << ReadAll(a.stderr_fd);
  // a holds the role before b starts.
  for (int i = 0; i < 200 && EventSubjects(a.port, "control.sweeper_acquired", auth).empty(); ++i)
    usleep(50'000);
  const auto first = EventSubjects(a.port, "control.sweeper_acquired", auth);
  ASSERT_EQ(first.size(), 1u);
  ServeProcess b = Start("127.0.0.1:0", with("VOX_MESH_NODE_ID=wb"), true, "data-b");
  ASSERT_GT(b.port, 0) << b.first_line << ReadAll(b.stderr_fd);
  for (int i = 0; i < 300; ++i) {
    const auto nodes = HttpCall(b.port, "GET", "/v1/populi/nodes", "", auth);
    if (nodes.body.find("\"wa\"") != std::string::npos &&
        nodes.body.find("\"wb\"") != std::string::npos)
      break;
    usleep(50'000);
  }
  // Tasks through both replicas; every acknowledged submit must come back.
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    HttpReply r = HttpCall(i % 2 == 0 ? a.port : b.port, "POST", "/v1/populi/tasks",
                           R"({"command":"sh","args":["-c","sleep 2"]})", auth);
    ASSERT_EQ(r.status, 201) << r.body;
    ids.emplace_back(boost::json::parse(r.body).at("id").as_string());
  }
  // Kill a while an attempt runs on its worker.
  bool running_on_a = false;
  for (int i = 0; i < 400 && !running_on_a; ++i) {
    for (const auto& [id, t] : Tasks(b.port, auth)) {
      const auto& attempts = t.at("attempts").as_array();
      if (t.at("state").as_string() == "running" && !attempts.empty() &&
          attempts.back().at("node_id").as_string() == "wa")
        running_on_a = true;
    }
    if (!running_on_a) usleep(25'000);
  }
  ASSERT_TRUE(running_on_a);
  HttpReply delivered =
      HttpCall(a.port, "POST", "/v1/populi/a2a/deliver",
               R"({"sender":"s","receiver":"kill-test","message_type":"agent_message",)"
               R"("payload":"acknowledged before the kill"})",
               auth);
  ASSERT_EQ(delivered.status, 200) << delivered.body;
  Stop(a, SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  std::vector<std::string> holders;
  while (std::chrono::steady_clock::now() - killed < std::chrono::seconds(20)) {
    holders = EventSubjects(b.port, "control.sweeper_acquired", auth);
    if (holders.size() >= 2) break;
    usleep(20'000);
  }
  const auto took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - killed)
                           .count();
  ASSERT_EQ(holders.size(), 2u);
  EXPECT_NE(holders[1], holders[0]);
  // One TTL after a's last renewal, plus b's retry period; a second of slack for a slow machine.
  EXPECT_LE(took_ms, kRoleTtlMs + kRoleTtlMs / 4 + 1'000);
  // Every task succeeds, once.
  std::map<std::string, boost::json::object> tasks;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (std::chrono::steady_clock::now() < deadline) {
    tasks = Tasks(b.port, auth);
    int ended = 0;
    for (const auto& id : ids) {
      if (tasks.count(id) == 0) continue;
      const auto state = tasks[id].at("state").as_string();
      if (state == "succeeded" || state == "failed" || state == "cancelled") ++ended;
    }
    if (ended == static_cast<int>(ids.size())) break;
    usleep(100'000);
  }
  for (const auto& id : ids) {
    ASSERT_EQ(tasks.count(id), 1u) << id;
    const auto& t = tasks[id];
    EXPECT_EQ(t.at("state").as_string(), "succeeded") << boost::json::serialize(t);
    int succeeded = 0;
    for (const auto& attempt : t.at("attempts").as_array())
      if (attempt.at("state").as_string() == "succeeded") ++succeeded;
    EXPECT_EQ(succeeded, 1) << boost::json::serialize(t);
  }
  HttpReply inbox = HttpCall(b.port, "POST", "/v1/populi/a2a/inbox",
                             R"({"receiver":"kill-test","claimer_node_id":"wb"})", auth);
  EXPECT_NE(inbox.body.find("acknowledged before the kill"), std::string::npos) << inbox.body;
  EXPECT_EQ(Stop(b, SIGTERM), 0);
}

TEST_F(ServeTest, AnAgentAndTheCliGivenBothReplicasKeepWorkingWhenOneIsKilled) {
  std::vector<std::string> env;
  if (!NeedPostgresEnv("urls_", &env)) return;
  const std::string secret = WriteInitCredentials();
  const std::vector<std::pair<std::string, std::string>> auth = {
      {"Authorization", "Bearer " + secret}};
  env.insert(env.end(),
             {"VOX_MESH_CONTROL_SWEEPER_ROLE_TTL_MS=2000", "VOX_MESH_CONTROL_HEARTBEAT_SECS=1",
              "VOX_MESH_CONTROL_SUSPECT_AFTER=2", "VOX_MESH_CONTROL_DOWN_AFTER=3",
              "VOX_MESH_CONTROL_LONG_POLL_MAX_MS=300", "VOX_MESH_POLICY_EXEC=permissive"});
  ServeProcess a = Start("127.0.0.1:0", env, false, "data-a");
  ASSERT_GT(a.port, 0) << a.first_line << ReadAll(a.stderr_fd);
  ServeProcess b = Start("127.0.0.1:0", env, false, "data-b");
  ASSERT_GT(b.port, 0) << b.first_line << ReadAll(b.stderr_fd);
  const std::string urls =
      "http://127.0.0.1:" + std::to_string(a.port) + ",http://127.0.0.1:" + std::to_string(b.port);
  std::vector<std::string> agent_env = env;
  agent_env.push_back("VOX_MESH_NODE_ID=wx");
  ServeProcess agent =
      Spawn({"populi", "join", urls, "--data-dir", (dir_ / "data-agent").string()}, agent_env);
  ASSERT_NE(agent.first_line.find("running against"), std::string::npos) << agent.first_line;

  auto state_at_b = [&]() -> std::string {
    HttpReply nodes = HttpCall(b.port, "GET", "/v1/populi/nodes", "", auth);
    if (nodes.status != 200) return "";
    const boost::json::value doc = boost::json::parse(nodes.body);
    for (const auto& n : doc.at("nodes").as_array())
      if (n.at("id").as_string() == "wx") return std::string(n.at("state").as_string());
    return "";
  };
  for (int i = 0; i < 200 && state_at_b() != "alive"; ++i) usleep(50'000);
  ASSERT_EQ(state_at_b(), "alive");

  // The agent talks to a, the first URL. Kill a: the agent moves to b, and stays alive there
  // well past the down window (3 heartbeats).
  Stop(a, SIGKILL);
  sleep(6);
  EXPECT_EQ(state_at_b(), "alive");

  // Work submitted through b runs on the agent.
  HttpReply submitted = HttpCall(
      b.port, "POST", "/v1/populi/tasks",
      R"({"command":"sh","args":["-c","echo via-b"],"constraints":{"node_allow":["wx"]}})", auth);
  ASSERT_EQ(submitted.status, 201) << submitted.body;
  const std::string id(boost::json::parse(submitted.body).at("id").as_string());
  std::string state;
  for (int i = 0; i < 300 && state != "succeeded"; ++i) {
    state = std::string(Tasks(b.port, auth)[id].at("state").as_string());
    if (state != "succeeded") usleep(50'000);
  }
  EXPECT_EQ(state, "succeeded") << boost::json::serialize(Tasks(b.port, auth)[id]);

  // The CLI given both URLs answers through b; given only the dead one it exits 3.
  const std::string vox = std::getenv("VOX_BIN");
  const std::string home = "VOX_HOME=" + (dir_ / "home").string();
  auto cli = [&](const std::string& url) {
    const std::string cmd = "env -i PATH=/usr/bin:/bin " + home + " " + vox +
                            " populi tasks --json --control-url '" + url + "' > " +
                            (dir_ / "cli.out").string() + " 2>&1";
    return WEXITSTATUS(std::system(cmd.c_str()));
  };
  EXPECT_EQ(cli(urls), 0) << ReadFile((dir_ / "cli.out").string());
  EXPECT_NE(ReadFile((dir_ / "cli.out").string()).find(id), std::string::npos);
  EXPECT_EQ(cli("http://127.0.0.1:" + std::to_string(a.port)), 3);
  EXPECT_EQ(Stop(agent, SIGTERM), 0);
  EXPECT_EQ(Stop(b, SIGTERM), 0);
}

}  // namespace
}  // namespace populi::control::testing
