// End-to-end secrets on a real mesh: a control plane and three agents, each with its own
// VOX_HOME; pairing with the real CLI (the code carried from one process's output to the other's
// flags), a secret set on one box and used by a task on another, and the ways it must not work.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "cli/serve_process.h"
#include "crypto/ed25519.h"
#include "e2e/mesh_fixture.h"
#include "mesh/pairing.h"

namespace populi::e2e {
namespace {

class SecretsE2E : public MeshFixture {
 protected:
  void SetUp() override {
    MeshFixture::SetUp();
    extra_env_["VOX_MESH_POLICY_EXEC"] = "permissive";
    StartControl();
    a_ = StartAgent(0);
    b_ = StartAgent(1);
    c_ = StartAgent(2);
    ASSERT_TRUE(WaitFor(
        [&] {
          auto s = NodeStates();
          return s[a_] == "alive" && s[b_] == "alive" && s[c_] == "alive";
        },
        30'000));
  }

  std::string Home(size_t agent) const {
    return (root_ / ("agent" + std::to_string(agent) + "-home")).string();
  }
  // `vox ARGS --control-url URL` as the operator of agent `agent` (its VOX_HOME).
  testing::VoxRun Cli(size_t agent, std::vector<std::string> args,
                      const std::string& stdin_path = "/dev/null") {
    testing::VoxEnv env;
    env.cwd = root_.string();
    env.vars = BaseEnv(Home(agent));
    const std::string scratch = (root_ / ("cli-" + std::to_string(agent))).string();
    fs::create_directories(scratch);
    args.insert(args.begin(), "populi");
    if (args[1] != "secret" && !(args.size() > 2 && args[2] == "--rotate") && args[1] != "unpair") {
      args.push_back("--control-url");
      args.push_back(url());
    }
    return testing::RunVoxWithin(env, args, scratch, stdin_path);
  }
  // `vox populi pair PEER` on `offering` in the background; the code it shows.
  std::string StartOffer(VoxProcess& process, size_t offering, const std::string& peer) {
    auto env = BaseEnv(Home(offering));
    process.Start(root_ / ("pair-" + std::to_string(offering) + "-" + peer),
                  {"populi", "pair", peer, "--control-url", url(), "--wait", "60s"}, env);
    std::string code;
    WaitFor(
        [&] {
          std::smatch m;
          const std::string err = process.Stderr();
          if (std::regex_search(err, m, std::regex("pairing code: ([0-9A-Z]{5}-[0-9A-Z]{5})")))
            code = m[1];
          return !code.empty() || process.Exited();
        },
        30'000);
    return code;
  }
  // Pairs agent `x` (offering) with agent `y` (answering); both print the same safety number.
  void Pair(size_t x, const std::string& x_id, size_t y, const std::string& y_id) {
    VoxProcess offer;
    const std::string code = StartOffer(offer, x, y_id);
    ASSERT_FALSE(code.empty()) << offer.Stderr();
    testing::VoxRun answer = Cli(y, {"pair", x_id, "--code", code});
    ASSERT_EQ(answer.exit_code, 0) << answer.err;
    ASSERT_TRUE(WaitFor([&] { return offer.Exited(); }, 30'000));
    std::smatch m1, m2;
    const std::string offered_out = offer.Stdout();
    ASSERT_TRUE(std::regex_search(answer.out, m1, std::regex("safety number: ([0-9 ]+)")))
        << answer.out;
    ASSERT_TRUE(std::regex_search(offered_out, m2, std::regex("safety number: ([0-9 ]+)")))
        << offered_out << offer.Stderr();
    EXPECT_EQ(m1[1], m2[1]);
  }
  bool PairedWith(const std::string& node, const std::string& peer) {
    auto nodes = Api().Nodes();
    if (!nodes.ok()) return false;
    for (const auto& n : nodes->nodes) {
      if (n.id == node)
        return std::find(n.paired_with.begin(), n.paired_with.end(), peer) != n.paired_with.end();
    }
    return false;
  }
  void SetSecret(size_t agent, const std::string& name, const std::string& value) {
    const fs::path in = root_ / ("secret-in-" + std::to_string(agent));
    std::ofstream(in) << value;
    testing::VoxRun set = Cli(agent, {"secret", "set", name}, in.string());
    fs::remove(in);
    ASSERT_EQ(set.exit_code, 0) << set.err;
  }
  // Every file under the test root but the submitter's own secret file, searched for `needle`.
  std::vector<std::string> FilesHolding(const std::string& needle) {
    std::vector<std::string> hits;
    const fs::path own = fs::path(Home(0)) / "populi" / "secrets.json";
    for (const auto& entry : fs::recursive_directory_iterator(root_)) {
      if (!entry.is_regular_file() || entry.path() == own) continue;
      if (Slurp(entry.path()).find(needle) != std::string::npos) hits.push_back(entry.path());
    }
    return hits;
  }

  std::string a_, b_, c_;
};

TEST_F(SecretsE2E, ASecretSetOnOneBoxReachesATaskOnAPairedBoxAndNowhereElse) {
  const std::string value = "populi-e2e-secret-" + RandomHex(8);
  SetSecret(0, "HF_TOKEN", value);
  testing::VoxRun listed = Cli(0, {"secret", "list"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("HF_TOKEN"), std::string::npos);
  EXPECT_EQ(listed.out.find(value), std::string::npos);

  Pair(0, a_, 1, b_);
  ASSERT_TRUE(WaitFor([&] { return PairedWith(b_, a_) && PairedWith(a_, b_); }, 30'000));

  const std::vector<std::string> run_on_b = {
      "submit",   "--node",   b_,
      "--secret", "HF_TOKEN", "--",
      "sh",       "-c",       "printf %s \"$HF_TOKEN\" | sha256sum"};
  testing::VoxRun ran = Cli(0, run_on_b);
  ASSERT_EQ(ran.exit_code, 0) << ran.out << ran.err << agent(1).Stderr();
  EXPECT_NE(ran.out.find(crypto::Sha256Hex(value)), std::string::npos) << ran.out;

  // Not in the store, any log, any data directory but A's own secret file.
  EXPECT_EQ(FilesHolding(value), std::vector<std::string>{});
  const std::string b64 =
      crypto::Base64(reinterpret_cast<const uint8_t*>(value.data()), value.size());
  EXPECT_EQ(FilesHolding(b64.substr(0, 16)), std::vector<std::string>{});
  // Nor in the trace of the task's hops.
  auto tasks = Api().ListTasks();
  ASSERT_TRUE(tasks.ok());
  ASSERT_FALSE(tasks->tasks.empty());
  const mesh::Task& task = tasks->tasks.front();
  EXPECT_EQ(task.spec.secret_names, std::vector<std::string>{"HF_TOKEN"});
  testing::VoxRun trace = Cli(0, {"trace", task.id});
  ASSERT_EQ(trace.exit_code, 0) << trace.err;
  EXPECT_NE(trace.out.find("secrets.fetch"), std::string::npos) << trace.out;
  EXPECT_EQ(trace.out.find(value), std::string::npos);

  // C is not paired with A: the same task there stays pending and explain says why.
  std::vector<std::string> run_on_c = run_on_b;
  run_on_c[2] = c_;
  run_on_c.insert(run_on_c.begin() + 1, "--detach");
  testing::VoxRun detached = Cli(0, run_on_c);
  ASSERT_EQ(detached.exit_code, 0) << detached.err;
  const std::string pending_id = detached.out.substr(0, detached.out.find('\n'));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto t = Api().GetTask(pending_id);
        return t.ok() && t->pending_reason.find("not paired") != std::string::npos;
      },
      20'000));
  EXPECT_EQ(Api().GetTask(pending_id)->state, mesh::TaskState::kPending);
  testing::VoxRun explained = Cli(0, {"explain", pending_id});
  EXPECT_NE(explained.out.find("not paired with the submitter"), std::string::npos)
      << explained.out << explained.err;
  (void)Api().Cancel(pending_id);

  // B rotates its key; A adopts it from B's signed record, and the next task opens on B.
  testing::VoxRun rotated = Cli(1, {"pair", "--rotate"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  const std::string b_new_key =
      boost::json::parse(Slurp(fs::path(Home(1)) / "populi" / "encryption-keys.json"))
          .at("x25519_public_b64")
          .as_string()
          .c_str();
  ASSERT_TRUE(WaitFor(
      [&] {
        return Slurp(fs::path(Home(0)) / "populi" / "pairings.json").find(b_new_key) !=
               std::string::npos;
      },
      30'000))
      << agent(0).Stderr();
  testing::VoxRun after_rotation = Cli(0, run_on_b);
  ASSERT_EQ(after_rotation.exit_code, 0) << after_rotation.err << agent(1).Stderr();
  EXPECT_NE(after_rotation.out.find(crypto::Sha256Hex(value)), std::string::npos);

  // A unpairs B: B drops A too, and a task for B needing the secret stays pending.
  testing::VoxRun unpaired = Cli(0, {"unpair", b_});
  ASSERT_EQ(unpaired.exit_code, 0) << unpaired.err;
  ASSERT_TRUE(WaitFor([&] { return !PairedWith(b_, a_) && !PairedWith(a_, b_); }, 30'000))
      << agent(1).Stderr();
  std::vector<std::string> detached_b = run_on_b;
  detached_b.insert(detached_b.begin() + 1, "--detach");
  testing::VoxRun again = Cli(0, detached_b);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const std::string stuck = again.out.substr(0, again.out.find('\n'));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto t = Api().GetTask(stuck);
        return t.ok() && t->pending_reason.find("not paired") != std::string::npos;
      },
      20'000));
  (void)Api().Cancel(stuck);
}

TEST_F(SecretsE2E, ARelayThatSubstitutesAKeyMakesThePairingFailOnBothSides) {
  VoxProcess offer;
  const std::string code = StartOffer(offer, 0, c_);
  ASSERT_FALSE(code.empty()) << offer.Stderr();
  // The relay swaps A's encryption key for its own, keeping A's proof (it has no code).
  auto stored = Api().GetPairing(c_, a_);
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  mesh::PairingOffer forged = stored->offer;
  forged.from.x25519_pub_key_b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  ASSERT_TRUE(Api().OfferPairing(forged).ok());
  testing::VoxRun answer = Cli(2, {"pair", a_, "--code", code});
  EXPECT_NE(answer.exit_code, 0);
  EXPECT_NE(answer.err.find("does not match"), std::string::npos) << answer.err;
  ASSERT_TRUE(WaitFor([&] { return offer.Exited(); }, 30'000));
  EXPECT_NE(offer.Stderr().find("rejected the code"), std::string::npos) << offer.Stderr();
  EXPECT_FALSE(fs::exists(fs::path(Home(2)) / "populi" / "pairings.json") &&
               Slurp(fs::path(Home(2)) / "populi" / "pairings.json").find(a_) != std::string::npos);
  EXPECT_FALSE(PairedWith(c_, a_));
}

}  // namespace
}  // namespace populi::e2e
