// `vox populi secret set NAME` (value from standard input, or a prompt that does not echo),
// `secret list` (names, never values) and `secret rm NAME`: this node's secrets (docs/secrets.md).
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <iostream>
#include <memory>
#include <ostream>

#include "agent/secret_store.h"
#include "cli/verb.h"
#include "cli/verbs/mesh_view.h"
#include "crypto/secret.h"
#include "util/clock.h"

namespace populi::cli {
namespace json = boost::json;
namespace {

// The configuration, with --data-dir (when given) as the data directory.
Result<config::Config> LoadSecretConfig(Context& ctx, const std::string& data_dir) {
  if (data_dir.empty()) return LoadConfig(ctx);
  return LoadConfig(ctx, {{"mesh.store.path", data_dir}});
}

// The value: the whole of standard input when it is not a terminal (one trailing newline
// dropped), else one line typed at a prompt with echo off.
Result<std::string> ReadSecretValue(const std::string& name) {
  std::string value;
  if (isatty(STDIN_FILENO) != 1) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(STDIN_FILENO, buf, sizeof buf)) > 0)
      value.append(buf, static_cast<size_t>(n));
    crypto::Wipe(buf, sizeof buf);
    if (!value.empty() && value.back() == '\n') value.pop_back();
    if (!value.empty() && value.back() == '\r') value.pop_back();
    return value;
  }
  std::cerr << "value for " << name << " (not shown): " << std::flush;
  termios old{};
  const bool saved = tcgetattr(STDIN_FILENO, &old) == 0;
  if (saved) {
    termios quiet = old;
    quiet.c_lflag &= static_cast<tcflag_t>(~ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::getline(std::cin, value);
  if (saved) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  std::cerr << "\n";
  return value;
}

int RunSecretSet(Context& ctx, const std::string& name, const std::string& data_dir) {
  if (Status s = agent::ValidateSecretName(name); !s.ok())
    return ctx.FailUsage(s.message(), s.hint());
  auto cfg = LoadSecretConfig(ctx, data_dir);
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  auto value = ReadSecretValue(name);
  if (!value.ok()) return ctx.Fail(value.status());
  Status s = agent::SetSecret(cfg->data_dir(), name, *value, SystemClock::Instance().NowMs());
  crypto::Wipe(*value);
  if (!s.ok()) return ctx.Fail(s);
  if (ctx.global.json) {
    *ctx.out << json::serialize(json::object{{"set", name}}) << "\n";
  } else {
    *ctx.out << "secret " << name << " set on this node\n";
  }
  return ctx.exit_code = kExitOk;
}

int RunSecretList(Context& ctx, const std::string& data_dir) {
  auto cfg = LoadSecretConfig(ctx, data_dir);
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  auto secrets = agent::ListSecrets(cfg->data_dir());
  if (!secrets.ok()) return ctx.Fail(secrets.status());
  if (ctx.global.json) {
    json::array list;
    for (const auto& s : *secrets) {
      list.push_back(
          json::object{{"name", s.name}, {"bytes", s.bytes}, {"updated_ms", s.updated_ms}});
    }
    *ctx.out << json::serialize(json::object{{"secrets", std::move(list)}}) << "\n";
    return ctx.exit_code = kExitOk;
  }
  const int64_t now = SystemClock::Instance().NowMs();
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : *secrets)
    rows.push_back({s.name, std::to_string(s.bytes), RelativeTime(s.updated_ms, now)});
  *ctx.out << RenderTable({"NAME", "BYTES", "SET"}, rows);
  return ctx.exit_code = kExitOk;
}

int RunSecretRemove(Context& ctx, const std::string& name, const std::string& data_dir) {
  auto cfg = LoadSecretConfig(ctx, data_dir);
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  auto removed = agent::RemoveSecret(cfg->data_dir(), name);
  if (!removed.ok()) return ctx.Fail(removed.status());
  if (!*removed) {
    return ctx.Fail(NotFound("secret " + name + " is not set on this node",
                             "vox populi secret list shows the names"));
  }
  if (ctx.global.json) {
    *ctx.out << json::serialize(json::object{{"removed", name}}) << "\n";
  } else {
    *ctx.out << "secret " << name << " removed\n";
  }
  return ctx.exit_code = kExitOk;
}

}  // namespace

void AddSecretVerbs(CLI::App& /*root*/, CLI::App& populi, Context& ctx) {
  auto* secret = populi.add_subcommand(
      "secret", "This node's secrets: set, list, rm (values never leave it in plaintext)");
  secret->footer("Example: vox populi secret set HF_TOKEN < token.txt");
  secret->require_subcommand(1);
  secret->fallthrough();  // --data-dir may follow the subcommand
  auto data_dir = std::make_shared<std::string>();
  secret->add_option("--data-dir", *data_dir,
                     "Data directory holding this node's secrets (default [mesh.store] path)");

  auto set_name = std::make_shared<std::string>();
  auto* set = secret->add_subcommand(
      "set", "Store secret NAME on this node; the value comes from standard input or a prompt");
  set->footer("Example: vox populi secret set HF_TOKEN   (then type it; or pipe it in)");
  set->add_option("name", *set_name, "Environment variable name the task will see")->required();
  set->callback([set_name, data_dir, &ctx] { RunSecretSet(ctx, *set_name, *data_dir); });

  auto* list = secret->add_subcommand("list", "Names of this node's secrets, never their values");
  list->footer("Example: vox populi secret list --json");
  list->callback([data_dir, &ctx] { RunSecretList(ctx, *data_dir); });

  auto rm_name = std::make_shared<std::string>();
  auto* rm = secret->add_subcommand("rm", "Remove secret NAME from this node");
  rm->footer("Example: vox populi secret rm HF_TOKEN");
  rm->add_option("name", *rm_name, "The secret's name")->required();
  rm->callback([rm_name, data_dir, &ctx] { RunSecretRemove(ctx, *rm_name, *data_dir); });
}

}  // namespace populi::cli
