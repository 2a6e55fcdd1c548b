// `vox populi submit [flags] -- CMD ARGS…`: sends a TaskSpec to POST /v1/populi/tasks, then (unless
// --detach) follows the task's output and exits with its exit code.
//
// Every submit carries a client key (--key, else a random one) as the TaskSpec's client_key and
// the idempotency-key header, so the HTTP client may retry the POST and the control plane answers
// a retry with the task the first try created.
#include <sys/ioctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <ostream>
#include <thread>

#include "agent/identity.h"
#include "agent/secret_store.h"
#include "cli/verb.h"
#include "cli/verbs/task_client.h"
#include "client/control_plane_api.h"
#include "config/config.h"
#include "mesh/task.h"
#include "mesh/task_json.h"
#include "util/random.h"
#include "util/units.h"

namespace populi::cli {

namespace json = boost::json;

namespace {

struct SubmitFlags {
  int64_t gpus = -1;  // -1 = not given
  std::string vram;
  int64_t cpus = 0;
  std::string mem;
  std::vector<std::string> labels;
  std::vector<std::string> prefer;
  std::vector<std::string> nodes;
  std::vector<std::string> not_nodes;
  std::string timeout;
  int64_t max_attempts = 0;  // 0 = the control plane's default
  std::vector<std::string> env;
  std::vector<std::string> secrets;  // names set on this node (vox populi secret set)
  std::string key;
  bool detach = false;
  bool json = false;
  std::string control_url;
  std::vector<std::string> command;
};

// "k=v" pairs into `out`; a usage error names the flag.
Status ParsePairs(const std::vector<std::string>& items, const char* flag,
                  std::map<std::string, std::string>* out) {
  for (const std::string& item : items) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgument(std::string(flag) + " \"" + item + "\" is not KEY=VALUE",
                             std::string("write it as ") + flag + " gpu=h100");
    }
    (*out)[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return Status::Ok();
}

// The TaskSpec for the flags; kInvalidArgument (a usage error) for a bad flag value. What the
// flags leave out keeps the TaskSpec default, which is the control plane's.
Result<mesh::TaskSpec> BuildSpec(const SubmitFlags& flags, const std::string& client_key) {
  if (flags.command.empty()) {
    return InvalidArgument("missing the command to run after --",
                           "e.g. vox populi submit --gpus 1 -- python train.py");
  }
  mesh::TaskSpec spec;
  spec.client_key = client_key;
  spec.kind = "exec";
  spec.command = flags.command.front();
  spec.args.assign(flags.command.begin() + 1, flags.command.end());
  spec.resources.cpus = static_cast<uint32_t>(flags.cpus);
  if (!flags.mem.empty()) {
    auto parsed = ParseSize(flags.mem);
    if (!parsed.ok()) return parsed.status().WithContext("--mem");
    spec.resources.memory_bytes = *parsed;
  }
  if (!flags.vram.empty()) {
    auto parsed = ParseSize(flags.vram);
    if (!parsed.ok()) return parsed.status().WithContext("--vram");
    spec.resources.gpu_memory_bytes = *parsed;
  }
  // --vram is per GPU: without --gpus it asks for one.
  const uint64_t vram = spec.resources.gpu_memory_bytes;
  const int64_t gpus = flags.gpus >= 0 ? flags.gpus : (vram > 0 ? 1 : 0);
  if (gpus == 0 && vram > 0) {
    return InvalidArgument("--vram needs at least one GPU, but --gpus is 0",
                           "drop --gpus 0, or drop --vram");
  }
  spec.resources.gpus = static_cast<uint32_t>(gpus);

  POPULI_RETURN_IF_ERROR(ParsePairs(flags.labels, "--label", &spec.constraints.required_labels));
  POPULI_RETURN_IF_ERROR(ParsePairs(flags.prefer, "--prefer", &spec.constraints.preferred_labels));
  POPULI_RETURN_IF_ERROR(ParsePairs(flags.env, "--env", &spec.env));
  for (const auto& name : flags.secrets) {
    POPULI_RETURN_IF_ERROR(agent::ValidateSecretName(name).WithContext("--secret"));
    if (std::find(spec.secret_names.begin(), spec.secret_names.end(), name) ==
        spec.secret_names.end())
      spec.secret_names.push_back(name);
  }
  spec.constraints.node_allow = flags.nodes;
  spec.constraints.node_deny = flags.not_nodes;
  if (!flags.timeout.empty()) {
    auto timeout = ParseDurationMs(flags.timeout, BareUnit::kSeconds);
    if (!timeout.ok()) return timeout.status().WithContext("--timeout");
    spec.timeout_ms = *timeout;
  }
  if (flags.max_attempts > 0) spec.max_attempts = static_cast<int32_t>(flags.max_attempts);
  return spec;
}

// This node's id (mesh.node_id, else the stored identity's), so the control plane can tell local
// from remote dispatch; empty when it has neither.
std::string SubmitterNodeId(const config::Config& cfg) {
  const std::string configured = cfg.GetString("mesh.node_id");
  auto identity = agent::LoadIdentity(cfg.data_dir(), configured);
  if (identity.ok() && *identity) return (*identity)->node_id;
  return configured;
}

// The secrets a task names are sealed by this node's agent: each must be set here, and this node
// must have an identity (a task naming secrets is only placed on it or on a node paired with it).
Status CheckSecretsSetHere(const config::Config& cfg, const mesh::TaskSpec& spec) {
  if (spec.secret_names.empty()) return Status::Ok();
  if (spec.submitter_node_id.empty()) {
    return Status(Code::kFailedPrecondition, "this machine is not a node of the mesh",
                  "submit tasks that name secrets from a node that has joined (vox populi join)");
  }
  auto secrets = agent::ListSecrets(cfg.data_dir());
  if (!secrets.ok()) return secrets.status();
  for (const auto& name : spec.secret_names) {
    const bool set = std::any_of(secrets->begin(), secrets->end(),
                                 [&](const agent::SecretInfo& s) { return s.name == name; });
    if (!set) {
      return NotFound("secret " + name + " is not set on this node",
                      "set it first: vox populi secret set " + name);
    }
  }
  return Status::Ok();
}

// The one-line progress indicator on a terminal's stderr; never drawn on anything else.
class Progress {
 public:
  explicit Progress(const Context& ctx)
      : on_(ctx.err == &std::cerr && !ctx.global.json && isatty(STDERR_FILENO) == 1) {}
  bool on() const { return on_; }

