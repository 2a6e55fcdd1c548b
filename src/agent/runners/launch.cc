#include "agent/runners/launch.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include "agent/runners/supervisor.h"

namespace populi::runners::internal {
namespace fs = std::filesystem;

namespace {

constexpr char kDefaultPath[] = "/usr/local/bin:/usr/bin:/bin";

bool HasNul(const std::string& s) {
  return s.find('\0') != std::string::npos;
}

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// The path with its directory canonicalized and its last component kept: /bin/sh and
// /usr/bin/sh are the same program on a merged-/usr system, but /usr/bin/ls (a busybox link)
// is not /usr/bin/sh even though both resolve to one file.
std::string CanonicalDirPath(const std::string& path) {
  const fs::path p(path);
  char* dir = ::realpath(p.parent_path().c_str(), nullptr);
  if (dir == nullptr) return path;
  std::string out = (fs::path(dir) / p.filename()).string();
  ::free(dir);
  return out;
}

std::string ErrnoText(int err) {
  return std::strerror(err);
}

}  // namespace

Status ValidateSpec(const RunSpec& spec) {
  if (spec.command.empty()) return InvalidArgument("run spec has no command", "set the command");
  if (HasNul(spec.command))
    return InvalidArgument("command contains a NUL byte", "pass the command as plain text");
  for (const auto& a : spec.args) {
    if (HasNul(a))
      return InvalidArgument("an argument contains a NUL byte", "pass each argument as plain text");
  }
  for (const auto& [name, value] : spec.env) {
    if (name.empty() || name.find('=') != std::string::npos || HasNul(name)) {
      return InvalidArgument("bad environment variable name \"" + name + "\"",
                             "names are non-empty and contain no '=' or NUL");
    }
    if (HasNul(value))
      return InvalidArgument("environment variable " + name + " contains NUL",
                             "remove the NUL byte from the value");
  }
  if (!spec.working_dir.empty() && spec.working_dir.front() != '/') {
    return InvalidArgument("working_dir must be absolute: " + spec.working_dir,
                           "give an absolute path, or none for a fresh scratch directory");
  }
  if (!spec.scratch_root.empty() && spec.scratch_root.front() != '/') {
    return InvalidArgument("scratch_root must be absolute: " + spec.scratch_root,
                           "set an absolute scratch root");
  }
  if (HasNul(spec.working_dir) || HasNul(spec.scratch_root)) {
    return InvalidArgument("a directory path contains a NUL byte",
                           "remove the NUL byte from the path");
  }
  if (spec.timeout_ms < 0 || spec.kill_grace_ms < 0) {
    return InvalidArgument("timeout_ms and kill_grace_ms must not be negative",
                           "use 0 for no limit");
  }
  if (spec.gpus_requested > 0 && spec.gpu_uuids.empty()) {
    return InvalidArgument(
        "task asks for " + std::to_string(spec.gpus_requested) + " GPU(s) but none are assigned",
        "pass the GPU UUIDs the placement reserved");
  }
  for (const auto& uuid : spec.gpu_uuids) {
    if (uuid.empty() || uuid.find(',') != std::string::npos || HasNul(uuid)) {
      return InvalidArgument("bad GPU uuid \"" + uuid + "\"",
                             "pass the GPU UUIDs the probe reported");
    }
  }
  return Status::Ok();
}

std::string AgentPath() {
  const char* path = ::getenv("PATH");
  return (path != nullptr && *path != '\0') ? std::string(path) : std::string(kDefaultPath);
}

std::string SearchPath(const std::string& name, const std::string& path_list) {
  size_t begin = 0;
  while (begin <= path_list.size()) {
    size_t end = path_list.find(':', begin);
    if (end == std::string::npos) end = path_list.size();
    const std::string dir = path_list.substr(begin, end - begin);
    begin = end + 1;
    if (dir.empty() || dir.front() != '/') continue;
    const std::string candidate = dir.back() == '/' ? dir + name : dir + "/" + name;
    if (IsExecutableFile(candidate)) return candidate;
  }
  return "";
}

std::optional<std::string> ResolveCommand(const std::string& command, const std::string& path_list,
                                          const std::string& cwd) {
  if (command.find('/') == std::string::npos) {
    std::string found = SearchPath(command, path_list);
    if (found.empty()) return std::nullopt;
    return found;
  }
  std::string path = command;
  if (path.front() != '/') {
    if (cwd.empty()) return std::nullopt;
    path = (fs::path(cwd) / command).lexically_normal().string();
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return path;
}

Status CheckPolicy(const ExecPolicy& policy, const std::string& command,
                   const std::optional<std::string>& program, const std::string& agent_path) {
  if (policy.mode == ExecMode::kOpen) return Status::Ok();
  for (const auto& entry : policy.allowed_commands) {
    if (entry.empty()) continue;
    if (!program) {
      // Listed but missing: let the run report "command not found" rather than a refusal.
      if (entry == command) return Status::Ok();
      continue;
    }
    std::string target;
    if (entry.find('/') == std::string::npos) {
      target = SearchPath(entry, agent_path);
    } else if (entry.front() == '/') {
      target = entry;
    }
    if (target.empty()) continue;
    if (target == *program || CanonicalDirPath(target) == CanonicalDirPath(*program)) {
      return Status::Ok();
    }
  }
  return {Code::kPermissionDenied,
          "command \"" + command + "\" is not allowed on this node (exec policy strict)",
          "add it to mesh.policy.allowed_commands, or set mesh.policy.exec = permissive"};
}

Result<std::string> FindBwrap(const ExecPolicy& policy, const std::string& agent_path) {
  constexpr char kHint[] =
      "apt-get install bubblewrap (or set mesh.policy.sandbox = none to run unsandboxed)";
  if (!policy.bwrap_path.empty()) {
    if (IsExecutableFile(policy.bwrap_path)) return policy.bwrap_path;
    return FailedPrecondition("sandbox bwrap: " + policy.bwrap_path + " is not an executable",
                              kHint);
  }
  if (IsExecutableFile("/usr/bin/bwrap")) return std::string("/usr/bin/bwrap");
  std::string found = SearchPath("bwrap", agent_path);
  if (!found.empty()) return found;
  return FailedPrecondition("sandbox bwrap is configured but bubblewrap is not installed", kHint);
}

std::vector<std::string> ChildEnvironment(const RunSpec& spec, const std::string& agent_path,
                                          const std::string& scratch_dir) {
  std::map<std::string, std::string> env = {
      {"PATH", agent_path}, {"HOME", scratch_dir}, {"LANG", "C.UTF-8"}};
  for (const auto& [name, value] : spec.env) env[name] = value;
  if (!spec.gpu_uuids.empty()) {
    std::string joined;
    for (const auto& uuid : spec.gpu_uuids) joined += (joined.empty() ? "" : ",") + uuid;
    env["CUDA_VISIBLE_DEVICES"] = joined;
    env["NVIDIA_VISIBLE_DEVICES"] = joined;
  } else if (spec.gpus_requested == 0) {
    env["CUDA_VISIBLE_DEVICES"] = "";
  }
  env["POPULI_TASK_ID"] = spec.task_id;
  env["POPULI_ATTEMPT"] = std::to_string(spec.attempt);
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [name, value] : env) out.push_back(name + "=" + value);
  return out;
}

std::vector<std::string> BwrapArgv(const std::string& bwrap, const std::string& scratch_dir,
                                   const std::string& cwd, const std::string& program,
                                   const std::vector<std::string>& args) {
  std::vector<std::string> argv = {bwrap,         "--ro-bind",
                                   "/",           "/",
                                   "--proc",      "/proc",
                                   "--dev",       "/dev",
                                   "--tmpfs",     "/tmp",
                                   "--bind",      scratch_dir,
                                   scratch_dir,   "--unshare-all",
                                   "--share-net", "--die-with-parent",
                                   "--chdir",     cwd,
                                   "--",          program};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

Result<std::string> CreateScratchDir(const std::string& root, const std::string& task_id,
                                     int32_t attempt) {
  std::string base = root;
  if (base.empty()) {
    const char* tmpdir = ::getenv("TMPDIR");
    base = (tmpdir != nullptr && tmpdir[0] == '/') ? tmpdir : "/tmp";
  }
  std::error_code ec;
  fs::create_directories(base, ec);
  if (ec) {
    return Status(Code::kFailedPrecondition,
                  "cannot create scratch root " + base + ": " + ec.message(),
                  "check the directory's permissions and free space");
  }
  std::string name;
  for (char c : task_id.substr(0, 64)) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '_';
    name += keep ? c : '_';
  }
  if (name.empty() || name.front() == '.') name = "task" + name;
  std::string templ = base + "/populi-" + name + "-a" + std::to_string(attempt) + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    const int err = errno;
    return Status(Code::kFailedPrecondition,
                  "cannot create a scratch dir under " + base + ": " + ErrnoText(err),
                  "check the directory's permissions and free space");
  }
  return templ;  // mkdtemp creates it 0700
}

