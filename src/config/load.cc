// Layer resolution: defaults -> workspace Vox.toml -> user config.toml -> environment -> flags.
#include <sys/stat.h>

#include <toml++/toml.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "config/config.h"

namespace populi::config {

Status ValidateValue(const KeySpec& spec, const Value& value);     // value.cc
Result<int64_t> ParseUnitValue(Type type, std::string_view text);  // value.cc

namespace {

namespace fs = std::filesystem;

std::string NodeTypeName(const toml::node& node) {
  if (node.is_string()) return "a string";
  if (node.is_integer()) return "an integer";
  if (node.is_floating_point()) return "a float";
  if (node.is_boolean()) return "a boolean";
  if (node.is_array()) return "an array";
  if (node.is_table()) return "a table";
  return "a date/time";
}

std::string ExampleFor(const KeySpec& spec) {
  switch (spec.type) {
    case Type::kBool:
      return "true";
    case Type::kInt:
    case Type::kDouble:
      return std::string(spec.default_value);
    case Type::kStringList:
      return "[\"a\", \"b\"]";
    case Type::kDurationSecs:
      return "\"90s\" or \"7d\"";
    case Type::kBytes:
      return "\"512M\"";
    case Type::kString:
      break;
  }
  return "\"text\"";
}

// True when some schema key lives below `prefix` (so `prefix` is a table, not a key).
bool IsSection(std::string_view prefix) {
  for (const KeySpec& spec : Schema()) {
    if (spec.key.size() > prefix.size() && spec.key.substr(0, prefix.size()) == prefix &&
        spec.key[prefix.size()] == '.') {
      return true;
    }
  }
  return false;
}

}  // namespace

// Builds a Config layer by layer, collecting diagnostics.
class ConfigBuilder {
 public:
  ConfigBuilder(const LoadOptions& opts, std::vector<Diagnostic>* diags)
      : opts_(opts), diags_(diags) {}

  Config Run() {
    std::error_code ec;
    cwd_ = opts_.cwd.empty() ? fs::current_path(ec).string() : opts_.cwd;
    config_.vox_home_ = ResolveVoxHome();
    std::string workspace = FindWorkspaceFile();
    if (!workspace.empty()) {
      config_.workspace_file_ = workspace;
      ApplyFile(workspace, Source::kWorkspace);
    }
    std::string user = config_.user_config_path();
    if (fs::exists(user, ec) && UserConfigPermissionsOk(user)) ApplyFile(user, Source::kUser);
    ApplyEnv();
    ApplyFlags();
    CrossKeyLints();
    return std::move(config_);
  }

  void AttachDiagnostics(Config* config) const { config->diagnostics_ = *diags_; }

  // The Status for the first error, or ok.
  Status FirstError() const {
    for (const Diagnostic& d : *diags_) {
      if (d.error) return Status(first_error_code_, d.ToString(), d.hint);
    }
    return Status::Ok();
  }

 private:
  std::optional<std::string> Env(const std::string& name) const {
    if (!opts_.env.empty() || !opts_.use_process_env) {
      auto it = opts_.env.find(name);
      if (it == opts_.env.end() || it->second.empty()) return std::nullopt;
      return it->second;
    }
    const char* v = std::getenv(name.c_str());
    if (v == nullptr || v[0] == '\0') return std::nullopt;
    return std::string(v);
  }

  std::string ResolveVoxHome() const {
    if (!opts_.vox_home.empty()) return opts_.vox_home;
    if (auto home = Env("VOX_HOME")) return *home;
    auto user_home = Env("HOME");
    return (user_home ? *user_home : cwd_) + "/.vox";
  }

  std::string FindWorkspaceFile() const {
    std::error_code ec;
    fs::path dir = fs::absolute(cwd_, ec);
    while (true) {
      fs::path candidate = dir / "Vox.toml";
      if (fs::is_regular_file(candidate, ec)) return candidate.string();
      if (!dir.has_parent_path() || dir.parent_path() == dir) return {};
      dir = dir.parent_path();
    }
  }

  void Error(Code code, std::string message, std::string hint, const std::string& file = {},
             int line = 0, int column = 0) {
    if (!has_error_) first_error_code_ = code;
    has_error_ = true;
    diags_->push_back(Diagnostic{true, std::move(message), std::move(hint), file, line, column});
  }
  void Warn(std::string message, std::string hint, const std::string& file = {}, int line = 0,
            int column = 0) {
    diags_->push_back(Diagnostic{false, std::move(message), std::move(hint), file, line, column});
  }

  bool UserConfigPermissionsOk(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return false;
    if ((st.st_mode & 077) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
      Error(Code::kFailedPrecondition,
            "user config " + path + " has mode " + mode +
                "; it holds secrets, so only its owner may read it",
            "run: chmod 600 " + path);
      return false;
    }
    return true;
  }

