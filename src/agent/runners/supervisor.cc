// Everything here runs in a process forked from the multithreaded agent (supervisor.h): raw
// system calls, fixed buffers and stack memory only.
#include "agent/runners/supervisor.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace populi::runners::internal {
namespace {

struct ChildFailure {
  ChildStage stage;
  int32_t err;
};

// The task's process starts on a stack of its own, sharing the supervisor's memory until exec
// (vfork style), so AddressSanitizer's bookkeeping of that stack is left out of it.
#define POPULI_TASK_SIDE __attribute__((no_sanitize("address")))

POPULI_TASK_SIDE [[noreturn]] void ChildFail(int status_fd, ChildStage stage, int exit_code) {
  const ChildFailure f{stage, errno};
  ssize_t ignored = ::write(status_fd, &f, sizeof(f));
  (void)ignored;
  ::_exit(exit_code);
}

// The task's process, between the supervisor's clone and execve.
POPULI_TASK_SIDE [[noreturn]] void ChildExec(const ChildSetup& setup, char* const* argv,
                                             char* const* envp, int devnull, int status_fd) {
  if (::setsid() < 0) ChildFail(status_fd, ChildStage::kSession, kExitCannotExecute);
  // A supervisor killed outright takes the task's leader with it (the supervisor is
  // single-threaded, so this watches the whole of it).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Move the sources above 2 first so dup2 never meets an fd equal to its target.
  const int in = ::fcntl(devnull, F_DUPFD, 3);
  const int out = ::fcntl(setup.stdout_fd, F_DUPFD, 3);
  const int err = ::fcntl(setup.stderr_fd, F_DUPFD, 3);
  if (in < 0 || out < 0 || err < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 ||
      ::dup2(err, 2) < 0) {
    ChildFail(status_fd, ChildStage::kStdio, kExitCannotExecute);
  }
  // Nothing above stderr survives exec.
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    const long max_fd = ::sysconf(_SC_OPEN_MAX);
    for (int fd = 3; fd < (max_fd > 0 ? max_fd : 65536); ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  if (::chdir(setup.cwd.c_str()) != 0) ChildFail(status_fd, ChildStage::kChdir, kExitCannotExecute);
  for (const auto& [resource, value] : setup.limits) {
    if (::setrlimit(resource, &value) != 0) {
      ChildFail(status_fd, ChildStage::kLimits, kExitCannotExecute);
    }
  }
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(setup.program.c_str(), argv, envp);
  ChildFail(status_fd, ChildStage::kExec,
            errno == ENOENT ? kExitCommandNotFound : kExitCannotExecute);
}

void Send(int fd, SupervisorReport report) {
  while (::write(fd, &report, sizeof(report)) < 0 && errno == EINTR) {
  }
}

// Closes every descriptor from 3 up except the `n` in `keep`.
void CloseAllExcept(int* keep, int n) {
  for (int i = 1; i < n; ++i) {  // insertion sort: a handful of entries
    for (int j = i; j > 0 && keep[j - 1] > keep[j]; --j) {
      const int t = keep[j];
      keep[j] = keep[j - 1];
      keep[j - 1] = t;
    }
  }
  auto close_span = [](unsigned lo, unsigned hi) {  // [lo, hi]
    if (lo > hi || ::close_range(lo, hi, 0) == 0) return;
    rlimit nofile{};
    unsigned max_fd = 1u << 16;
    if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < (1u << 20)) {
      max_fd = static_cast<unsigned>(nofile.rlim_cur);
    }
    for (unsigned fd = lo; fd <= hi && fd < max_fd; ++fd) ::close(static_cast<int>(fd));
  };
  unsigned lo = 3;
  for (int i = 0; i < n; ++i) {
    if (keep[i] < 0 || static_cast<unsigned>(keep[i]) < lo) continue;
    close_span(lo, static_cast<unsigned>(keep[i]) - 1);
    lo = static_cast<unsigned>(keep[i]) + 1;
  }
  close_span(lo, ~0U);
}

// ---- The process table --------------------------------------------------------------------

constexpr size_t kMaxProcs = 1 << 16;
constexpr pid_t kMaxPid = 1 << 22;  // PID_MAX_LIMIT on 64-bit Linux

struct ProcEntry {
  pid_t pid;
  pid_t ppid;
  pid_t pgrp;
};

// Scratch memory for scans, mapped once in the supervisor (never in the agent).
struct ProcTable {
  ProcEntry* entries = nullptr;  // kMaxProcs
  uint64_t* marked = nullptr;    // one bit per pid below kMaxPid
  bool ok() const { return entries != nullptr && marked != nullptr; }
  bool Marked(pid_t p) const {
    return p > 0 && p < kMaxPid && (marked[p >> 6] >> (p & 63) & 1u) != 0;
  }
  void Mark(pid_t p, bool on) {
    if (p <= 0 || p >= kMaxPid) return;
    if (on) {
      marked[p >> 6] |= uint64_t{1} << (p & 63);
    } else {
      marked[p >> 6] &= ~(uint64_t{1} << (p & 63));
    }
  }
};

ProcTable MapProcTable() {
  ProcTable t;
  void* e = ::mmap(nullptr, kMaxProcs * sizeof(ProcEntry), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void* m =
      ::mmap(nullptr, kMaxPid / 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (e != MAP_FAILED) t.entries = static_cast<ProcEntry*>(e);
  if (m != MAP_FAILED) t.marked = static_cast<uint64_t*>(m);
  return t;
}

// Parses a decimal number at `p`, moving past it; -1 when there is none.
long ParseNumber(const char*& p, const char* end) {
  long v = -1;
  while (p < end && *p >= '0' && *p <= '9') v = (v < 0 ? 0 : v * 10) + (*p++ - '0');
  return v;
}

// ppid and pgrp of /proc/<name>/stat; false when the process is gone.
bool ReadStat(const char* name, pid_t* ppid, pid_t* pgrp) {
  char path[64] = "/proc/";
  size_t len = 6;
  for (const char* c = name; *c != '\0' && len < sizeof(path) - 6; ++c) path[len++] = *c;
  for (const char* c = "/stat"; *c != '\0'; ++c) path[len++] = *c;
  path[len] = '\0';
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[512];
  const ssize_t n = ::read(fd, buf, sizeof(buf));
  ::close(fd);
  if (n <= 0) return false;
  // "pid (comm) S ppid pgrp ...": comm may hold anything, so start after the last ')'.
  const char* end = buf + n;
  const char* p = end;
  while (p > buf && p[-1] != ')') --p;
  if (p == buf || end - p < 4) return false;
  p += 3;  // " S "
  const long parent = ParseNumber(p, end);
  if (p >= end || *p++ != ' ') return false;
  const long group = ParseNumber(p, end);
  if (parent < 0 || group < 0) return false;
  *ppid = static_cast<pid_t>(parent);
  *pgrp = static_cast<pid_t>(group);
  return true;
}

// Reads every process's ppid and pgrp; returns how many entries were filled.
size_t ScanProcesses(ProcTable& table) {
  const int dir = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return 0;
  size_t count = 0;
  alignas(8) char buf[8192];
  for (;;) {
    const long n = ::syscall(SYS_getdents64, dir, buf, sizeof(buf));
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      const auto* d = reinterpret_cast<const dirent64*>(buf + off);
      off += d->d_reclen;
      const char* name = d->d_name;
      const char* end = name;
      while (*end != '\0') ++end;
      const char* p = name;
      const long pid = ParseNumber(p, end);
      if (pid <= 0 || p != end || count >= kMaxProcs) continue;
      ProcEntry& e = table.entries[count];
      if (!ReadStat(name, &e.ppid, &e.pgrp)) continue;
      e.pid = static_cast<pid_t>(pid);
      ++count;
    }
  }
  ::close(dir);
  return count;
}

// Sends `sig` to every descendant of this process, except members of `skip_group` (which the
// caller signals as a group). Returns how many were signalled.
int SignalDescendants(ProcTable& table, int sig, pid_t skip_group) {
  if (!table.ok()) return 0;
  const size_t count = ScanProcesses(table);
  const pid_t self = ::getpid();
  table.Mark(self, true);
  // Mark children of marked processes until nothing changes (one pass per tree level).
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < count; ++i) {
      const ProcEntry& e = table.entries[i];
      if (!table.Marked(e.pid) && table.Marked(e.ppid)) {
        table.Mark(e.pid, true);
        changed = true;
      }
    }
  }
  int signalled = 0;
  for (size_t i = 0; i < count; ++i) {
    const ProcEntry& e = table.entries[i];
    if (e.pid == self || !table.Marked(e.pid)) continue;
    if (skip_group <= 0 || e.pgrp != skip_group) {
      ::kill(e.pid, sig);
      ++signalled;
    }
  }
  for (size_t i = 0; i < count; ++i) table.Mark(table.entries[i].pid, false);
  table.Mark(self, false);
  return signalled;
}

