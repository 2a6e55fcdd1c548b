// How CLI verbs plug in. Each verb group lives in its own file under cli/verbs/ and is listed once
// in cli/verbs/registry.cc; main.cc stays small.
//
// Exit codes (docs/cli.md): 0 ok, 1 failure, 2 usage error, 3 control plane unreachable,
// 4 unauthorized.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
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
  std::set<std::string> warned;  // warnings already printed (each prints once per process)

  // Prints `error: <message>` and `hint: <hint>` (or the JSON error object with --json) to err
  // and sets exit_code from the status. Returns exit_code.
  int Fail(const Status& status);
  // Fail for a usage error raised by the verb itself (bad flag combination): exit code 2.
  int FailUsage(std::string message, std::string hint);
  // Prints `warning: <message>` (and `hint:`) to err, once per distinct message.
  void Warn(const std::string& message, const std::string& hint = {});
  // True when colour may be used on `out` (a TTY, NO_COLOR unset, --no-color absent, no --json).
  bool UseColor() const;
};

// Loads the configuration for this invocation: the working directory, $VOX_HOME, the process
// environment and `flags` (full key -> value text, from verb flags). Warnings (unknown keys,
// deprecated env names) print once via ctx.Warn. On error returns it without printing; callers
// usually `return ctx.Fail(status)`.
Result<config::Config> LoadConfig(Context& ctx,
                                  const std::map<std::string, std::string>& flags = {});

// The control plane URL a client verb talks to: --control-url, else [mesh.control] url, else the
// URL a local `vox populi serve` wrote to <data dir>/control-url. kUnavailable (exit 3) with a
// hint when there is none.
Result<std::string> ResolveControlUrl(const Context& ctx, const config::Config& cfg);

// The file a local serve writes its URL to: <data dir>/control-url.
std::string ControlUrlFile(const config::Config& cfg);

// ---- Output helpers for verbs ----

// "just now", "12s ago", "3m ago", "5h ago", "2d ago"; future times read "in 12s".
std::string RelativeTime(int64_t then_unix_ms, int64_t now_unix_ms);

// Columns a UTF-8 string takes on screen (continuation bytes take none: "×", non-ASCII names).
size_t DisplayWidth(std::string_view text);

// Left-aligned columns separated by two spaces, measured in screen columns, header first; no
// trailing spaces. Rows shorter than the header are padded with empty cells.
std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

enum class Color { kRed, kGreen, kYellow, kBold, kDim };
// `text` wrapped in the ANSI colour when ctx.UseColor(), else unchanged.
std::string Paint(const Context& ctx, Color color, std::string_view text);

// RenderTable's layout with the header bold and column `color_column` of row r painted
// colors[r], painted after measuring so escape codes never skew the alignment.
std::string RenderColoredTable(const Context& ctx, const std::vector<std::string>& header,
                               const std::vector<std::vector<std::string>>& rows,
                               size_t color_column, const std::vector<Color>& colors);

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

// Writes `text` to ctx.out. When ctx.out is the process stdout, stdout is a terminal,
// --no-pager was not given and the text is taller than the terminal, it goes through $PAGER
// instead (default `less -FRX` when less is on PATH; an empty PAGER or `cat` means none).
// Never pages piped output.
void WritePaged(Context& ctx, const std::string& text);

}  // namespace populi::cli