namespace {

// Gives the owner full access to every directory below `dir` (a task may leave read-only ones,
// which would stop removal). Symlinks are not followed.
void MakeRemovable(const fs::path& dir) {
  ::chmod(dir.c_str(), 0700);
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->symlink_status(ec).type() == fs::file_type::directory) MakeRemovable(it->path());
  }
}

}  // namespace

Status RemoveScratchDir(const std::string& dir) {
  if (dir.empty()) return Status::Ok();
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (!ec) return Status::Ok();
  MakeRemovable(dir);
  ec.clear();
  fs::remove_all(dir, ec);
  if (ec)
    return Internal("cannot remove scratch dir " + dir + ": " + ec.message(),
                    "check the directory's permissions; it is removed again on the next start");
  return Status::Ok();
}

std::vector<std::pair<int, rlimit>> PrepareLimits(const ResourceLimits& limits) {
  std::vector<std::pair<int, rlimit>> out;
  auto add = [&](int resource, const std::optional<uint64_t>& value) {
    if (!value) return;
    rlimit current{};
    rlim_t v = static_cast<rlim_t>(*value);
    if (::getrlimit(resource, &current) == 0 && current.rlim_max != RLIM_INFINITY) {
      v = std::min(v, current.rlim_max);
    }
    out.push_back({resource, rlimit{v, v}});
  };
  add(RLIMIT_AS, limits.address_space_bytes);
  add(RLIMIT_NOFILE, limits.open_files);
  add(RLIMIT_CPU, limits.cpu_seconds);
  return out;
}