// ---- The supervisor -----------------------------------------------------------------------

struct Supervisor {
  SupervisorFds fds;
  int sigfd = -1;
  pid_t task = -1;
  bool task_done = false;
  int task_status = 0;
  bool stop = false;  // the agent is gone or a signal asked us to end it all
  ProcTable table;

  // Reaps whatever has exited, noting the task's status.
  void Reap() {
    int status = 0;
    pid_t p;
    while ((p = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (p == task && !task_done) {
        task_done = true;
        task_status = status;
      }
    }
  }

  // While the task's zombie or live leader holds its group id, the group can be signalled by
  // number; descendants that left the group are signalled one by one.
  void SignalTree(int sig) {
    if (!task_done) ::kill(-task, sig);
    SignalDescendants(table, sig, task_done ? -1 : task);
  }

  // Drains the signalfd; true when anything other than SIGCHLD arrived.
  bool DrainSignals() {
    signalfd_siginfo info[8];
    bool other = false;
    ssize_t n;
    while ((n = ::read(sigfd, info, sizeof(info))) > 0) {
      for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(info[0]); ++i) {
        if (info[i].ssi_signo != SIGCHLD) other = true;
      }
    }
    return other;
  }

  // SIGKILL to every descendant, round after round, until this process has no child left.
  void KillTree() {
    for (;;) {
      Reap();
      siginfo_t info{};
      if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD) return;
      SignalTree(SIGKILL);
      pollfd pfd{sigfd, POLLIN, 0};
      ::poll(&pfd, 1, 20);
      DrainSignals();
    }
  }

  void ReadControl() {
    char buf[16];
    const ssize_t n = ::read(fds.control, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
      stop = true;  // EOF: the agent is gone
      return;
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == kControlTerminate) SignalTree(SIGTERM);
      if (buf[i] == kControlKill) SignalTree(SIGKILL);
    }
  }

  // Until the task exits, the agent goes away or a signal says stop.
  void Watch() {
    while (!task_done && !stop) {
      pollfd pfd[2] = {{fds.control, POLLIN, 0}, {sigfd, POLLIN, 0}};
      if (::poll(pfd, 2, -1) < 0) {
        if (errno == EINTR) continue;
        stop = true;  // cannot watch: treat as abandoned
        break;
      }
      if (pfd[1].revents != 0 && DrainSignals()) stop = true;
      Reap();
      if (pfd[0].revents != 0) ReadControl();
    }
  }
};

