// docs/quickstart.md runs as written: the commands between the quickstart markers become one
// bash script (only `vox=` and the port are replaced), run in a fresh directory.
#include <regex>

#include "e2e/mesh_fixture.h"

namespace populi::e2e {
namespace {

std::string QuickstartScript(const std::string& doc) {
  const size_t begin = doc.find("<!-- quickstart:begin -->");
  const size_t end = doc.find("<!-- quickstart:end -->");
  if (begin == std::string::npos || end == std::string::npos) return "";
  std::string script;
  bool in_block = false;
  std::istringstream in(doc.substr(begin, end - begin));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("```", 0) == 0) {
      in_block = !in_block;
      continue;
    }
    if (in_block) script += line + "\n";
  }
  return script;
}

TEST_F(MeshFixture, QuickstartRunsAsWritten) {
  std::string script =
      QuickstartScript(Slurp(fs::path(POPULI_SOURCE_DIR_AT_BUILD) / "docs/quickstart.md"));
  ASSERT_NE(script, "") << "quickstart markers missing";
  const std::string vox = std::getenv("VOX_BIN");
  script = std::regex_replace(script, std::regex("^vox=.*$", std::regex::multiline), "vox=" + vox);
  script = std::regex_replace(script, std::regex("7070"), std::to_string(FreePort()));
  const fs::path dir = root_ / "qs";
  fs::create_directories(dir);
  // Background jobs die with the script; a hung step fails instead of hanging the suite.
  std::ofstream(dir / "quickstart.sh")
      << "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
      << script;
  const std::string cmd =
      "cd " + dir.string() + " && timeout 120 bash quickstart.sh > out.txt 2> err.txt";
  const int rc = std::system(cmd.c_str());
  const std::string out = Slurp(dir / "out.txt"), err = Slurp(dir / "err.txt");
  EXPECT_EQ(rc, 0) << out << err << Slurp(dir / "serve.log") << Slurp(dir / "join.log");
  EXPECT_NE(out.find("hello from t-"), std::string::npos) << out;
  EXPECT_NE(out.find("on box-b"), std::string::npos) << out;
  EXPECT_NE(out.find("box-a"), std::string::npos) << out;
  EXPECT_NE(out.find("succeeded"), std::string::npos) << out;
}

}  // namespace
}  // namespace populi::e2e