  void Show(const mesh::Task& task) {
    if (!on_) return;
    std::string text = Printable(task.id) + " ";
    if (task.state == mesh::TaskState::kPlaced) {
      const std::string node = task.attempts.empty() ? "?" : task.attempts.back().node_id;
      text += "placed on " + Printable(node);
    } else {
      text += "pending: " + (task.pending_reason.empty() ? std::string("waiting for placement")
                                                         : Printable(task.pending_reason));
    }
    winsize size{};
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 1 &&
        text.size() >= size.ws_col) {
      text.resize(size.ws_col - 1);  // a wrapped line could not be redrawn with \r
    }
    if (drawn_ && text == shown_) return;
    std::cerr << "\r\033[K" << text << std::flush;
    shown_ = text;
    drawn_ = true;
  }
  void Clear() {
    if (!drawn_) return;
    std::cerr << "\r\033[K" << std::flush;
    drawn_ = false;
  }

 private:
  bool on_;
  bool drawn_ = false;
  std::string shown_;
};

bool Waiting(const mesh::Task& task) {
  return task.state == mesh::TaskState::kPending || task.state == mesh::TaskState::kPlaced;
}

// After a submit without --detach: the progress line while the task waits for a node, its output,
// then its exit code.
int FollowSubmitted(Context& ctx, client::ControlPlaneApi& api, const std::string& id) {
  Progress progress(ctx);
  if (progress.on()) {
    auto task = api.GetTask(id);
    while (task.ok() && Waiting(*task)) {
      progress.Show(*task);
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      task = api.GetTask(id);
    }
    progress.Clear();
  }
  if (Status s = FollowTaskLogs(ctx, api, id, 0, /*json_lines=*/false); !s.ok()) {
    return ctx.Fail(s);
  }
  // The stream said the task ended; the Task itself has the exit code and attempt errors.
  while (true) {
    auto task = api.Wait(id, 30'000);
    if (!task.ok()) return ctx.Fail(ControlPlaneStatus(task.status()));
    if (mesh::IsTerminal(task->state)) return ctx.exit_code = TaskExitCode(ctx, *task);
  }
}

int RunSubmit(Context& ctx, const SubmitFlags& flags) {
  // `--json` among the command's own arguments is not ours.
  ctx.global.json = flags.json;
  ctx.global.control_url = flags.control_url;
  const std::string client_key = flags.key.empty() ? "cli-" + RandomHex(16) : flags.key;

  auto spec = BuildSpec(flags, client_key);
  if (!spec.ok()) return ctx.FailUsage(spec.status().message(), spec.status().hint());
  config::Config cfg;
  auto api = TaskClient(ctx, &cfg);
  if (!api.ok()) return ctx.Fail(api.status());
  spec->submitter_node_id = SubmitterNodeId(cfg);
  if (Status s = CheckSecretsSetHere(cfg, *spec); !s.ok()) return ctx.Fail(s);

  // The spec's client key goes as the idempotency key too, so the client may retry the POST.
  auto submitted = api->Submit(*spec);
  if (!submitted.ok()) return ctx.Fail(ControlPlaneStatus(submitted.status()));
  const std::string id = submitted->task.id;
  if (flags.detach) {
    *ctx.out << (ctx.global.json ? json::serialize(mesh::ToJson(submitted->task)) : id) << "\n";
    return ctx.exit_code = kExitOk;
  }
  return FollowSubmitted(ctx, *api, id);
}

}  // namespace

void AddSubmitVerbs(CLI::App& /*root*/, CLI::App& populi, Context& ctx) {
  auto flags = std::make_shared<SubmitFlags>();
  auto* verb = populi.add_subcommand(
      "submit",
      "Run a command on a node with the capacity it needs; prints its output and exits with its "
      "exit code");
  verb->footer(
      "Exit code: the task's own; 1 when it failed without one (see the error), 130 when "
      "cancelled.\n"
      "Example: vox populi submit --gpus 1 --vram 12G --label gpu=h100 -- python train.py");
  verb->add_option("--gpus", flags->gpus, "GPUs needed (default 0; 1 when --vram is given)")
      ->check(CLI::Range(int64_t{0}, int64_t{1024}));
  verb->add_option("--vram", flags->vram, "Free memory needed on each GPU (12G, 512M)");
  verb->add_option("--cpus", flags->cpus, "CPU cores needed")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  verb->add_option("--mem", flags->mem, "Host memory needed (8G)");
  verb->add_option("--label", flags->labels, "Required node label KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  verb->add_option("--prefer", flags->prefer, "Preferred node label KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  verb->add_option("--secret", flags->secrets,
                   "Hand this node's secret NAME to the task as the environment variable NAME, "
                   "sealed to the running node's key (repeatable; docs/secrets.md)")
      ->allow_extra_args(false);
  verb->add_option("--node", flags->nodes, "Run only on this node (repeatable)")
      ->allow_extra_args(false);
  verb->add_option("--not-node", flags->not_nodes, "Never run on this node (repeatable)")
      ->allow_extra_args(false);
  verb->add_option("--timeout", flags->timeout, "Kill the task after this long (90s, 10m, 2h)");
  verb->add_option("--max-attempts", flags->max_attempts,
                   "Attempts before a lost task is failed (default: the control plane's, 3)")
      ->check(CLI::Range(int64_t{1}, int64_t{100}));
  verb->add_option("--env", flags->env, "Environment variable K=V for the task (repeatable)")
      ->allow_extra_args(false);
  verb->add_option("--key", flags->key,
                   "Client key: submitting the same key again returns the same task "
                   "(default: a random one)");
  verb->add_flag("--detach", flags->detach, "Print the task id and exit without waiting");
  verb->add_flag("--json", flags->json,
                 "With --detach, print the Task as JSON; errors as JSON objects");
  verb->add_option("--control-url", flags->control_url,
                   "Control plane URL (default: [mesh.control] url, else the local serve's URL)");
  // Repeatable flags take one value each, so `--` after one still starts the command.
  verb->add_option("command", flags->command, "The command and its arguments, after --");
  verb->callback([flags, &ctx] { RunSubmit(ctx, *flags); });
}

}  // namespace populi::cli