// Signal dispositions and mask for the supervisor: the signals it acts on arrive on a signalfd.
int SetUpSignals() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  }
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ign, nullptr);  // a report to a vanished agent must not kill us
  sigset_t set;
  ::sigemptyset(&set);
  for (int sig : {SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGQUIT}) ::sigaddset(&set, sig);
  ::sigprocmask(SIG_SETMASK, &set, nullptr);
  return ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

struct TaskStart {
  const ChildSetup* setup;
  char* const* argv;
  char* const* envp;
  int devnull;
  int status_fd;
};

POPULI_TASK_SIDE int TaskMain(void* arg) {
  const auto* t = static_cast<const TaskStart*>(arg);
  ChildExec(*t->setup, t->argv, t->envp, t->devnull, t->status_fd);
}

// Starts the task's process like posix_spawn does: it shares this process's memory and runs on
// its own stack until it execs or exits, and this process waits meanwhile (CLONE_VFORK). No page
// tables are copied (this process is itself a copy of the whole agent), and no atfork handler of
// the agent's runs.
pid_t SpawnTask(const TaskStart& start) {
  constexpr size_t kStack = 256 << 10;
  void* stack = ::mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (stack == MAP_FAILED) return -1;
  const pid_t pid = ::clone(TaskMain, static_cast<char*>(stack) + kStack,
                            CLONE_VM | CLONE_VFORK | SIGCHLD, const_cast<TaskStart*>(&start));
  const int err = errno;
  ::munmap(stack, kStack);
  errno = err;
  return pid;
}

