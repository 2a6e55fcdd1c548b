// The task verbs (`submit`, `tasks`, `wait`, `logs`, `cancel`, `explain`), `leases` and the admin
// verbs as the real `vox` binary against a real `vox populi serve`.
//
// These need only the routes every control plane has (nodes, exec leases, admin) and a serve
// without a worker; task_run_verbs_test.cc runs tasks on a serve with its local worker.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "cli/serve_process.h"
#include "client/control_plane_api.h"
#include "config/test_files.h"

namespace populi::testing {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kAdminToken[] = "task-verbs-test-admin-token-0123456789ab";
// The node record `id` as the control plane lists it; an empty record when it is not listed.
mesh::NodeRecord NodeRecord(const std::string& url, const std::string& id) {
  auto nodes = client::ControlPlaneApi(url, kAdminToken).Nodes();
  EXPECT_TRUE(nodes.ok()) << nodes.status().ToString();
  if (!nodes.ok()) return {};
  for (const mesh::NodeRecord& n : nodes->nodes) {
    if (n.id == id) return n;
  }
  return {};
}

// ---- without the task routes ----

class TaskVerbsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    serve_ = new ServeProcess(dir_->Sub("mesh"), kAdminToken);
    ASSERT_TRUE(serve_->Start());
    client::ControlPlaneApi api(serve_->url(), kAdminToken);
    for (const char* node : {"lease-box", "maint-box", "quiet-box"}) {
      mesh::NodeRecord record;
      record.id = node;
      record.version = "0.1.0";
      auto joined = api.Join(record);
      ASSERT_TRUE(joined.ok()) << joined.status().ToString();
    }
  }
  static void TearDownTestSuite() {
    delete serve_;
    delete dir_;
  }

  // Grants a one-hour exec lease on `scope` to lease-box; its id.
  static std::string GrantLease(const std::string& scope) {
    auto lease =
        client::ControlPlaneApi(serve_->url(), kAdminToken)
            .GrantLease({.scope_key = scope, .holder_node_id = "lease-box", .ttl_ms = 3'600'000});
    EXPECT_TRUE(lease.ok()) << lease.status().ToString();
    return lease.ok() ? lease->lease_id : std::string();
  }

  static inline TempDir* dir_ = nullptr;
  static inline ServeProcess* serve_ = nullptr;
};

TEST_F(TaskVerbsTest, UsageErrorsExitTwoBeforeAnyRequest) {
  // Every case names an unreachable control plane: a usage error must win over exit 3.
  const std::string url = "--control-url=http://127.0.0.1:1";
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"populi", "submit", url, "--vram", "12Q", "--", "true"}, "--vram"},
      {{"populi", "submit", url, "--mem", "8X", "--", "true"}, "--mem"},
      {{"populi", "submit", url, "--timeout", "10x", "--", "true"},
       "--timeout: invalid duration \"10x\""},
      {{"populi", "submit", url, "--timeout", "5 minutes", "--", "true"}, "invalid duration"},
      {{"populi", "submit", url, "--timeout", "1.5", "--", "true"}, "a fraction needs a unit"},
      {{"populi", "submit", url, "--gpus", "1"}, "missing the command to run after --"},
      {{"populi", "submit", url, "--gpus", "1", "--"}, "missing the command to run after --"},
      {{"populi", "submit", url, "--label", "gpu", "--", "true"},
       "--label \"gpu\" is not KEY=VALUE"},
      {{"populi", "submit", url, "--env", "=1", "--", "true"}, "--env \"=1\""},
      {{"populi", "submit", url, "--gpus", "0", "--vram", "8G", "--", "true"}, "--vram needs"},
      {{"populi", "submit", url, "--max-attempts", "0", "--", "true"}, "--max-attempts"},
      {{"populi", "submit", url, "--gpus", "two", "--", "true"}, "--gpus"},
      {{"populi", "wait", url, "t-1", "--timeout", "soon"}, "--timeout: invalid duration \"soon\""},
      {{"populi", "wait", url}, "ID"},
      {{"populi", "tasks", url, "--state", "sleeping"}, "--state"},
      {{"populi", "admin", "maintenance", url, "maint-box", "--off", "--for", "1h"}, "--for"},
      {{"populi", "admin", "maintenance", url, "maint-box", "--for", "0s"}, "--for"},
      {{"populi", "admin", "maintenance", url, "maint-box", "--for", "1y"},
       "--for: invalid duration"},
      {{"populi", "admin"}, "subcommand"},
  };
  for (const Case& c : cases) {
    VoxRun run = serve_->Vox(c.args);
    const std::string where = ::testing::PrintToString(c.args);
    EXPECT_EQ(run.exit_code, 2) << where << "\n" << run.err;
    EXPECT_THAT(run.err, StartsWith("error: ")) << where;
    EXPECT_THAT(run.err, HasSubstr(c.says)) << where;
    EXPECT_THAT(run.err, HasSubstr("\nhint: ")) << where;
  }
}

