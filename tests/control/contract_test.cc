// The router, contracts/control-plane.openapi.yaml and docs/api.md's route × role matrix must
// describe the same routes.
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "fixture.h"

namespace populi::control::testing {
namespace {

std::string SourceFile(const std::string& rel) {
  const char* root = std::getenv("POPULI_SOURCE_DIR");
  std::ifstream in(std::string(root != nullptr ? root : POPULI_TEST_SOURCE_DIR) + "/" + rel);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::set<std::string> RouterRoutes(const http::Router& router) {
  std::set<std::string> out;
  for (const auto& r : router.routes())
    out.insert(Lower(http::ToString(r.method)) + " " + r.pattern);
  return out;
}

// "get /health", … from the `paths:` section (two-space path keys, four-space method keys).
std::set<std::string> OpenApiRoutes(const std::string& yaml) {
  std::set<std::string> out;
  std::istringstream in(yaml);
  std::string line, path;
  bool in_paths = false;
  const std::regex path_re("^  (/[^:]*):\\s*$");
  const std::regex method_re("^    (get|post|put|delete|patch):\\s*$");
  std::smatch m;
  while (std::getline(in, line)) {
    if (line.rfind("paths:", 0) == 0) {
      in_paths = true;
      continue;
    }
    if (in_paths && !line.empty() && line[0] != ' ' && line[0] != '#') in_paths = false;
    if (!in_paths) continue;
    if (std::regex_match(line, m, path_re))
      path = m[1];
    else if (std::regex_match(line, m, method_re) && !path.empty())
      out.insert(std::string(m[1]) + " " + path);
  }
  return out;
}

TEST_F(ApiFixture, OpenApiDescribesExactlyTheRouterRoutes) {
  const std::string yaml = SourceFile("contracts/control-plane.openapi.yaml");
  ASSERT_FALSE(yaml.empty()) << "contracts/control-plane.openapi.yaml is missing";
  EXPECT_EQ(OpenApiRoutes(yaml), RouterRoutes(router_));
}

// docs/api.md: "| `POST /v1/populi/join` | nodes.join | – | – | ✓ | ✓ | ✓ |" with the columns
// read_only, submitter, worker, mesh, admin; "open" in the first role column marks open routes.
TEST_F(ApiFixture, RoleMatrixInDocsMatchesTheRouter) {
  const std::string md = SourceFile("docs/api.md");
  ASSERT_FALSE(md.empty()) << "docs/api.md is missing";
  const std::regex row_re(
      "^\\| `(GET|POST|PUT|DELETE) ([^`]+)` \\| ([a-z_.0-9]+) "
      "\\|([^|]*)\\|([^|]*)\\|([^|]*)\\|([^|]*)\\|([^|]*)"
      "\\|\\s*$");
  std::map<std::string, std::string> documented;  // "post /x" → "-,-,w,m,a" style signature
  std::istringstream in(md);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (!std::regex_match(line, m, row_re)) continue;
    std::string sig;
    for (int i = 4; i <= 8; ++i)
      sig += std::string(m[i]).find("✓") != std::string::npos ? "y" : "n";
    if (std::string(m[4]).find("open") != std::string::npos) sig = "open";
    documented[Lower(std::string(m[1])) + " " + std::string(m[2])] = sig;
  }
  std::map<std::string, std::string> actual;
  const http::Role order[] = {http::Role::kReadOnly, http::Role::kSubmitter, http::Role::kWorker,
                              http::Role::kMesh, http::Role::kAdmin};
  for (const auto& r : router_.routes()) {
    std::string sig;
    for (http::Role role : order) {
      bool allowed = std::find(r.roles.begin(), r.roles.end(), role) != r.roles.end();
      sig += allowed ? "y" : "n";
    }
    if (r.roles.empty()) sig = "open";
    actual[Lower(http::ToString(r.method)) + " " + r.pattern] = sig;
  }
  EXPECT_EQ(documented, actual);
}

TEST_F(ApiFixture, EveryRouteHasANameAndABodyLimitForPosts) {
  std::set<std::string> names;
  for (const auto& r : router_.routes()) {
    EXPECT_FALSE(r.name.empty()) << r.pattern;
    EXPECT_TRUE(names.insert(r.name).second) << "duplicate name " << r.name;
    if (r.method == http::Method::kPost) {
      EXPECT_GT(r.max_body_bytes, 0u) << r.pattern;
    }
  }
}

}  // namespace
}  // namespace populi::control::testing