// Starts the task; reports Started, SpawnFailed or ForkFailed. False unless it runs.
bool StartTask(Supervisor& s, const ChildSetup& setup, char* const* argv, char* const* envp) {
  int status_pipe[2];
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) {
    Send(s.fds.report, {SupervisorReport::kForkFailed, 0, 0, errno});
    return false;
  }
  const pid_t pid = SpawnTask({&setup, argv, envp, s.fds.devnull, status_pipe[1]});
  const int fork_errno = errno;
  ::close(status_pipe[1]);
  ::close(s.fds.devnull);
  ::close(setup.stdout_fd);  // only the task writes these now
  ::close(setup.stderr_fd);
  if (pid < 0) {
    Send(s.fds.report, {SupervisorReport::kForkFailed, 0, 0, fork_errno});
    return false;
  }
  s.task = pid;
  // EOF means execve succeeded (the pipe was close-on-exec); a record means it did not.
  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(status_pipe[0], &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  ::close(status_pipe[0]);
  if (n != static_cast<ssize_t>(sizeof(failure))) {
    Send(s.fds.report, {SupervisorReport::kStarted, pid, 0, 0});
    return true;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : kExitCannotExecute;
  Send(s.fds.report, {SupervisorReport::kSpawnFailed, exit_code,
                      static_cast<int32_t>(failure.stage), failure.err});
  return false;
}

}  // namespace

[[noreturn]] void SupervisorMain(const ChildSetup& setup, char* const* argv, char* const* envp,
                                 SupervisorFds fds) {
  int keep[5] = {fds.control, fds.report, fds.devnull, setup.stdout_fd, setup.stderr_fd};
  CloseAllExcept(keep, 5);  // other runs' pipes and sockets must not be held open by us
  Supervisor s;
  s.fds = fds;
  s.sigfd = SetUpSignals();  // before PR_SET_PDEATHSIG: its SIGHUP must not kill us
  ::setpgid(0, 0);           // out of the agent's group: a terminal's ^C is for the agent
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  ::prctl(PR_SET_PDEATHSIG, SIGHUP);
  // The agent died before PR_SET_PDEATHSIG took effect: nobody is left to report to.
  if (s.sigfd < 0 || ::getppid() != fds.agent) {
    Send(fds.report, {SupervisorReport::kForkFailed, 0, 0, s.sigfd < 0 ? errno : ESRCH});
    ::_exit(1);
  }
  s.table = MapProcTable();
  ::fcntl(fds.control, F_SETFL, O_NONBLOCK);
  if (!StartTask(s, setup, argv, envp)) ::_exit(0);
  s.Watch();
  s.KillTree();
  // To a vanished agent this fails with EPIPE, which is ignored.
  Send(fds.report, {SupervisorReport::kExited, s.task_status, 0, 0});
  ::_exit(0);
}

}  // namespace populi::runners::internal
