// How CLI verbs plug in. Each verb group lives in its own file under cli/verbs/ and is listed once
// in cli/verbs/registry.cc; main.cc stays small.
//
// Exit codes (docs/cli.md): 0 ok, 1 failure, 2 usage error, 3 control plane unreachable,
// 4 unauthorized.
#pragma once

#include <iosfwd>
#include <string>

#include "util/status.h"

namespace CLI {
class App;
}

namespace populi::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,
  kExitUsage = 2,
  kExitUnreachable = 3,
  kExitUnauthorized = 4,
};

// Maps a Status to the documented exit code (kUnavailable → 3, kUnauthenticated and
// kPermissionDenied → 4, kInvalidArgument → 2 only for usage errors raised by the CLI itself).
int ExitCodeFor(const Status& status);

// Options every verb understands (set on the root and `populi` apps).
struct GlobalOptions {
  bool json = false;      // machine-readable output
  bool no_color = false;  // also implied by NO_COLOR or a non-TTY stdout
  bool no_pager = false;
  std::string control_url;  // empty = from config / <data dir>/control-url
};

// Shared state a verb's callback reads and writes.
struct Context {
  GlobalOptions global;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  int exit_code = kExitOk;

  // Prints `error: <message>` and `hint: <hint>` (or the JSON error object with --json) to err
  // and sets exit_code from the status. Returns exit_code.
  int Fail(const Status& status);
  // True when colour may be used on `out` (a TTY, NO_COLOR unset, --no-color absent).
  bool UseColor() const;
};

// A verb group: adds its subcommands. `root` is the `vox` app, `populi` the `vox populi` app.
// Callbacks capture `ctx` by reference; it outlives parsing and running.
using AddVerbsFn = void (*)(CLI::App& root, CLI::App& populi, Context& ctx);

struct VerbGroup {
  const char* name;
  AddVerbsFn add;
};

// All groups, in help order (cli/verbs/registry.cc).
const VerbGroup* VerbGroups(size_t* count);

// Adds --json and --control-url to a client verb (every verb that talks to a control plane).
void AddClientOptions(CLI::App& verb, Context& ctx);

}  // namespace populi::cli
