#include "cli/unknown_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstring>
#include <vector>

namespace populi::cli {
namespace {

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Up to three subcommand names of `app` closest to `word` (a shared prefix counts as close).
std::string Closest(const CLI::App& app, const std::string& word) {
  std::vector<std::pair<size_t, std::string>> ranked;
  for (const CLI::App* sub : app.get_subcommands({})) {
    const std::string& name = sub->get_name();
    size_t d = EditDistance(word, name);
    if (!word.empty() && name.rfind(word.substr(0, 2), 0) == 0) d = std::min<size_t>(d, 2);
    ranked.emplace_back(d, name);
  }
  std::sort(ranked.begin(), ranked.end());
  std::string out;
  for (size_t i = 0; i < ranked.size() && i < 3; ++i) out += (i ? ", " : "") + ranked[i].second;
  return out;
}

}  // namespace

std::optional<UnknownCommand> FindUnknownCommand(const CLI::App& root, int argc, char** argv) {
  const CLI::App* app = &root;
  std::string path = root.get_name().empty() ? "vox" : root.get_name();
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "--") return std::nullopt;
    if (app->get_subcommands({}).empty()) return std::nullopt;  // a verb: the rest is its own
    if (!word.empty() && word[0] == '-') {
      const std::string name = word.substr(0, word.find('='));
      const CLI::Option* opt = app->get_option_no_throw(name);
      if (opt != nullptr && opt->get_items_expected_min() > 0 &&
          word.find('=') == std::string::npos)
        ++i;  // its value
      continue;
    }
    const CLI::App* sub = nullptr;
    for (const CLI::App* candidate : app->get_subcommands({}))
      if (candidate->check_name(word)) sub = candidate;
    if (sub == nullptr) {
      return UnknownCommand{
          "unknown command '" + word + "' for '" + path + "'",
          "run with --help to see every command; closest: " + Closest(*app, word)};
    }
    app = sub;
    path += " " + sub->get_name();
  }
  return std::nullopt;
}

}  // namespace populi::cli
