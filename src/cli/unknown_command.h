// Names an unknown command before CLI11 parses: CLI11 would answer "A subcommand is required"
// for `vox populi pair`, and print the parent's help (exit 0) for `vox populi pair --help`.
#pragma once

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace populi::cli {

struct UnknownCommand {
  std::string message;  // "unknown command 'pair' for 'vox populi'"
  std::string hint;     // "run with --help to see every command; closest: peers, probe"
};

// Walks argv down the command tree (stopping at `--` and at the first command without
// subcommands, skipping options and the values of options that take one) and returns the first
// word that should name a subcommand and names none.
std::optional<UnknownCommand> FindUnknownCommand(const CLI::App& root, int argc, char** argv);

}  // namespace populi::cli
