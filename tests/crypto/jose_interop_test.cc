// Interoperability of the JWE envelope (crypto/jwe.h) with an independent implementation, the
// npm package `jose` (tests/interop: jwe.mjs, jose pinned by package-lock.json), run as a child
// process: what C++ seals, jose opens to the same bytes, and what jose seals, C++ opens.
//
// Needs `node` on PATH and tests/interop/node_modules (scripts/setup runs `npm ci`). Without
// them the tests skip with the reason, unless POPULI_TEST_JOSE_REQUIRED is set (scripts/test
// sets it): then they fail.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "crypto/base64url.h"
#include "crypto/fingerprint.h"
#include "crypto/jwe.h"
#include "support/child_process.h"

namespace populi::crypto {
namespace {
namespace fs = std::filesystem;

std::string JoseStr(const boost::json::value& v) {
  return std::string(v.as_string());
}

const fs::path kInterop = fs::path(POPULI_SOURCE_DIR_AT_BUILD) / "tests" / "interop";

struct NodeRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string FindNode() {
  return populi::testing::support::ExecutableOnPath("node");
}

// Runs `node jwe.mjs args…` in tests/interop; stdout and stderr go to files in a scratch
// directory (no pipe deadlock) and are read back after exit.
NodeRun RunJweScript(const std::string& node, const std::vector<std::string>& args) {
  const fs::path scratch = fs::temp_directory_path() / ("jose_interop_" + std::to_string(getpid()));
  fs::create_directories(scratch);
  const fs::path out_path = scratch / "out";
  const fs::path err_path = scratch / "err";
  NodeRun run;
  // Built before fork(): the child allocates nothing before exec (another thread may hold the
  // allocator's lock at the fork).
  std::vector<std::string> argv_strings{node, "jwe.mjs"};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int devnull = open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || devnull < 0 || chdir(kInterop.c_str()) != 0) _exit(126);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    dup2(devnull, STDIN_FILENO);
    execv(node.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  if (pid > 0 && waitpid(pid, &status, 0) == pid)
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = Slurp(out_path);
  run.err = Slurp(err_path);
  fs::remove_all(scratch);
  return run;
}

std::string PublicJwk(const X25519KeyPair& k) {
  boost::json::object jwk{{"kty", "OKP"},
                          {"crv", "X25519"},
                          {"x", Base64Url(k.public_key.data(), k.public_key.size())}};
  return boost::json::serialize(jwk);
}

std::string PrivateJwk(const X25519KeyPair& k) {
  boost::json::object jwk = boost::json::parse(PublicJwk(k)).as_object();
  jwk["d"] = Base64Url(k.secret_key.data(), k.secret_key.size());
  return boost::json::serialize(jwk);
}

class JoseInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = FindNode();
    std::string why;
    if (node_.empty())
      why = "no `node` on PATH (scripts/setup installs nodejs)";
    else if (!fs::exists(kInterop / "node_modules" / "jose" / "package.json"))
      why = "no " + (kInterop / "node_modules" / "jose").string() +
            " (run scripts/setup, or `npm ci` in tests/interop)";
    if (!why.empty()) {
      if (std::getenv("POPULI_TEST_JOSE_REQUIRED") != nullptr) FAIL() << why;
      GTEST_SKIP() << why;
    }
    auto keys = GenerateX25519();
    ASSERT_TRUE(keys.ok());
    keys_ = *keys;
  }

  std::string node_;
  X25519KeyPair keys_;
};

TEST_F(JoseInterop, JoseOpensWhatCppSeals) {
  const char kBytes[] = "a secret with binary bytes \0\x01\xfe\xff and UTF-8: \xc3\xa9!";
  const std::string plaintext(kBytes, sizeof(kBytes) - 1);
  JweHeaderClaims claims;
  claims.extra["typ"] = "populi-secret";
  claims.extra["secret_name"] = "db-password";
  auto sealed = JweEncrypt(keys_.public_key, claims, plaintext);
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();

  const NodeRun raw = RunJweScript(node_, {"decrypt", PrivateJwk(keys_), *sealed});
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_EQ(raw.out, plaintext);

  const NodeRun run = RunJweScript(node_, {"decrypt-json", PrivateJwk(keys_), *sealed});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const boost::json::object result = boost::json::parse(run.out).as_object();
  EXPECT_EQ(*FromBase64Url(result.at("plaintext").as_string()), plaintext);
  const auto& header = result.at("protectedHeader").as_object();
  EXPECT_EQ(JoseStr(header.at("kid")), KeyFingerprint(keys_.public_key));
  EXPECT_EQ(JoseStr(header.at("secret_name")), "db-password");
  EXPECT_EQ(JoseStr(header.at("typ")), "populi-secret");
}

TEST_F(JoseInterop, JoseRefusesWhatCppSealedToAnotherKey) {
  auto other = GenerateX25519();
  ASSERT_TRUE(other.ok());
  auto sealed = JweEncrypt(other->public_key, {}, "for someone else");
  ASSERT_TRUE(sealed.ok());
  const NodeRun run = RunJweScript(node_, {"decrypt", PrivateJwk(keys_), *sealed});
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_EQ(run.out, "");
}

TEST_F(JoseInterop, CppOpensWhatJoseSeals) {
  const std::string plaintext = "sealed by jose: p\xc3\xa4ssw\xc3\xb6rd";
  const std::string kid = KeyFingerprint(keys_.public_key);
  const NodeRun run = RunJweScript(
      node_, {"encrypt", PublicJwk(keys_), kid, plaintext, R"({"purpose":"interop"})"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto opened = JweDecrypt(keys_, run.out);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->plaintext, plaintext);
  EXPECT_EQ(opened->claims.kid, kid);
  EXPECT_EQ(opened->claims.extra.at("purpose"), "interop");
  // And jose's envelope is refused by another key.
  auto other = GenerateX25519();
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(JweDecrypt(*other, run.out).status().code(), Code::kPermissionDenied);
}

TEST_F(JoseInterop, CppUsesApuAndApvFromJoseHeaders) {
  // PartyUInfo / PartyVInfo enter the Concat KDF: a wrong reading of them fails the tag.
  const std::string kid = KeyFingerprint(keys_.public_key);
  const NodeRun run = RunJweScript(node_, {"encrypt", PublicJwk(keys_), kid, "with apu and apv",
                                           R"({"apu":"QWxpY2U","apv":"Qm9i"})"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto opened = JweDecrypt(keys_, run.out);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->plaintext, "with apu and apv");
  EXPECT_TRUE(opened->claims.extra.empty());
}

}  // namespace
}  // namespace populi::crypto
