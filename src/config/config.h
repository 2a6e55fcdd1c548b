// Layered `[mesh]` configuration with the origin of every value.
//
// Resolution, later wins: built-in defaults -> workspace `Vox.toml` `[mesh]` (found by walking up
// from the working directory) -> user `$VOX_HOME/config.toml` `[mesh]` -> environment -> flags.
// Every key, its type, default, environment name and doc line live in one table, Schema(); the
// docs (docs/config.md), validation and env lookup all come from it.
//
// Contracts:
//  - Secrets (tokens, HMAC secrets) are read only from the user config or the environment. A
//    secret in a workspace Vox.toml fails Load with a hint; the user config must be mode 0600.
//  - Wrong types and out-of-range values fail Load with `path:line:column` in the message.
//  - Unknown keys and deprecated environment names are warnings (Config::diagnostics()).
//  - Getters on a key that is not in Schema(), or with the wrong type, are programming errors
//    (they assert); ask for keys by their full dotted name, e.g. "mesh.control.heartbeat_secs".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "util/status.h"

namespace populi::config {

enum class Type {
  kBool,
  kInt,
  kDouble,
  kString,
  kStringList,    // TOML array of strings; env and flags: comma-separated
  kDurationSecs,  // whole seconds: integer, or util/units.h text ("90s", "1.5m", "7d")
  kBytes,         // bytes: integer, or util/units.h text ("512K", "1.5G", "8GiB")
};
std::string_view TypeName(Type type);

enum class Source { kDefault, kWorkspace, kUser, kEnv, kFlag };
// "default" | "workspace" | "user" | "env" | "flag".
std::string_view SourceName(Source source);

struct KeySpec {
  std::string_view key;            // full dotted path, "mesh.control.heartbeat_secs"
  std::string_view env;            // "VOX_MESH_CONTROL_HEARTBEAT_SECS"
  std::string_view doc;            // one line
  std::string_view default_value;  // as text; lists comma-separated; "" = empty
  Type type = Type::kString;
  bool secret = false;      // masked in output; never from a workspace Vox.toml
  int64_t min = INT64_MIN;  // inclusive range for kInt / kDurationSecs / kBytes
  int64_t max = INT64_MAX;
  std::string_view allowed;  // for kString / kStringList items: "full|buffered"; "" = any
};

// THE table, in documentation order.
const std::vector<KeySpec>& Schema();
// The spec for `key`, or nullptr when it is not a known key.
const KeySpec* FindKey(std::string_view key);

// A name from the earlier version that still works, with a deprecation warning.
struct LegacyEnv {
  std::string_view name;  // "VOX_MESH_CONTROL_ADDR"
  std::string_view key;   // "mesh.control.url"
  int64_t divide_by = 1;  // unit conversion for integer values (ms -> s: 1000)
};
const std::vector<LegacyEnv>& LegacyEnvNames();

struct Origin {
  Source source = Source::kDefault;
  std::string file;  // for kWorkspace / kUser
  int line = 0, column = 0;
  std::string env_name;  // for kEnv: the variable actually read (may be a legacy name)
};

struct LoadOptions {
  std::string cwd;       // empty: the process working directory
  std::string vox_home;  // empty: $VOX_HOME, else ~/.vox
  // Empty: the process environment. Otherwise exactly these variables (tests).
  std::map<std::string, std::string> env;
  bool use_process_env = true;               // false: only `env` above, even when it is empty
  std::map<std::string, std::string> flags;  // full key -> value text from command-line flags
};

struct Diagnostic {
  bool error = false;
  std::string message, hint;
  std::string file;  // empty when not tied to a file
  int line = 0, column = 0;
  // "path:line:column: message" (or just the message); one line.
  std::string ToString() const;
};

using Value = std::variant<bool, int64_t, double, std::string, std::vector<std::string>>;

class Config {
 public:
  Config();  // every key at its default; vox_home from the process environment

  std::string GetString(std::string_view key) const;
  int64_t GetInt(std::string_view key) const;
  bool GetBool(std::string_view key) const;
  double GetDouble(std::string_view key) const;
  std::vector<std::string> GetList(std::string_view key) const;
  int64_t GetDurationSecs(std::string_view key) const;
  int64_t GetBytes(std::string_view key) const;

  // The value as display text (lists comma-separated); secrets are NOT masked here.
  std::string Render(std::string_view key) const;
  // True when the secret/any key has a non-empty value.
  bool IsSet(std::string_view key) const;

  const Origin& OriginOf(std::string_view key) const;
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

  std::string vox_home() const { return vox_home_; }  // user mesh dir ($VOX_HOME or ~/.vox)
  // [mesh.store] path, else <vox_home>/populi: the store, control-url file and node key live here.
  std::string data_dir() const;
  std::string user_config_path() const { return vox_home_ + "/config.toml"; }
  std::string workspace_file() const { return workspace_file_; }  // "" when none was found

  // Used by Load; sets a value with its origin (type already checked).
  void Set(std::string_view key, Value value, Origin origin);

 private:
  friend class ConfigBuilder;  // load.cc
  const Value& Get(std::string_view key) const;

  std::map<std::string, Value, std::less<>> values_;
  std::map<std::string, Origin, std::less<>> origins_;
  std::vector<Diagnostic> diagnostics_;
  std::string vox_home_;
  std::string workspace_file_;
};

// Resolves every layer. Fails (InvalidArgument / PermissionDenied) on a type or range error, a
// secret in the workspace file, a user config not mode 0600, or unreadable TOML; the Status
// message carries `path:line:column` where known.
Result<Config> Load(const LoadOptions& opts = {});

// Like Load, but collects every problem instead of stopping at the first: errors and warnings
// both land in `diagnostics` (for `config check`). Returns the config when there were no errors.
Result<Config> Check(const LoadOptions& opts, std::vector<Diagnostic>* diagnostics);

// Parses `text` as `type` (env/flag syntax). Errors say what was expected.
Result<Value> ParseValue(const KeySpec& spec, std::string_view text);

// Markdown for docs/config.md, generated from Schema() and LegacyEnvNames(): one table per
// section (key, env, type, default, meaning) and the deprecated-name table. The file holds it
// between kDocsBeginMarker and kDocsEndMarker; `vox populi config docs` prints it.
std::string RenderKeyDocs();
inline constexpr std::string_view kDocsBeginMarker =
    "<!-- BEGIN GENERATED: vox populi config docs -->";
inline constexpr std::string_view kDocsEndMarker = "<!-- END GENERATED -->";

// The closest known key to `unknown` by edit distance, or "" when nothing is close.
std::string ClosestKey(std::string_view unknown);

}  // namespace populi::config
