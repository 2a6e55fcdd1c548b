// vox: one binary for the control plane, the node agent and every client verb.
#include <CLI/CLI.hpp>
#include <cstring>
#include <exception>
#include <iostream>

#include "cli/unknown_command.h"
#include "cli/verb.h"

namespace {

constexpr const char* kPopuliDescription =
    "Populi joins your own machines into one compute mesh: each box runs `vox`, reports the "
    "hardware it really has, and takes work from one control plane.\n"
    "Any box can submit work; the scheduler places it on a node with real capacity, where it "
    "runs under a single-owner lease that survives a node dying.\n"
    "State lives in one durable store on the control plane; agents long-poll it, so workers "
    "need no open port.";

}  // namespace

int main(int argc, char** argv) {
  using namespace populi::cli;
  Context ctx;
  ctx.out = &std::cout;
  ctx.err = &std::cerr;

  CLI::App root{"vox: the Populi compute mesh"};
  root.require_subcommand(1);
  root.footer("Example: vox populi serve");
  auto* populi = root.add_subcommand("populi", kPopuliDescription);
  populi->require_subcommand(1);
  populi->footer("Example: vox populi init && vox populi serve");
  populi->add_flag("--no-color", ctx.global.no_color,
                   "Never use colour (NO_COLOR is honoured too)");

  size_t n = 0;
  const VerbGroup* groups = VerbGroups(&n);
  for (size_t i = 0; i < n; ++i) groups[i].add(root, *populi, ctx);

  // Errors raised while parsing are reported in the format the user asked for.
  // A `--json` after `--` belongs to a submitted command, not to vox.
  for (int i = 1; i < argc && std::strcmp(argv[i], "--") != 0; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) ctx.global.json = true;
  }

  if (auto unknown = FindUnknownCommand(root, argc, argv))
    return ctx.FailUsage(unknown->message, unknown->hint);
  try {
    root.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return root.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return root.exit(e);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return root.exit(e);
    return ctx.FailUsage(e.what(), "run with --help to see the usage");
  } catch (const std::exception& e) {
    // A verb let an exception escape: a bug, reported as an error rather than a crash.
    return ctx.Fail(populi::Internal(std::string("unexpected error: ") + e.what(),
                                     "please report this with the command you ran"));
  }
  return ctx.exit_code;
}
