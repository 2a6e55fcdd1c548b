// The MCP server (src/mcp): JSON-RPC framing and error codes, version negotiation, tools/list
// by access, every tool's schemas (well-formed JSON Schema; the example input and the output a
// call produces validate), mesh errors as tool results with a hint, progress notifications and
// traceparent handling.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "mcp/json_schema_check.h"
#include "mcp/server.h"
#include "mcp/tools.h"
#include "obs/span.h"

namespace populi::mcp {
namespace {
namespace json = boost::json;
using schema_check::CheckSchema;
using schema_check::Problems;

// ---- a backend with canned answers ----

mesh::Task SampleTask(const std::string& id, mesh::TaskState state) {
  mesh::Task t;
  t.id = id;
  t.state = state;
  t.spec.command = "echo";
  t.spec.env["API_KEY"] = "s3cret-value";
  t.exit_code = mesh::IsTerminal(state) ? 0 : -1;
  mesh::Attempt a;
  a.number = 1;
  a.node_id = "gpu-1";
  a.state = mesh::IsTerminal(state) ? mesh::AttemptState::kSucceeded : mesh::AttemptState::kRunning;
  a.exit_code = t.exit_code;
  a.placement_summary = "gpu-1: 1 GPU free, labels matched";
  t.attempts.push_back(a);
  return t;
}

class FakeBackend : public Backend {
 public:
  Status fail;  // returned by every call when set
  int wait_calls = 0;
  int waits_before_end = 0;
  std::string seen_traceparent;

  Result<mesh::NodeList> Nodes() override {
    Seen();
    if (!fail.ok()) return fail;
    mesh::NodeList list;
    mesh::NodeRecord a;
    a.id = "gpu-1";
    a.state = mesh::NodeState::kAlive;
    a.paired_with = {"cpu-1", "cpu-2"};
    mesh::GpuDevice g;
    g.name = "H100";
    g.memory_total_bytes = 80;
    g.memory_free_bytes = 70;
    a.gpus = {g, g};
    a.gpus[1].memory_free_bytes = 10;
    mesh::NodeRecord b;
    b.id = "cpu-1";
    b.state = mesh::NodeState::kDown;
    b.labels["zone"] = "a";
    list.nodes = {a, b};
    return list;
  }
  Result<Submitted> Submit(const mesh::TaskSpec& spec) override {
    Seen();
    if (!fail.ok()) return fail;
    submitted = spec;
    return Submitted{SampleTask("t-0123456789abcdef", mesh::TaskState::kPlaced), true};
  }
  Result<mesh::Task> Wait(const std::string& id, int64_t) override {
    Seen();
    if (!fail.ok()) return fail;
    ++wait_calls;
    return SampleTask(id, wait_calls > waits_before_end ? mesh::TaskState::kSucceeded
                                                        : mesh::TaskState::kRunning);
  }
  Result<mesh::LogPage> Logs(const std::string&, int64_t after) override {
    Seen();
    if (!fail.ok()) return fail;
    mesh::LogPage page;
    page.logs = {{after + 1, 1, "stdout", "hello\n", 5}, {after + 2, 1, "stderr", "warn\n", 6}};
    page.next_after = after + 2;
    page.state = mesh::TaskState::kSucceeded;
    return page;
  }
  Result<mesh::Task> Cancel(const std::string& id) override {
    Seen();
    if (!fail.ok()) return fail;
    return SampleTask(id, mesh::TaskState::kCancelled);
  }
  Result<mesh::TaskExplanation> Explain(const std::string& id) override {
    Seen();
    if (!fail.ok()) return fail;
    return mesh::Explain(SampleTask(id, mesh::TaskState::kRunning));
  }
  Result<mesh::DeliverReply> Deliver(const mesh::NewMessage& m) override {
    Seen();
    if (!fail.ok()) return fail;
    delivered = m;
    mesh::DeliverReply r;
    r.message_id = 7;
    return r;
  }
  Result<mesh::InboxPage> Inbox(const mesh::InboxRequest& r) override {
    Seen();
    if (!fail.ok()) return fail;
    inbox = r;
    mesh::InboxPage page;
    mesh::A2AMessage m;
    m.id = 3;
    m.sender = "a";
    m.receiver = r.receiver;
    m.message_type = "task_progress";
    m.payload = "{}";
    m.claim_token = "ct";
    mesh::A2AMessage s = m;
    s.id = 4;
    s.message_type = "secret_share";
    s.payload = "sealed-secret";
    page.messages = {m, s};
    return page;
  }
  Result<mesh::AckReply> Ack(const mesh::AckRequest& r) override {
    Seen();
    if (!fail.ok()) return fail;
    acks.push_back(r);
    mesh::AckReply reply;
    reply.acked = r.message_ids;
    return reply;
  }
  Result<mesh::EventPage> Events(int64_t after, int) override {
    Seen();
    if (!fail.ok()) return fail;
    mesh::EventPage page;
    page.events = {{after + 1, 10, "task.submitted", "t-1", R"({"by":"admin"})"}};
    page.next_after = after + 1;
    return page;
  }
  std::string LocalNodeId() const override { return "gpu-1"; }

