// CLI conventions across verbs: exit codes, error format, colour, help text.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

#include "cli/cli_fixture.h"

namespace populi::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

using ConventionsTest = CliTest;

TEST_F(ConventionsTest, UsageErrorsExitTwoWithErrorAndHint) {
  VoxRun unknown = Vox({"populi", "config", "frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, StartsWith("error: "));
  EXPECT_THAT(unknown.err, HasSubstr("\nhint: run with --help"));

  VoxRun missing = Vox({"populi"});
  EXPECT_EQ(missing.exit_code, 2);
  VoxRun bad_flag = Vox({"populi", "config", "show", "--no-such-flag"});
  EXPECT_EQ(bad_flag.exit_code, 2);
}

TEST_F(ConventionsTest, UnknownCommandIsNamedWithTheClosestOnesEvenWithHelp) {
  VoxRun pair = Vox({"populi", "pairs"});
  EXPECT_EQ(pair.exit_code, 2);
  EXPECT_THAT(pair.err, HasSubstr("unknown command 'pairs' for 'vox populi'"));
  EXPECT_THAT(pair.err, HasSubstr("closest: "));
  EXPECT_THAT(pair.err, HasSubstr("peers"));
  VoxRun help = Vox({"populi", "nonexist", "--help"});
  EXPECT_EQ(help.exit_code, 2);
  EXPECT_THAT(help.err, HasSubstr("unknown command 'nonexist'"));
  // Options before a command, with their values, are skipped; a verb's own words are its own.
  EXPECT_EQ(Vox({"populi", "--no-color", "config", "show"}).exit_code,
            Vox({"populi", "config", "show"}).exit_code);
  VoxRun nested = Vox({"populi", "config", "sho"});
  EXPECT_THAT(nested.err, HasSubstr("for 'vox populi config'"));
  EXPECT_THAT(nested.err, HasSubstr("show"));
}

TEST_F(ConventionsTest, JsonErrorsAreOneObject) {
  WriteFile(User(), "[mesh]\n", 0644);
  VoxRun run = Vox({"populi", "config", "show", "--json"});
  EXPECT_EQ(run.exit_code, 1);
  boost::json::value doc = boost::json::parse(run.err);
  EXPECT_EQ(doc.at("error").at("code").as_string(), "failed_precondition");
  EXPECT_THAT(std::string(doc.at("error").at("message").as_string()), HasSubstr("mode 0644"));
  EXPECT_EQ(doc.at("error").at("hint").as_string(), "run: chmod 600 " + User());

  VoxRun usage = Vox({"populi", "config", "show", "--json", "--bogus"});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_EQ(boost::json::parse(usage.err).at("error").at("code").as_string(), "invalid_argument");
}

TEST_F(ConventionsTest, ColourOnlyOnATerminalAndNeverWithNoColor) {
  VoxRun terminal = RunVoxOnTerminal(env_, {"populi", "config", "check"}, dir_.Sub("scratch"));
  ASSERT_EQ(terminal.exit_code, 0) << terminal.err;
  EXPECT_THAT(terminal.out, HasSubstr("\033[32mconfig ok\033[0m"));

  VoxRun file = Vox({"populi", "config", "check"});
  EXPECT_THAT(file.out, Not(HasSubstr("\033[")));

  env_.vars["NO_COLOR"] = "1";
  VoxRun no_color = RunVoxOnTerminal(env_, {"populi", "config", "check"}, dir_.Sub("scratch"));
  ASSERT_EQ(no_color.exit_code, 0);
  EXPECT_THAT(no_color.out, HasSubstr("config ok"));
  EXPECT_THAT(no_color.out, Not(HasSubstr("\033[")));

  env_.vars.erase("NO_COLOR");
  VoxRun flag =
      RunVoxOnTerminal(env_, {"populi", "--no-color", "config", "check"}, dir_.Sub("scratch"));
  EXPECT_THAT(flag.out, Not(HasSubstr("\033[")));
}

// The subcommand names listed in a CLI11 help text.
std::vector<std::string> Subcommands(const std::string& help) {
  std::vector<std::string> names;
  size_t at = help.find("Subcommands:\n");
  if (at == std::string::npos) return names;
  std::istringstream lines(help.substr(at + 13));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] != ' ') break;
    if (line.size() < 3 || line[2] == ' ') continue;  // a wrapped description line
    std::istringstream words(line);
    std::string name;
    words >> name;
    names.push_back(name);
  }
  return names;
}

TEST_F(ConventionsTest, PopuliHelpOpensWithTheMeshModelAndEveryVerbHasAnExample) {
  VoxRun help = Vox({"populi", "--help"});
  ASSERT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, StartsWith("Populi joins your own machines into one compute mesh"));

  std::vector<std::vector<std::string>> pending = {{}};  // from the root down
  int checked = 0;
  while (!pending.empty()) {
    std::vector<std::string> path = pending.back();
    pending.pop_back();
    ASSERT_LT(checked, 100) << "runaway help traversal";
    std::vector<std::string> args = path;
    args.push_back("--help");
    VoxRun run = Vox(args);
    std::string where = ::testing::PrintToString(path);
    EXPECT_EQ(run.exit_code, 0) << where;
    bool has_example = run.out.find("Example: vox ") != std::string::npos ||
                       run.out.find("Examples:\n  vox ") != std::string::npos;
    EXPECT_TRUE(has_example) << where << " has no example line in its help";
    ++checked;
    for (const std::string& sub : Subcommands(run.out)) {
      std::vector<std::string> child = path;
      child.push_back(sub);
      pending.push_back(child);
    }
  }
  EXPECT_GE(checked, 6);  // populi, config, init, populi config + show/check/docs, ...
}

}  // namespace
}  // namespace populi::testing
