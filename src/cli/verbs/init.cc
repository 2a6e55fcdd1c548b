// `vox populi init`: a starter [mesh] block in ./Vox.toml and an admin token in the user config.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/verb.h"
#include "config/config.h"
#include "util/random.h"

namespace populi::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kStarterBlock =
    R"toml(# Populi compute mesh. Every key: docs/config.md; resolved values: vox populi config show.
# Tokens never go here: they live in $VOX_HOME/config.toml (mode 0600) or the environment.
[mesh]
enabled = true
# labels = ["gpu=a100", "site=home"]

[mesh.control]
# Where the control plane listens; other boxes use its URL (url = "http://host:9847").
bind = "127.0.0.1:9847"
heartbeat_secs = 2

[mesh.store]
# Empty path: the data directory under $VOX_HOME.
durability = "full"
retention = "7d"

[mesh.policy]
# strict runs only allowed_commands; permissive runs any submitted command.
exec = "strict"
allowed_commands = ["python3", "bash"]
)toml";

struct InitOptions {
  bool force = false;
};

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return FailedPrecondition("cannot read " + path, "check the file permissions");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Writes `text` to `path` through a temporary file and rename, with `mode` from the start.
Status WriteFileAtomic(const std::string& path, const std::string& text, mode_t mode) {
  std::string tmp = path + ".tmp." + RandomHex(4);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return FailedPrecondition("cannot create " + tmp, "check the directory permissions");
  size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      return FailedPrecondition("cannot write " + tmp, "check the free disk space");
    }
    written += static_cast<size_t>(n);
  }
  ::fchmod(fd, mode);  // umask may have narrowed it further; never widen beyond `mode`
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return FailedPrecondition("cannot replace " + path, "check the directory permissions");
  }
  return Status::Ok();
}

// The workspace file: creates it, appends the block to a Vox.toml without [mesh], leaves an
// identical one alone, and replaces a different [mesh] only with --force (keeping a .bak copy).
Result<std::string> WriteWorkspace(const InitOptions& opts) {
  std::error_code ec;
  std::string path = (fs::current_path(ec) / "Vox.toml").string();
  if (!fs::exists(path, ec)) {
    POPULI_RETURN_IF_ERROR(WriteFileAtomic(path, std::string(kStarterBlock), 0644));
    return "created " + path;
  }
  POPULI_ASSIGN_OR_RETURN(std::string existing, ReadFile(path));
  if (existing.find(kStarterBlock) != std::string::npos) return path + " already has the block";
  bool has_mesh = false;
  try {
    toml::table parsed = toml::parse(existing, path);
    has_mesh = parsed.contains("mesh");
  } catch (const toml::parse_error& e) {
    if (!opts.force) {
      return InvalidArgument(path + " is not valid TOML: " + std::string(e.description()),
                             "fix it, or pass --force to replace it (a .bak copy is kept)");
    }
    has_mesh = true;
  }
  if (!has_mesh) {
    std::string text = existing;
    if (!text.empty() && text.back() != '\n') text += "\n";
    text += "\n" + std::string(kStarterBlock);
    POPULI_RETURN_IF_ERROR(WriteFileAtomic(path, text, 0644));
    return "added a [mesh] block to " + path;
  }
  if (!opts.force) {
    return Status(Code::kAlreadyExists, path + " already has a [mesh] block",
                  "keep it, or pass --force to replace the file (a .bak copy is kept)");
  }
  POPULI_RETURN_IF_ERROR(WriteFileAtomic(path + ".bak", existing, 0644));
  POPULI_RETURN_IF_ERROR(WriteFileAtomic(path, std::string(kStarterBlock), 0644));
  return "replaced " + path + " (previous version in " + path + ".bak)";
}

// Inserts `line` at the top of the `[header]` table in `text`, or appends the table.
std::string InsertKey(const std::string& text, const std::string& header, const std::string& line) {
  std::string marker = "[" + header + "]";
  size_t pos = 0;
  while ((pos = text.find(marker, pos)) != std::string::npos) {
    bool line_start = pos == 0 || text[pos - 1] == '\n';
    size_t eol = text.find('\n', pos);
    if (line_start) {
      if (eol == std::string::npos) return text + "\n" + line + "\n";
      return text.substr(0, eol + 1) + line + "\n" + text.substr(eol + 1);
    }
    pos += marker.size();
  }
  std::string out = text;
  if (!out.empty() && out.back() != '\n') out += "\n";
  if (!out.empty()) out += "\n";
  return out + marker + "\n" + line + "\n";
}

