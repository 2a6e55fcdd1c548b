// Module boundaries, checked from the tree itself:
//  * every `#include "<module>/…"` in src/ names the including module or one it depends on
//    (directly or through others) in CMake (`populi_module(NAME … DEPS populi::X …)`);
//  * a module's sub-folder that is not a module itself (store/sqlite/, control/api/) is internal:
//    no other module includes from it;
//  * the graph in docs/architecture.md is exactly CMake's direct module dependencies;
//  * every configuration key is read somewhere outside config/ (a documented key that nothing
//    reads is a broken promise).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"

namespace {
namespace fs = std::filesystem;
using Graph = std::map<std::string, std::set<std::string>>;

const fs::path kRoot = POPULI_SOURCE_DIR_AT_BUILD;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Module name → folder under src/ (relative), from every populi_module() call; and its edges.
struct CMakeModules {
  std::map<std::string, std::string> folder;  // "http" → "control/http"
  Graph deps;
};

CMakeModules ReadCMakeModules() {
  CMakeModules out;
  const std::regex call(R"(populi_module\(\s*(\w+)([^)]*)\))");
  const std::regex dep(R"(populi::(\w+))");
  const std::regex source_dir(R"((\w+)/[\w.]+\.cc)");
  for (const auto& entry : fs::recursive_directory_iterator(kRoot / "src")) {
    if (entry.path().filename() != "CMakeLists.txt") continue;
    const std::string text = ReadFile(entry.path());
    const std::string dir = fs::relative(entry.path().parent_path(), kRoot / "src").string();
    for (std::sregex_iterator it(text.begin(), text.end(), call), end; it != end; ++it) {
      const std::string name = (*it)[1];
      const std::string body = (*it)[2];
      // A module whose sources all sit in one sub-folder (control's `http/…`) lives there.
      std::smatch first;
      std::string folder = dir;
      if (std::regex_search(body, first, source_dir) &&
          fs::is_directory(kRoot / "src" / dir / first[1].str()) && first[1].str() == name)
        folder = dir + "/" + name;
      out.folder[name] = folder;
      auto& edges = out.deps[name];
      for (std::sregex_iterator d(body.begin(), body.end(), dep), dend; d != dend; ++d)
        edges.insert((*d)[1]);
    }
  }
  return out;
}

std::set<std::string> Reachable(const Graph& g, const std::string& from) {
  std::set<std::string> seen{from};
  std::vector<std::string> todo{from};
  while (!todo.empty()) {
    const std::string m = todo.back();
    todo.pop_back();
    auto it = g.find(m);
    if (it == g.end()) continue;
    for (const auto& n : it->second)
      if (seen.insert(n).second) todo.push_back(n);
  }
  return seen;
}

// The module owning a path under src/ ("store/sqlite/db.h" → store): the longest folder match.
std::string OwnerOf(const CMakeModules& m, const std::string& rel) {
  std::string best;
  size_t best_len = 0;
  for (const auto& [name, folder] : m.folder) {
    if (rel.rfind(folder + "/", 0) == 0 && folder.size() > best_len) {
      best = name;
      best_len = folder.size();
    }
  }
  return best;
}

TEST(Architecture, CMakeDeclaresEveryModuleUnderSrc) {
  const CMakeModules m = ReadCMakeModules();
  for (const char* name :
       {"util", "mesh", "config", "store", "dispatch", "scheduler", "http", "control", "client",
        "agent", "runners", "probe", "crypto", "cli", "models", "ui"})
    EXPECT_EQ(m.folder.count(name), 1u) << name;
  EXPECT_EQ(m.folder.at("http"), "control/http");
  EXPECT_EQ(m.folder.at("runners"), "agent/runners");
}

TEST(Architecture, IncludesFollowCMakeDependenciesAndSkipInternals) {
  const CMakeModules m = ReadCMakeModules();
  const std::regex include(R"re(#include "([a-z_]+/[^"]+)")re");
  std::vector<std::string> violations;
  for (const auto& entry : fs::recursive_directory_iterator(kRoot / "src")) {
    const auto ext = entry.path().extension();
    if (ext != ".cc" && ext != ".h") continue;
    const std::string rel = fs::relative(entry.path(), kRoot / "src").string();
    const std::string owner = OwnerOf(m, rel);
    if (owner.empty()) continue;
    const std::set<std::string> allowed = Reachable(m.deps, owner);
    const std::string text = ReadFile(entry.path());
    for (std::sregex_iterator it(text.begin(), text.end(), include), end; it != end; ++it) {
      const std::string target = (*it)[1];
      const std::string target_owner = OwnerOf(m, target);
      if (target_owner.empty()) continue;  // not one of ours
      if (!allowed.count(target_owner)) {
        violations.push_back(rel + " includes " + target + " but " + owner +
                             " does not depend on " + target_owner + " in CMake");
        continue;
      }
      // Headers in a sub-folder that is not a module are the owner's internals.
      const std::string folder = m.folder.at(target_owner);
      const std::string inside = target.substr(folder.size() + 1);
      if (target_owner != owner && inside.find('/') != std::string::npos)
        violations.push_back(rel + " includes " + target + ", an internal header of " +
                             target_owner);
    }
  }
  EXPECT_TRUE(violations.empty()) << [&] {
    std::string all;
    for (const auto& v : violations) all += v + "\n";
    return all;
  }();
}

TEST(Architecture, DocumentedGraphIsTheCMakeGraph) {
  const CMakeModules m = ReadCMakeModules();
  std::set<std::pair<std::string, std::string>> cmake_edges;
  for (const auto& [from, tos] : m.deps)
    for (const auto& to : tos) cmake_edges.insert({from, to});

  const std::string doc = ReadFile(kRoot / "docs" / "architecture.md");
  const auto start = doc.find("```mermaid");
  ASSERT_NE(start, std::string::npos) << "docs/architecture.md has no mermaid module graph";
  const auto stop = doc.find("```", start + 10);
  const std::string graph = doc.substr(start, stop - start);
  const std::regex edge(R"((\w+) --> (\w+))");
  std::set<std::pair<std::string, std::string>> doc_edges;
  for (std::sregex_iterator it(graph.begin(), graph.end(), edge), end; it != end; ++it)
    doc_edges.insert({(*it)[1], (*it)[2]});

  for (const auto& e : cmake_edges)
    EXPECT_TRUE(doc_edges.count(e))
        << "docs/architecture.md lacks " << e.first << " --> " << e.second;
  for (const auto& e : doc_edges)
    EXPECT_TRUE(cmake_edges.count(e)) << "docs/architecture.md draws " << e.first << " --> "
                                      << e.second << ", which CMake does not declare";
}

TEST(Architecture, EveryConfigKeyIsReadOutsideTheConfigModule) {
  std::string sources;
  for (const auto& entry : fs::recursive_directory_iterator(kRoot / "src")) {
    const auto ext = entry.path().extension();
    if ((ext != ".cc" && ext != ".h") ||
        fs::relative(entry.path(), kRoot / "src").string().rfind("config/", 0) == 0)
      continue;
    sources += ReadFile(entry.path());
  }
  for (const populi::config::KeySpec& spec : populi::config::Schema()) {
    const std::string literal = "\"" + std::string(spec.key) + "\"";
    EXPECT_NE(sources.find(literal), std::string::npos)
        << spec.key
        << " is in the schema (and docs/config.md) but no code outside config/ reads it";
  }
}

}  // namespace