TEST_F(TaskVerbsTest, SubmitArgumentsAfterTheSeparatorAreTheCommandsOwn) {
  // `--json` and `--gpus` after `--` belong to the command; the submit fails only on the
  // unreachable URL (exit 3), and its error is text, not JSON.
  VoxRun run = serve_->Vox({"populi", "submit", "--control-url", "http://127.0.0.1:1", "--", "tool",
                            "--json", "--gpus", "9"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_THAT(run.err, StartsWith("error: "));
  // A repeatable flag takes one value, so `--` after it still starts the command.
  VoxRun repeated = serve_->Vox({"populi", "submit", "--control-url", "http://127.0.0.1:1",
                                 "--label", "a=b", "--env", "K=V", "--", "tool", "-c", "x"});
  EXPECT_EQ(repeated.exit_code, 3) << repeated.err;
}

TEST_F(TaskVerbsTest, AnUnreachableControlPlaneExitsThreeWithAHint) {
  ServeProcess stopped(dir_->Sub("stopped"), kAdminToken);
  ASSERT_TRUE(stopped.Start());
  const std::string url = stopped.url();
  stopped.Stop();
  const std::vector<std::vector<std::string>> verbs = {
      {"populi", "submit", "--control-url", url, "--", "true"},
      {"populi", "submit", "--detach", "--control-url", url, "--", "true"},
      {"populi", "tasks", "--control-url", url},
      {"populi", "wait", "t-1", "--control-url", url},
      {"populi", "logs", "t-1", "-f", "--control-url", url},
      {"populi", "cancel", "t-1", "--control-url", url},
      {"populi", "explain", "t-1", "--control-url", url},
      {"populi", "leases", "--control-url", url},
      {"populi", "admin", "quarantine", "quiet-box", "--control-url", url},
      {"populi", "admin", "exec-lease-revoke", "abcd", "--control-url", url},
      {"populi", "leases"},  // serve removed its control-url file: no URL at all
  };
  for (const auto& args : verbs) {
    VoxRun run = stopped.Vox(args);
    const std::string where = ::testing::PrintToString(args);
    EXPECT_EQ(run.exit_code, 3) << where << "\n" << run.err;
    EXPECT_THAT(run.err, HasSubstr("hint: ")) << where;
    EXPECT_THAT(run.err, HasSubstr("vox populi serve")) << where;
  }
  VoxRun json_run = stopped.Vox({"populi", "leases", "--json", "--control-url", url});
  EXPECT_EQ(json_run.exit_code, 3);
  EXPECT_EQ(Parse(json_run.err).at("error").at("code"), "unavailable");
}

TEST_F(TaskVerbsTest, LeasesListsLiveLeasesAsATableAndAsJson) {
  const std::string id = GrantLease("task:demo-table");
  ASSERT_EQ(id.size(), 32u);

  VoxRun json_run = serve_->Vox({"populi", "leases", "--json"});
  ASSERT_EQ(json_run.exit_code, 0) << json_run.err;
  json::value doc = Parse(json_run.out);
  bool found = false;
  for (const auto& l : doc.at("leases").as_array()) {
    if (l.at("lease_id") != id.c_str()) continue;
    found = true;
    EXPECT_EQ(l.at("scope_key"), "task:demo-table");
    EXPECT_EQ(l.at("holder_node_id"), "lease-box");
    EXPECT_EQ(l.at("state"), "granted");
  }
  EXPECT_TRUE(found) << json_run.out;

  VoxRun table = serve_->Vox({"populi", "leases"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  const std::string header = table.out.substr(0, table.out.find('\n'));
  EXPECT_THAT(header, MatchesRegex("LEASE +SCOPE +HOLDER +TOKEN +STATE +EXPIRES"));
  const size_t at = table.out.find("\n" + id.substr(0, 8) + " ");
  ASSERT_NE(at, std::string::npos) << table.out;
  const std::string row = table.out.substr(at + 1, table.out.find('\n', at + 1) - at - 1);
  EXPECT_THAT(row, MatchesRegex(id.substr(0, 8) +
                                " +task:demo-table +lease-box +[0-9]+ +granted +in [0-9]+[smh]"));
  EXPECT_THAT(table.out, Not(HasSubstr(id.substr(8)))) << "only the first 8 characters";
  EXPECT_THAT(table.out, Not(HasSubstr("\033["))) << "no colour when piped";
  // The header's columns line up with the row's.
  EXPECT_EQ(header.find("SCOPE"), row.find("task:demo-table"));
  EXPECT_EQ(header.find("STATE"), row.find("granted"));
}

TEST_F(TaskVerbsTest, MaintenanceOnAndOffShowsInTheNodeRecord) {
  VoxRun on = serve_->Vox({"populi", "admin", "maintenance", "maint-box", "--for", "1h"});
  ASSERT_EQ(on.exit_code, 0) << on.err;
  EXPECT_THAT(on.out, HasSubstr("node maint-box: maintenance on, ends in "));
  mesh::NodeRecord node = NodeRecord(serve_->url(), "maint-box");
  EXPECT_TRUE(node.maintenance);
  EXPECT_GT(node.maintenance_until_ms, node.last_seen_ms + 50 * 60 * 1000) << "about an hour ahead";

  VoxRun off = serve_->Vox({"populi", "admin", "maintenance", "maint-box", "--off", "--json"});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_EQ(Parse(off.out).at("maintenance"), false);
  EXPECT_FALSE(NodeRecord(serve_->url(), "maint-box").maintenance);

  VoxRun open_ended = serve_->Vox({"populi", "admin", "maintenance", "maint-box"});
  ASSERT_EQ(open_ended.exit_code, 0) << open_ended.err;
  EXPECT_THAT(open_ended.out, HasSubstr("maintenance on until cleared"));
  EXPECT_TRUE(NodeRecord(serve_->url(), "maint-box").maintenance);
  ASSERT_EQ(serve_->Vox({"populi", "admin", "maintenance", "maint-box", "--off"}).exit_code, 0);

  VoxRun unknown = serve_->Vox({"populi", "admin", "maintenance", "no-such-box"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.err;
  EXPECT_THAT(unknown.err, HasSubstr("node no-such-box is not registered"));
}

TEST_F(TaskVerbsTest, MaintenanceForTakesFractionsAndBareSeconds) {
  for (const char* for_text : {"1.5h", "5400"}) {
    VoxRun on = serve_->Vox({"populi", "admin", "maintenance", "maint-box", "--for", for_text});
    ASSERT_EQ(on.exit_code, 0) << for_text << ": " << on.err;
    mesh::NodeRecord node = NodeRecord(serve_->url(), "maint-box");
    const int64_t ahead = node.maintenance_until_ms - node.last_seen_ms;
    EXPECT_GT(ahead, 85 * 60 * 1000) << for_text << ": about an hour and a half ahead";
    EXPECT_LT(ahead, 95 * 60 * 1000) << for_text;
  }
  ASSERT_EQ(serve_->Vox({"populi", "admin", "maintenance", "maint-box", "--off"}).exit_code, 0);
}

TEST_F(TaskVerbsTest, QuarantineOnAndOffShowsInTheNodeRecord) {
  VoxRun on = serve_->Vox({"populi", "admin", "quarantine", "quiet-box"});
  ASSERT_EQ(on.exit_code, 0) << on.err;
  EXPECT_THAT(on.out, HasSubstr("node quiet-box: quarantined"));
  EXPECT_TRUE(NodeRecord(serve_->url(), "quiet-box").quarantined);
  VoxRun peers = serve_->Vox({"populi", "peers"});
  EXPECT_THAT(peers.out, HasSubstr("quarantined"));

  VoxRun off = serve_->Vox({"populi", "admin", "quarantine", "quiet-box", "--off"});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_THAT(off.out, HasSubstr("node quiet-box: not quarantined"));
  EXPECT_FALSE(NodeRecord(serve_->url(), "quiet-box").quarantined);
}

TEST_F(TaskVerbsTest, RevokeTakesAnIdOrAUniquePrefixAndReportsTheServersError) {
  const std::string id = GrantLease("task:demo-revoke");
  VoxRun revoked = serve_->Vox({"populi", "admin", "exec-lease-revoke", id.substr(0, 8), "--json"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  json::value lease = Parse(revoked.out);
  EXPECT_EQ(lease.at("lease_id"), id.c_str());
  EXPECT_EQ(lease.at("state"), "revoked");
  VoxRun live = serve_->Vox({"populi", "leases", "--json"});
  EXPECT_THAT(live.out, Not(HasSubstr(id)));
  VoxRun history = serve_->Vox({"populi", "leases", "--all"});
  EXPECT_THAT(history.out, MatchesRegex("(.|\n)*" + id.substr(0, 8) + " .* revoked (.|\n)*"));

  // Revoking it again: the control plane refuses an ended lease.
  VoxRun again = serve_->Vox({"populi", "admin", "exec-lease-revoke", id});
  EXPECT_EQ(again.exit_code, 1) << again.err;
  EXPECT_THAT(again.err, StartsWith("error: "));

  const std::string unknown(32, 'e');
  VoxRun missing = serve_->Vox({"populi", "admin", "exec-lease-revoke", unknown});
  EXPECT_EQ(missing.exit_code, 1) << missing.err;
  EXPECT_THAT(missing.err, HasSubstr("exec lease " + unknown + " does not exist"));
  EXPECT_THAT(missing.err, HasSubstr("hint: list leases with `vox populi leases`"));

  VoxRun no_prefix = serve_->Vox({"populi", "admin", "exec-lease-revoke", "ffffffff"});
  EXPECT_EQ(no_prefix.exit_code, 1) << no_prefix.err;
  EXPECT_THAT(no_prefix.err, HasSubstr("no live exec lease id starts with ffffffff"));

  const std::string text_id = GrantLease("task:demo-revoke-text");
  VoxRun text = serve_->Vox({"populi", "admin", "exec-lease-revoke", text_id});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out, "lease " + text_id +
                          " revoked (scope task:demo-revoke-text, holder lease-box, token 1)\n");
}

}  // namespace
}  // namespace populi::testing