// The user config: adds mesh.auth.admin_token (and mesh.token, so this machine's CLI is admin)
// when absent; never replaces an existing token.
Result<std::string> WriteUserToken(const config::Config& cfg) {
  std::string path = cfg.user_config_path();
  std::error_code ec;
  bool created = fs::create_directories(cfg.vox_home(), ec);
  if (created) fs::permissions(cfg.vox_home(), fs::perms::owner_all, ec);  // holds secrets
  if (ec) {
    return FailedPrecondition("cannot create " + cfg.vox_home(), "check the directory permissions");
  }
  std::string text;
  bool has_admin = false, has_token = false;
  std::string existing_admin;
  if (fs::exists(path, ec)) {
    POPULI_ASSIGN_OR_RETURN(text, ReadFile(path));
    try {
      toml::table parsed = toml::parse(text, path);
      has_admin = parsed.at_path("mesh.auth.admin_token").is_string();
      if (has_admin) existing_admin = *parsed.at_path("mesh.auth.admin_token").value<std::string>();
      has_token = parsed.at_path("mesh.token").is_string();
    } catch (const toml::parse_error& e) {
      return InvalidArgument(path + " is not valid TOML: " + std::string(e.description()),
                             "fix it, then run vox populi init again");
    }
  }
  if (has_admin && has_token) return "admin token already present in " + path;
  std::string token = RandomHex(32);
  std::string updated = text.empty() ? "# Secrets for Populi; keep this file mode 0600.\n" : text;
  if (!has_token) {
    // The local CLI presents mesh.token: make this machine's CLI the admin.
    std::string value = has_admin ? existing_admin : token;
    updated = InsertKey(updated, "mesh", "token = \"" + value + "\"");
  }
  if (!has_admin) updated = InsertKey(updated, "mesh.auth", "admin_token = \"" + token + "\"");
  try {
    toml::table check = toml::parse(updated, path);
    if (!check.at_path("mesh.auth.admin_token").is_string()) throw std::runtime_error("missing");
  } catch (const std::exception&) {
    return FailedPrecondition("cannot add the admin token to " + path + " automatically",
                              "add [mesh.auth] admin_token = \"<random>\" by hand");
  }
  POPULI_RETURN_IF_ERROR(WriteFileAtomic(path, updated, 0600));
  if (has_admin) return "set mesh.token to the existing admin token in " + path;
  return "created an admin token in " + path + " (mode 0600)";
}

int RunInit(Context& ctx, const InitOptions& opts) {
  // The user config is checked (mode 0600) before anything is written.
  auto cfg = LoadConfig(ctx);
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  auto workspace = WriteWorkspace(opts);
  if (!workspace.ok()) return ctx.Fail(workspace.status());
  auto token = WriteUserToken(*cfg);
  if (!token.ok()) return ctx.Fail(token.status());
  if (ctx.global.json) {
    boost::json::object o;
    o["workspace"] = *workspace;
    o["token"] = *token;
    o["user_file"] = cfg->user_config_path();
    *ctx.out << boost::json::serialize(o) << "\n";
  } else {
    *ctx.out << *workspace << "\n" << *token << "\n";
    *ctx.out << "next: vox populi serve    (then: vox populi config show)\n";
  }
  return kExitOk;
}

}  // namespace

void AddInitVerbs(CLI::App& /*root*/, CLI::App& populi, Context& ctx) {
  auto opts = std::make_shared<InitOptions>();
  auto* init = populi.add_subcommand(
      "init", "Write a starter [mesh] block to ./Vox.toml and an admin token to the user config");
  init->footer("Example: vox populi init && vox populi serve");
  init->add_flag("--force", opts->force, "Replace an existing [mesh] block (keeps Vox.toml.bak)");
  init->add_flag("--json", ctx.global.json, "Machine-readable JSON output");
  init->callback([&ctx, opts] { RunInit(ctx, *opts); });
}

}  // namespace populi::cli