  void ApplyFile(const std::string& path, Source source) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      Error(Code::kFailedPrecondition, "cannot read " + path,
            "check that the file exists and is readable");
      return;
    }
    std::stringstream text;
    text << in.rdbuf();
    std::string content = text.str();
    toml::table root;
    try {
      root = toml::parse(content, path);
    } catch (const toml::parse_error& e) {
      Error(Code::kInvalidArgument, std::string(e.description()),
            "fix the TOML syntax at this position", path, static_cast<int>(e.source().begin.line),
            static_cast<int>(e.source().begin.column));
      return;
    }
    toml::node* mesh = root.get("mesh");
    if (mesh == nullptr) {
      if (root.get("mens") != nullptr) {
        Warn("[mens] is the old name of the [mesh] table and is ignored", "rename it to [mesh]",
             path, static_cast<int>(root.get("mens")->source().begin.line),
             static_cast<int>(root.get("mens")->source().begin.column));
      }
      return;
    }
    if (!mesh->is_table()) {
      Error(Code::kInvalidArgument, "mesh must be a table, found " + NodeTypeName(*mesh),
            "write it as a [mesh] section", path, static_cast<int>(mesh->source().begin.line),
            static_cast<int>(mesh->source().begin.column));
      return;
    }
    WalkTable(*mesh->as_table(), "mesh", source, path);
  }

  void WalkTable(const toml::table& table, const std::string& prefix, Source source,
                 const std::string& path) {
    for (auto&& [name, node] : table) {
      std::string key = prefix + "." + std::string(name.str());
      int line = static_cast<int>(name.source().begin.line);
      int column = static_cast<int>(name.source().begin.column);
      if (line == 0) {
        line = static_cast<int>(node.source().begin.line);
        column = static_cast<int>(node.source().begin.column);
      }
      if (const KeySpec* spec = FindKey(key)) {
        ApplyNode(*spec, node, source, path);
      } else if (node.is_table() && IsSection(key)) {
        WalkTable(*node.as_table(), key, source, path);
      } else if (IsSection(key)) {
        Error(Code::kInvalidArgument, key + " must be a table, found " + NodeTypeName(node),
              "write it as a [" + key + "] section", path, line, column);
      } else {
        std::string closest = ClosestKey(key);
        Warn("unknown key " + key,
             closest.empty() ? "see docs/config.md for the known keys"
                             : "did you mean " + closest + "?",
             path, line, column);
      }
    }
  }

  void ApplyNode(const KeySpec& spec, const toml::node& node, Source source,
                 const std::string& path) {
    int line = static_cast<int>(node.source().begin.line);
    int column = static_cast<int>(node.source().begin.column);
    if (spec.secret && source == Source::kWorkspace) {
      Error(Code::kInvalidArgument,
            std::string(spec.key) + " is a secret and is never read from a workspace Vox.toml",
            "remove it; put it in " + config_.user_config_path() + " (mode 0600) or set " +
                std::string(spec.env),
            path, line, column);
      return;
    }
    std::optional<Value> value;
    std::string parse_error;
    switch (spec.type) {
      case Type::kBool:
        if (node.is_boolean()) value = node.as_boolean()->get();
        break;
      case Type::kInt:
        if (node.is_integer()) value = node.as_integer()->get();
        break;
      case Type::kDouble:
        if (node.is_floating_point()) value = node.as_floating_point()->get();
        if (node.is_integer()) value = static_cast<double>(node.as_integer()->get());
        break;
      case Type::kString:
        if (node.is_string()) value = node.as_string()->get();
        break;
      case Type::kStringList:
        if (node.is_array()) {
          std::vector<std::string> items;
          bool all_strings = true;
          for (const toml::node& item : *node.as_array()) {
            if (!item.is_string()) {
              all_strings = false;
              break;
            }
            items.push_back(item.as_string()->get());
          }
          if (all_strings) value = std::move(items);
        }
        break;
      case Type::kDurationSecs:
      case Type::kBytes:
        if (node.is_integer()) {
          value = node.as_integer()->get();
        } else if (node.is_string()) {
          auto parsed = ParseUnitValue(spec.type, node.as_string()->get());
          if (!parsed.ok()) {
            Error(Code::kInvalidArgument, std::string(spec.key) + ": " + parsed.status().message(),
                  parsed.status().hint(), path, line, column);
            return;
          }
          value = *parsed;
        }
        break;
    }
    if (!value) {
      Error(Code::kInvalidArgument,
            std::string(spec.key) + " must be " + std::string(TypeName(spec.type)) + ", found " +
                NodeTypeName(node),
            "write it like: " + std::string(spec.key.substr(spec.key.rfind('.') + 1)) + " = " +
                ExampleFor(spec),
            path, line, column);
      return;
    }
    Status valid = ValidateValue(spec, *value);
    if (!valid.ok()) {
      Error(Code::kInvalidArgument, valid.message(), valid.hint(), path, line, column);
      return;
    }
    config_.Set(spec.key, std::move(*value), Origin{source, path, line, column, {}});
  }

  void ApplyEnvValue(const KeySpec& spec, const std::string& name, const std::string& text,
                     int64_t divide_by) {
    KeySpec unbounded = spec;  // the range applies after the unit conversion
    if (divide_by > 1) {
      unbounded.min = INT64_MIN;
      unbounded.max = INT64_MAX;
    }
    Result<Value> value = ParseValue(unbounded, text);
    if (value.ok() && divide_by > 1) {
      // Legacy names in smaller units (ms): convert, rounding up so a short time never becomes 0.
      if (auto* n = std::get_if<int64_t>(&*value)) *n = (*n + divide_by - 1) / divide_by;
      Status valid = ValidateValue(spec, *value);
      if (!valid.ok()) value = valid;
    }
    if (!value.ok()) {
      Error(Code::kInvalidArgument, name + ": " + value.status().message(), value.status().hint());
      return;
    }
    config_.Set(spec.key, std::move(*value), Origin{Source::kEnv, {}, 0, 0, name});
  }

  void ApplyEnv() {
    for (const KeySpec& spec : Schema()) {
      std::string name(spec.env);
      std::optional<std::string> current = Env(name);
      for (const LegacyEnv& legacy : LegacyEnvNames()) {
        if (legacy.key != spec.key) continue;
        std::string legacy_name(legacy.name);
        std::optional<std::string> old_value = Env(legacy_name);
        if (!old_value) continue;
        if (current) {
          Warn(legacy_name + " is deprecated and ignored because " + name + " is set",
               "unset " + legacy_name);
          continue;
        }
        Warn(legacy_name + " is deprecated; use " + name + " (" + std::string(spec.key) + ")",
             "rename the variable; see the deprecation timeline in docs/config.md");
        ApplyEnvValue(spec, legacy_name, *old_value, legacy.divide_by);
        break;
      }
      if (current) ApplyEnvValue(spec, name, *current, 1);
    }
  }

  void ApplyFlags() {
    for (const auto& [key, text] : opts_.flags) {
      const KeySpec* spec = FindKey(key);
      if (spec == nullptr) {
        std::string closest = ClosestKey(key);
        Error(Code::kInvalidArgument, "unknown configuration key " + key,
              closest.empty() ? "see docs/config.md for the known keys"
                              : "did you mean " + closest + "?");
        continue;
      }
      Result<Value> value = ParseValue(*spec, text);
      if (!value.ok()) {
        Error(Code::kInvalidArgument, value.status().message(), value.status().hint());
        continue;
      }
      config_.Set(spec->key, std::move(*value), Origin{Source::kFlag, {}, 0, 0, {}});
    }
  }

  void ErrorAt(std::string_view key, std::string message, std::string hint) {
    const Origin& o = config_.OriginOf(key);
    Error(Code::kInvalidArgument, std::move(message), std::move(hint), o.file, o.line, o.column);
  }

  void CrossKeyLints() {
    int64_t suspect = config_.GetInt("mesh.control.suspect_after");
    int64_t down = config_.GetInt("mesh.control.down_after");
    if (down <= suspect) {
      ErrorAt("mesh.control.down_after",
              "mesh.control.down_after (" + std::to_string(down) +
                  ") must be greater than mesh.control.suspect_after (" + std::to_string(suspect) +
                  ")",
              "a node is suspect first and down later; raise down_after");
    }
    bool cert = config_.IsSet("mesh.tls.cert_path");
    bool key = config_.IsSet("mesh.tls.key_path");
    if (cert != key) {
      ErrorAt(cert ? "mesh.tls.cert_path" : "mesh.tls.key_path",
              "mesh.tls.cert_path and mesh.tls.key_path must be set together",
              "set both to PEM files, or neither for plain HTTP");
    }
    int64_t rate = config_.GetInt("mesh.control.http.rate_per_sec");
    int64_t burst = config_.GetInt("mesh.control.http.rate_burst");
    if (rate > 0 && burst < rate) {
      const Origin& o = config_.OriginOf("mesh.control.http.rate_burst");
      Warn("mesh.control.http.rate_burst (" + std::to_string(burst) + ") is below rate_per_sec (" +
               std::to_string(rate) + ")",
           "set rate_burst to at least rate_per_sec", o.file, o.line, o.column);
    }
    // A relative store path means relative to where it was written down.
    std::string store = config_.GetString("mesh.store.path");
    if (!store.empty() && fs::path(store).is_relative()) {
      const Origin& o = config_.OriginOf("mesh.store.path");
      fs::path base = o.file.empty() ? fs::path(cwd_) : fs::path(o.file).parent_path();
      Origin keep = o;
      config_.Set("mesh.store.path", (base / store).lexically_normal().string(), keep);
    }
  }

  const LoadOptions& opts_;
  std::vector<Diagnostic>* diags_;
  Config config_;
  std::string cwd_;
  bool has_error_ = false;
  Code first_error_code_ = Code::kInvalidArgument;
};

Result<Config> Check(const LoadOptions& opts, std::vector<Diagnostic>* diagnostics) {
  ConfigBuilder builder(opts, diagnostics);
  Config config = builder.Run();
  Status first = builder.FirstError();
  if (!first.ok()) return first;
  builder.AttachDiagnostics(&config);
  return config;
}

Result<Config> Load(const LoadOptions& opts) {
  std::vector<Diagnostic> diagnostics;
  return Check(opts, &diagnostics);
}

}  // namespace populi::config
