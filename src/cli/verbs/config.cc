// `vox populi config show|check|docs` and `vox config check`.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <memory>
#include <ostream>
#include <sstream>

#include "cli/verb.h"
#include "config/config.h"

namespace populi::cli {
namespace {

constexpr std::string_view kMasked = "********";

std::string WhereText(const config::Origin& origin) {
  if (!origin.file.empty()) return origin.file + ":" + std::to_string(origin.line);
  if (origin.source == config::Source::kEnv) return origin.env_name;
  return "";
}

boost::json::value JsonValue(const config::Config& cfg, const config::KeySpec& spec) {
  if (spec.secret) {
    return cfg.IsSet(spec.key) ? boost::json::value(kMasked) : boost::json::value(nullptr);
  }
  switch (spec.type) {
    case config::Type::kBool:
      return cfg.GetBool(spec.key);
    case config::Type::kInt:
    case config::Type::kDurationSecs:
    case config::Type::kBytes:
      return cfg.GetInt(spec.key);
    case config::Type::kDouble:
      return cfg.GetDouble(spec.key);
    case config::Type::kString:
      return boost::json::value(cfg.GetString(spec.key));
    case config::Type::kStringList: {
      boost::json::array items;
      for (const std::string& item : cfg.GetList(spec.key)) items.emplace_back(item);
      return items;
    }
  }
  return nullptr;
}

int ShowConfig(Context& ctx) {
  auto cfg = LoadConfig(ctx);
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  if (ctx.global.json) {
    boost::json::array keys;
    for (const config::KeySpec& spec : config::Schema()) {
      const config::Origin& origin = cfg->OriginOf(spec.key);
      boost::json::object o;
      o["key"] = spec.key;
      o["value"] = JsonValue(*cfg, spec);
      o["source"] = config::SourceName(origin.source);
      if (!origin.file.empty()) {
        o["file"] = origin.file;
        o["line"] = origin.line;
        o["column"] = origin.column;
      }
      if (!origin.env_name.empty()) o["env"] = origin.env_name;
      o["secret"] = spec.secret;
      keys.push_back(std::move(o));
    }
    boost::json::object root;
    root["vox_home"] = cfg->vox_home();
    root["data_dir"] = cfg->data_dir();
    root["workspace_file"] = cfg->workspace_file();
    root["user_file"] = cfg->user_config_path();
    root["keys"] = std::move(keys);
    *ctx.out << boost::json::serialize(root) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const config::KeySpec& spec : config::Schema()) {
    const config::Origin& origin = cfg->OriginOf(spec.key);
    std::string value = cfg->Render(spec.key);
    if (spec.secret) value = cfg->IsSet(spec.key) ? std::string(kMasked) : "";
    rows.push_back({std::string(spec.key), value, std::string(config::SourceName(origin.source)),
                    WhereText(origin)});
  }
  std::string table = RenderTable({"KEY", "VALUE", "SOURCE", "WHERE"}, rows);
  if (ctx.UseColor()) {
    size_t eol = table.find('\n');
    table = Paint(ctx, Color::kBold, table.substr(0, eol)) + table.substr(eol);
  }
  *ctx.out << table;
  *ctx.out << "\nworkspace: "
           << (cfg->workspace_file().empty() ? "(no Vox.toml found)" : cfg->workspace_file())
           << "\nuser:      " << cfg->user_config_path() << "\ndata dir:  " << cfg->data_dir()
           << "\n";
  return kExitOk;
}

int CheckConfig(Context& ctx) {
  std::vector<config::Diagnostic> diagnostics;
  config::LoadOptions opts;
  auto cfg = config::Check(opts, &diagnostics);
  size_t errors = 0, warnings = 0;
  for (const config::Diagnostic& d : diagnostics) (d.error ? errors : warnings)++;
  if (ctx.global.json) {
    boost::json::array items;
    for (const config::Diagnostic& d : diagnostics) {
      boost::json::object o;
      o["severity"] = d.error ? "error" : "warning";
      o["message"] = d.message;
      o["hint"] = d.hint;
      if (!d.file.empty()) {
        o["file"] = d.file;
        o["line"] = d.line;
        o["column"] = d.column;
      }
      items.push_back(std::move(o));
    }
    boost::json::object root;
    root["ok"] = errors == 0;
    root["errors"] = errors;
    root["warnings"] = warnings;
    root["diagnostics"] = std::move(items);
    *ctx.out << boost::json::serialize(root) << "\n";
  } else {
    for (const config::Diagnostic& d : diagnostics) {
      std::string where = d.file.empty() ? "" : d.file;
      if (!where.empty() && d.line > 0) {
        where += ":" + std::to_string(d.line) + ":" + std::to_string(d.column);
      }
      std::string label =
          d.error ? Paint(ctx, Color::kRed, "error") : Paint(ctx, Color::kYellow, "warning");
      *ctx.out << (where.empty() ? "" : where + ": ") << label << ": " << d.message << "\n";
      if (!d.hint.empty()) *ctx.out << "  hint: " << d.hint << "\n";
    }
    if (errors == 0) {
      *ctx.out << Paint(ctx, Color::kGreen, "config ok") << " (" << warnings << " warning"
               << (warnings == 1 ? "" : "s") << ")\n";
    } else {
      *ctx.out << errors << " error" << (errors == 1 ? "" : "s") << ", " << warnings << " warning"
               << (warnings == 1 ? "" : "s") << "\n";
    }
  }
  ctx.exit_code = errors == 0 ? kExitOk : kExitFailure;
  return ctx.exit_code;
}

// Replaces the generated section of `path` (between the markers) with the current tables.
int WriteDocs(Context& ctx, const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return ctx.Fail(NotFound("cannot read " + path, "pass the path of docs/config.md"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  size_t begin = text.find(config::kDocsBeginMarker);
  size_t end = text.find(config::kDocsEndMarker);
  if (begin == std::string::npos || end == std::string::npos || end < begin) {
    return ctx.Fail(FailedPrecondition(path + " has no generated section",
                                       "add the lines " + std::string(config::kDocsBeginMarker) +
                                           " and " + std::string(config::kDocsEndMarker) +
                                           " where the tables belong"));
  }
  end += config::kDocsEndMarker.size();
  if (end < text.size() && text[end] == '\n') ++end;
  text = text.substr(0, begin) + config::RenderKeyDocs() + text.substr(end);
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) return ctx.Fail(Internal("cannot write " + path, "check the file permissions"));
  *ctx.out << "updated " << path << "\n";
  return kExitOk;
}

void AddCheckVerb(CLI::App& parent, Context& ctx, const char* example) {
  auto* check = parent.add_subcommand(
      "check", "Validate the layered [mesh] configuration; non-zero exit on any error");
  check->footer(example);
  check->add_flag("--json", ctx.global.json, "Machine-readable JSON output");
  check->callback([&ctx] { CheckConfig(ctx); });
}

}  // namespace

void AddConfigVerbs(CLI::App& root, CLI::App& populi, Context& ctx) {
  auto* config =
      populi.add_subcommand("config", "Show, check and document the layered [mesh] configuration");
  config->require_subcommand(1);
  config->footer("Example: vox populi config show --json");

  auto* show = config->add_subcommand(
      "show", "Every resolved key with its value, source and file:line (secrets masked)");
  show->footer("Example: vox populi config show");
  show->add_flag("--json", ctx.global.json, "Machine-readable JSON output");
  show->callback([&ctx] { ShowConfig(ctx); });

  AddCheckVerb(*config, ctx, "Example: vox populi config check --json");

  auto* docs = config->add_subcommand(
      "docs", "Print the key reference tables of docs/config.md, generated from the schema");
  docs->footer("Example: vox populi config docs --write docs/config.md");
  auto write_path = std::make_shared<std::string>();
  docs->add_option("--write", *write_path,
                   "Replace the generated section of this file instead of printing");
  docs->callback([&ctx, write_path] {
    if (!write_path->empty()) {
      WriteDocs(ctx, *write_path);
      return;
    }
    *ctx.out << config::RenderKeyDocs();
  });

  // `vox config check`: the same check at the top level.
  auto* top = root.add_subcommand("config", "Configuration commands (see vox populi config)");
  top->require_subcommand(1);
  top->footer("Example: vox config check");
  AddCheckVerb(*top, ctx, "Example: vox config check");
}

}  // namespace populi::cli
