#include "agent/runners/leftovers.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

namespace populi::runners {
namespace fs = std::filesystem;

namespace {

constexpr char kRecordTag[] = "populi-run-v1";
constexpr auto kSupervisorGrace = std::chrono::seconds(1);
constexpr auto kKillFor = std::chrono::seconds(2);

struct ProcInfo {
  char state = '?';
  pid_t session = -1;
  uint64_t start = 0;
};

// The whole file, or what was read before an error. Plain read(2), not a stream: a /proc file of
// a process that exits mid-read fails with ESRCH, which libstdc++'s filebuf throws as an
// exception even with no exception mask set.
std::string ReadWhole(const std::string& path) {
  std::string out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  ::close(fd);
  return out;
}

// State, session and start time from /proc/PID/stat ("pid (comm) state ppid pgrp session ...").
std::optional<ProcInfo> ReadProc(pid_t pid) {
  const std::string text = ReadWhole("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream rest(text.substr(paren + 1));
  std::vector<std::string> fields;  // fields[0] is field 3 of proc(5)
  for (std::string f; fields.size() < 20 && rest >> f;) fields.push_back(f);
  if (fields.size() < 20) return std::nullopt;
  ProcInfo info;
  info.state = fields[0].empty() ? '?' : fields[0][0];
  long session = 0;
  const auto parsed_session =
      std::from_chars(fields[3].data(), fields[3].data() + fields[3].size(), session);
  const auto parsed_start =
      std::from_chars(fields[19].data(), fields[19].data() + fields[19].size(), info.start);
  if (parsed_session.ec != std::errc() || parsed_start.ec != std::errc()) return std::nullopt;
  info.session = static_cast<pid_t>(session);
  return info;
}

// Running (not a zombie) and started at `start`.
bool Alive(pid_t pid, uint64_t start) {
  if (pid <= 0 || start == 0) return false;
  const auto info = ReadProc(pid);
  return info && info->start == start && info->state != 'Z' && info->state != 'X';
}

bool HasEnvEntries(pid_t pid, const std::string& a, const std::string& b) {
  const std::string env = ReadWhole("/proc/" + std::to_string(pid) + "/environ");
  bool has_a = false;
  bool has_b = false;
  for (size_t at = 0; at < env.size();) {
    size_t end = env.find('\0', at);
    if (end == std::string::npos) end = env.size();
    const std::string_view entry(env.data() + at, end - at);
    has_a = has_a || entry == a;
    has_b = has_b || entry == b;
    at = end + 1;
  }
  return has_a && has_b;
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> out;
  std::error_code ec;
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
      out.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return out;
}

std::optional<RunRecord> ReadRunRecord(const fs::path& path) {
  std::istringstream in(ReadWhole(path.string()));
  std::string tag;
  RunRecord r;
  in >> tag >> r.agent >> r.agent_start >> r.supervisor >> r.supervisor_start >> r.task >>
      r.task_start >> r.attempt;
  if (!in || tag != kRecordTag) return std::nullopt;
  in >> std::ws;
  std::getline(in, r.task_id);
  if (r.task_id.empty() || r.supervisor_start == 0) return std::nullopt;
  return r;
}

// SIGKILLs, round after round, the processes of the recorded run; returns how many.
int KillRunProcesses(const RunRecord& r) {
  // The task's session id is ours only while no other process holds the leader's pid: the
  // kernel does not hand out a pid that is still some session's id.
  bool session_ours = r.task > 0 && r.task_start != 0;
  if (const auto leader = ReadProc(r.task); leader && leader->start != r.task_start) {
    session_ours = false;
  }
  const std::string id_entry = "POPULI_TASK_ID=" + r.task_id;
  const std::string attempt_entry = "POPULI_ATTEMPT=" + std::to_string(r.attempt);
  const pid_t self = ::getpid();
  int signalled = 0;
  const auto deadline = std::chrono::steady_clock::now() + kKillFor;
  for (;;) {
    int found = 0;
    for (pid_t pid : AllPids()) {
      if (pid == self) continue;
      const auto info = ReadProc(pid);
      // Everything of the run started after its supervisor.
      if (!info || info->state == 'Z' || info->start < r.supervisor_start) continue;
      const bool ours = (pid == r.supervisor && info->start == r.supervisor_start) ||
                        (session_ours && info->session == r.task) ||
                        HasEnvEntries(pid, id_entry, attempt_entry);
      if (ours && ::kill(pid, SIGKILL) == 0) ++found;
    }
    signalled += found;
    if (found == 0 || std::chrono::steady_clock::now() >= deadline) return signalled;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

uint64_t ProcessStartTime(pid_t pid) {
  const auto info = ReadProc(pid);
  return info ? info->start : 0;
}

RunRecord RecordFor(pid_t supervisor, pid_t task, const std::string& task_id, int32_t attempt) {
  RunRecord r;
  r.agent = ::getpid();
  r.agent_start = ProcessStartTime(r.agent);
  r.supervisor = supervisor;
  r.supervisor_start = ProcessStartTime(supervisor);
  r.task = task;
  r.task_start = ProcessStartTime(task);
  r.task_id = task_id;
  r.attempt = attempt;
  return r;
}

Status WriteRunRecord(const std::string& dir, const RunRecord& r) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  fs::permissions(dir, fs::perms::owner_all, ec);
  const std::string path = dir + "/" + std::to_string(r.supervisor) + ".run";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << kRecordTag << ' ' << r.agent << ' ' << r.agent_start << ' ' << r.supervisor << ' '
        << r.supervisor_start << ' ' << r.task << ' ' << r.task_start << ' ' << r.attempt << ' '
        << r.task_id << '\n';
    if (!out.flush())
      return Internal("cannot write run record " + tmp,
                      "check free space and permissions under the data directory");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Internal("cannot write run record " + path + ": " + std::strerror(errno),
                    "check free space and permissions under the data directory");
  }
  return Status::Ok();
}

void RemoveRunRecord(const std::string& dir, pid_t supervisor) {
  std::error_code ec;
  fs::remove(dir + "/" + std::to_string(supervisor) + ".run", ec);
}

LeftoverSweep KillLeftovers(const std::string& dir) {
  LeftoverSweep sweep;
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".run") files.push_back(it->path());
    if (it->path().extension() == ".tmp") fs::remove(it->path(), ec);  // a write cut short
  }
  for (const auto& path : files) {
    const auto record = ReadRunRecord(path);
    if (record && Alive(record->agent, record->agent_start)) {
      ++sweep.live_records;  // a run of an agent that still runs (maybe this one)
      continue;
    }
    if (record) {
      ++sweep.records;
      // A supervisor that still runs ends its own tree best (it knows it all).
      if (Alive(record->supervisor, record->supervisor_start)) {
        ::kill(record->supervisor, SIGTERM);
        const auto until = std::chrono::steady_clock::now() + kSupervisorGrace;
        while (Alive(record->supervisor, record->supervisor_start) &&
               std::chrono::steady_clock::now() < until) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
      sweep.processes += KillRunProcesses(*record);
    }
    fs::remove(path, ec);  // done with, or unreadable
  }
  return sweep;
}

}  // namespace populi::runners