namespace {

std::string DescribeFailure(ChildStage stage, int err, const ChildSetup& setup,
                            const std::string& command) {
  switch (stage) {
    case ChildStage::kExec:
      if (err == ENOENT) return "command not found: " + command;
      return "cannot execute: " + command + " (" + ErrnoText(err) + ")";
    case ChildStage::kChdir:
      return "working dir: " + setup.cwd + ": " + ErrnoText(err);
    case ChildStage::kLimits:
      return "cannot apply resource limits: " + ErrnoText(err);
    case ChildStage::kSession:
      return "cannot start a new session: " + ErrnoText(err);
    case ChildStage::kStdio:
      return "cannot set up stdin/stdout/stderr: " + ErrnoText(err);
  }
  return "spawn failed: " + ErrnoText(err);
}

void CloseBoth(int fds[2]) {
  ::close(fds[0]);
  ::close(fds[1]);
}

// The supervisor's first report: the task runs, could not exec, or could not be forked.
void ReadFirstReport(SpawnOutcome& outcome, const ChildSetup& setup, const std::string& command) {
  SupervisorReport report{};
  ssize_t n;
  do {
    n = ::read(outcome.report_fd, &report, sizeof(report));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof(report)) && report.kind == SupervisorReport::kStarted) {
    outcome.pid = report.value;
    return;
  }
  // Nothing runs: the supervisor has exited or is about to.
  int status = 0;
  while (::waitpid(outcome.supervisor, &status, 0) < 0 && errno == EINTR) {
  }
  outcome.supervisor = -1;
  ::close(outcome.report_fd);
  ::close(outcome.control_fd);
  outcome.report_fd = outcome.control_fd = -1;
  if (n == static_cast<ssize_t>(sizeof(report)) && report.kind == SupervisorReport::kSpawnFailed) {
    outcome.spawn_error =
        DescribeFailure(static_cast<ChildStage>(report.stage), report.err, setup, command);
    outcome.exit_code = report.value;
    return;
  }
  const int err = n == static_cast<ssize_t>(sizeof(report)) ? report.err : 0;
  outcome.failure = Unavailable(
      "fork: " + (err != 0 ? ErrnoText(err) : std::string("the task supervisor ended early")),
      "the node is out of processes or memory; retry later");
}

}  // namespace

SpawnOutcome Spawn(const ChildSetup& setup, const std::string& command) {
  SpawnOutcome outcome;
  std::vector<char*> argv;
  for (const auto& a : setup.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : setup.envp) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int report[2];
  int control[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    outcome.failure = Unavailable("pipe: " + ErrnoText(errno), "the agent is out of descriptors");
    return outcome;
  }
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control) != 0) {
    outcome.failure =
        Unavailable("socketpair: " + ErrnoText(errno),
                    "the agent is out of file descriptors; raise its limit (ulimit -n)");
    CloseBoth(report);
    return outcome;
  }
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) {
    outcome.failure = Internal("open /dev/null: " + ErrnoText(errno),
                               "check that /dev/null exists and is readable");
    CloseBoth(report);
    CloseBoth(control);
    return outcome;
  }
  const pid_t agent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0)
    SupervisorMain(setup, argv.data(), envp.data(), {control[1], report[1], devnull, agent});
  const int fork_errno = errno;
  ::close(control[1]);
  ::close(report[1]);
  ::close(devnull);
  if (pid < 0) {
    ::close(control[0]);
    ::close(report[0]);
    outcome.failure = Unavailable("fork: " + ErrnoText(fork_errno),
                                  "the node is out of processes or memory; retry later");
    return outcome;
  }
  outcome.supervisor = pid;
  outcome.control_fd = control[0];
  outcome.report_fd = report[0];
  ReadFirstReport(outcome, setup, command);
  return outcome;
}

}  // namespace populi::runners::internal