  mesh::TaskSpec submitted;
  mesh::NewMessage delivered;
  mesh::InboxRequest inbox;
  std::vector<mesh::AckRequest> acks;

 private:
  void Seen() {
    const obs::TraceContext* t = obs::CurrentContext();
    seen_traceparent = t ? t->Traceparent() : "";
  }
};

json::object Req(int id, std::string_view method, json::object params = {}) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
}

class McpServerTest : public ::testing::Test {
 protected:
  json::object Send(const json::object& msg, const CallContext& ctx = {}) {
    auto r = server.HandleText(json::serialize(msg), ctx);
    EXPECT_TRUE(r.has_value());
    return r ? *r : json::object{};
  }
  json::object Call(std::string_view tool, json::object args, const CallContext& ctx = {}) {
    json::object r = Send(Req(9, "tools/call", {{"name", tool}, {"arguments", args}}), ctx);
    EXPECT_TRUE(r.contains("result")) << json::serialize(r);
    return r.contains("result") ? r["result"].as_object() : json::object{};
  }
  FakeBackend backend;
  Server server{backend, "1.2.3"};
};

TEST(McpJsonRpcTest, ParseErrorsGetJsonRpcCodes) {
  auto code = [](std::string_view text) {
    auto r = ParseMessage(text);
    if (!std::holds_alternative<json::object>(r)) return 0;
    return static_cast<int>(std::get<json::object>(r)["error"].as_object()["code"].as_int64());
  };
  EXPECT_EQ(code("{not json"), kParseError);
  EXPECT_EQ(code("[]"), kInvalidRequest);
  EXPECT_EQ(code("42"), kInvalidRequest);
  EXPECT_EQ(code(R"({"id":1,"method":"ping"})"), kInvalidRequest);  // no jsonrpc
  EXPECT_EQ(code(R"({"jsonrpc":"1.0","id":1,"method":"ping"})"), kInvalidRequest);
  EXPECT_EQ(code(R"({"jsonrpc":"2.0","id":1})"), kInvalidRequest);  // no method
  EXPECT_EQ(code(R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})"), kInvalidRequest);
  EXPECT_EQ(code(R"({"jsonrpc":"2.0","id":null,"method":"ping"})"), kInvalidRequest);
  EXPECT_EQ(code(R"({"jsonrpc":"2.0","id":1,"method":"x","params":[1]})"), kInvalidRequest);
  EXPECT_EQ(code(R"({"jsonrpc":"2.0","id":"a","method":"ping"})"), 0);
  // The id of an invalid request is echoed when it could be read.
  auto r = ParseMessage(R"({"jsonrpc":"2.0","id":"x7"})");
  EXPECT_EQ(std::get<json::object>(r)["id"], json::value("x7"));
  auto n = ParseMessage(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  EXPECT_EQ(std::get<Incoming>(n).kind, Incoming::Kind::kNotification);
  auto resp = ParseMessage(R"({"jsonrpc":"2.0","id":3,"result":{}})");
  EXPECT_EQ(std::get<Incoming>(resp).kind, Incoming::Kind::kResponse);
}

TEST_F(McpServerTest, InitializeNegotiatesTheVersion) {
  json::object r = Send(Req(1, "initialize",
                            {{"protocolVersion", "2025-03-26"},
                             {"capabilities", json::object{}},
                             {"clientInfo", {{"name", "t"}, {"version", "1"}}}}));
  EXPECT_EQ(r["id"], json::value(1));
  EXPECT_EQ(r["result"].at("protocolVersion"), json::value("2025-03-26"));
  EXPECT_TRUE(r["result"].at("capabilities").as_object().contains("tools"));
  EXPECT_EQ(r["result"].at("serverInfo").at("version"), json::value("1.2.3"));
  r = Send(Req(2, "initialize", {{"protocolVersion", "2031-01-01"}}));
  EXPECT_EQ(r["result"].at("protocolVersion"), json::value(kLatestProtocolVersion));
  EXPECT_EQ(kLatestProtocolVersion, "2025-06-18");
}

TEST_F(McpServerTest, NotificationsAndResponsesGetNoAnswer) {
  EXPECT_FALSE(server.HandleText(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", {}));
  EXPECT_FALSE(server.HandleText(R"({"jsonrpc":"2.0","id":5,"result":{}})", {}));
  json::object r = Send(Req(3, "ping"));
  EXPECT_TRUE(r["result"].as_object().empty());
  r = Send(Req(4, "resources/frobnicate"));
  EXPECT_EQ(r["error"].at("code"), json::value(kMethodNotFound));
  r = Send(Req(5, "tools/call", {{"name", "no_such_tool"}}));
  EXPECT_EQ(r["error"].at("code"), json::value(kInvalidParams));
  r = Send(Req(6, "tools/call", {{"name", "list_nodes"}, {"arguments", 3}}));
  EXPECT_EQ(r["error"].at("code"), json::value(kInvalidParams));
}

TEST_F(McpServerTest, EveryToolHasValidSchemasAndAnnotations) {
  json::object r = Send(Req(1, "tools/list"));
  const json::array& tools = r["result"].at("tools").as_array();
  std::set<std::string> names;
  for (const auto& t : tools) {
    const json::object& tool = t.as_object();
    const std::string name(tool.at("name").as_string());
    names.insert(name);
    SCOPED_TRACE(name);
    EXPECT_GT(tool.at("description").as_string().size(), 80u) << "too short to act on";
    for (const char* key : {"inputSchema", "outputSchema"}) {
      std::vector<std::string> problems;
      CheckSchema(tool.at(key), key, problems);
      EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);
      EXPECT_EQ(tool.at(key).at("type"), json::value("object"));
      EXPECT_TRUE(tool.at(key).at("properties").as_object().contains("traceparent"));
    }
    const json::object& a = tool.at("annotations").as_object();
    for (const char* hint : {"readOnlyHint", "destructiveHint", "idempotentHint"})
      EXPECT_TRUE(a.at(hint).is_bool()) << hint;
    if (a.at("readOnlyHint").as_bool()) {
      EXPECT_FALSE(a.at("destructiveHint").as_bool());
    }
    const ToolSpec* spec = FindTool(name);
    ASSERT_NE(spec, nullptr);
    auto bad = Problems(spec->example, spec->input_schema);
    EXPECT_TRUE(bad.empty()) << "example: " << ::testing::PrintToString(bad);
  }
  EXPECT_EQ(names, (std::set<std::string>{"mesh_status", "list_nodes", "submit_task", "wait_task",
                                          "task_logs", "cancel_task", "explain_task", "a2a_send",
                                          "a2a_receive", "events_since"}));
  EXPECT_TRUE(FindTool("cancel_task")->destructive);
  // The checker itself catches what it should.
  std::vector<std::string> problems;
  CheckSchema(json::parse(R"({"type":"thing","required":["x"],"bogus":1})"), "$", problems);
  EXPECT_EQ(problems.size(), 3u);
  EXPECT_FALSE(Problems(json::parse(R"({"a":"x"})"), FindTool("list_nodes")->input_schema).empty());
}

TEST_F(McpServerTest, EveryToolsOutputValidatesAgainstItsSchema) {
  for (const ToolSpec& tool : Tools()) {
    SCOPED_TRACE(tool.name);
    json::object result = Call(tool.name, tool.example);
    ASSERT_FALSE(result["isError"].as_bool()) << json::serialize(result);
    const json::value& structured = result["structuredContent"];
    auto bad = Problems(structured, tool.output_schema);
    EXPECT_TRUE(bad.empty()) << ::testing::PrintToString(bad) << json::serialize(structured);
    // The text block carries the same content.
    EXPECT_EQ(json::parse(result["content"].as_array()[0].at("text").as_string()), structured);
    // Never a secret value.
    EXPECT_EQ(json::serialize(result).find("s3cret"), std::string::npos);
    EXPECT_EQ(json::serialize(result).find("sealed-secret"), std::string::npos);
  }
}

TEST_F(McpServerTest, ToolResultsCarryWhatTheMeshSaid) {
  json::object s = Call("mesh_status", {})["structuredContent"].as_object();
  EXPECT_EQ(s["nodes_total"], json::value(2));
  EXPECT_EQ(s["nodes_by_state"].at("alive"), json::value(1));
  EXPECT_EQ(s["gpus_total"], json::value(2));
  EXPECT_EQ(s["gpus_free"], json::value(1));
  EXPECT_EQ(s["paired_peers"], json::value(2));
  json::object sub =
      Call("submit_task", {{"command", "nvidia-smi"},
                           {"args", json::array{"-L"}},
                           {"gpus", 1},
                           {"required_labels", {{"zone", "a"}}}})["structuredContent"]
          .as_object();
  EXPECT_EQ(sub["task_id"], json::value("t-0123456789abcdef"));
  EXPECT_EQ(sub["likely_node_id"], json::value("gpu-1"));
  EXPECT_EQ(sub["reason"], json::value("gpu-1: 1 GPU free, labels matched"));
  EXPECT_EQ(backend.submitted.command, "nvidia-smi");
  EXPECT_EQ(backend.submitted.resources.gpus, 1u);
  EXPECT_EQ(backend.submitted.constraints.required_labels.at("zone"), "a");
  json::object logs =
      Call("task_logs", {{"task_id", "t-1"}, {"after", 4}})["structuredContent"].as_object();
  EXPECT_EQ(logs["stdout"], json::value("hello\n"));
  EXPECT_EQ(logs["next_after"], json::value(6));
  json::object rx = Call("a2a_receive", {{"receiver", "agent-1"}})["structuredContent"].as_object();
  EXPECT_EQ(backend.inbox.claimer_node_id, "gpu-1");
  ASSERT_EQ(backend.acks.size(), 1u);
  EXPECT_EQ(backend.acks[0].claim_token, "ct");
  EXPECT_EQ(rx["acked"].as_array().size(), 2u);
  Call("a2a_send", {{"receiver", "agent-1"}, {"message_type", "task_progress"}});
  EXPECT_EQ(backend.delivered.sender, "gpu-1");
  json::object refused = Call("a2a_send", {{"receiver", "x"}, {"message_type", "secret_share"}});
  EXPECT_TRUE(refused["isError"].as_bool());
}

TEST_F(McpServerTest, MeshErrorsAreToolResultsWithAHint) {
  backend.fail = NotFound("task t-00 does not exist", "list tasks with GET /v1/populi/tasks");
  json::object r =
      Send(Req(1, "tools/call", {{"name", "wait_task"}, {"arguments", {{"task_id", "t-00"}}}}));
  ASSERT_TRUE(r.contains("result")) << "not a protocol error";
  json::object result = r["result"].as_object();
  EXPECT_TRUE(result["isError"].as_bool());
  EXPECT_FALSE(result.contains("structuredContent"));
  json::value body = json::parse(result["content"].as_array()[0].at("text").as_string());
  EXPECT_EQ(body.at("error").at("code"), json::value("not_found"));
  EXPECT_EQ(body.at("error").at("hint"), json::value("list tasks with GET /v1/populi/tasks"));
  // Bad arguments are tool errors too, naming the argument.
  backend.fail = Status::Ok();
  result = Call("wait_task", {{"task_id", "t-1"}, {"wait_ms", "soon"}});
  EXPECT_TRUE(result["isError"].as_bool());
  EXPECT_NE(json::serialize(result).find("wait_ms"), std::string::npos);
  result = Call("submit_task", {});
  EXPECT_TRUE(result["isError"].as_bool());
}

TEST_F(McpServerTest, TraceparentIsUsedAndReturned) {
  const std::string tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  json::object r = Call("list_nodes", {{"traceparent", tp}});
  EXPECT_EQ(r["structuredContent"].at("traceparent"), json::value(tp));
  EXPECT_EQ(backend.seen_traceparent, tp);
  r = Call("list_nodes", {});
  const std::string fresh(r["structuredContent"].at("traceparent").as_string());
  EXPECT_EQ(fresh.size(), 55u);
  EXPECT_EQ(backend.seen_traceparent, fresh);
  EXPECT_EQ(obs::CurrentContext(), nullptr) << "the context ends with the call";
  r = Call("list_nodes", {{"traceparent", "00-zz"}});
  EXPECT_TRUE(r["isError"].as_bool());
  // Without the argument, a call continues the context current where it is handled (the HTTP
  // transport makes the /mcp request's trace current).
  const obs::TraceContext outer = obs::NewRootContext();
  {
    obs::ScopedContext scope(outer);
    r = Call("list_nodes", {});
  }
  EXPECT_EQ(r["structuredContent"].at("traceparent"), json::value(outer.Traceparent()));
}

TEST_F(McpServerTest, WaitTaskSendsProgressWhenAsked) {
  backend.waits_before_end = 2;
  std::vector<json::object> sent;
  CallContext ctx;
  ctx.notify = [&sent](const json::object& n) { sent.push_back(n); };
  json::object r = Send(Req(1, "tools/call",
                            {{"name", "wait_task"},
                             {"arguments", {{"task_id", "t-1"}}},
                             {"_meta", {{"progressToken", "p1"}}}}),
                        ctx);
  EXPECT_EQ(r["result"].at("structuredContent").at("state"), json::value("succeeded"));
  EXPECT_EQ(r["result"].at("structuredContent").at("timed_out"), json::value(false));
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0]["method"], json::value("notifications/progress"));
  EXPECT_EQ(sent[0]["params"].at("progressToken"), json::value("p1"));
  // No token, no notifications.
  sent.clear();
  backend.wait_calls = 0;
  Send(Req(2, "tools/call", {{"name", "wait_task"}, {"arguments", {{"task_id", "t-1"}}}}), ctx);
  EXPECT_TRUE(sent.empty());
}

TEST_F(McpServerTest, AccessLimitsTheToolsListedAndCallable) {
  CallContext read_only;
  read_only.allowed = [](Access a) { return a == Access::kRead; };
  json::object r = Send(Req(1, "tools/list"), read_only);
  std::set<std::string> names;
  for (const auto& t : r["result"].at("tools").as_array())
    names.insert(std::string(t.at("name").as_string()));
  EXPECT_TRUE(names.count("list_nodes"));
  EXPECT_FALSE(names.count("submit_task"));
  EXPECT_FALSE(names.count("a2a_receive"));
  r = Send(Req(2, "tools/call", {{"name", "cancel_task"}, {"arguments", {{"task_id", "t-1"}}}}),
           read_only);
  EXPECT_EQ(r["error"].at("code"), json::value(kInvalidParams));
}

}  // namespace
}  // namespace populi::mcp
