// The real `vox populi serve` as a child process for the serve tests (serve_test.cc,
// serve_replicas_test.cc): start, read its first line, stop with a signal.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli/postgres_test_env.h"
#include "control/http_client.h"
#include "util/random.h"

namespace populi::control::testing {

struct ServeProcess {
  pid_t pid = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  std::string first_line;
  int port = 0;
};

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("populi-serve-" + RandomHex(8));
    std::filesystem::create_directories(dir_ / "home");
    std::filesystem::create_directories(dir_ / "cwd");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Starts serve and waits (generously) for its first stdout line.
  // `extra_env`: more NAME=value entries; `with_worker`: also run the local node agent.
  // `data_name`: the data directory under the test's directory.
  ServeProcess Start(const std::string& bind = "127.0.0.1:0",
                     const std::vector<std::string>& extra_env = {}, bool with_worker = false,
                     const std::string& data_name = "data") {
    std::vector<std::string> args = {"populi", "serve",      "--bind",
                                     bind,     "--data-dir", (dir_ / data_name).string()};
    if (!with_worker) args.push_back("--no-worker");
    ServeProcess p = Spawn(args, extra_env);
    const std::string prefix = "listening on http://127.0.0.1:";
    if (p.first_line.rfind(prefix, 0) == 0)
      p.port = std::atoi(p.first_line.c_str() + prefix.size());
    return p;
  }

  // Starts `vox ARGS` (VOX_HOME and cwd under the test's directory) and waits (generously) for
  // its first stdout line.
  ServeProcess Spawn(const std::vector<std::string>& args,
                     const std::vector<std::string>& extra_env) {
    ServeProcess p;
    int out[2], err[2];
    EXPECT_EQ(pipe(out), 0);
    EXPECT_EQ(pipe(err), 0);
    const char* vox = std::getenv("VOX_BIN");
    EXPECT_NE(vox, nullptr);
    const std::string home = "VOX_HOME=" + (dir_ / "home").string();
    const std::string cwd = (dir_ / "cwd").string();
    // Built before fork(): the child allocates nothing before execve (run_vox.h, PreparedExec).
    std::vector<const char*> argv = {vox};
    for (const auto& a : args) argv.push_back(a.c_str());
    argv.push_back(nullptr);
    std::vector<const char*> envp = {home.c_str(), "PATH=/usr/bin:/bin", "NO_COLOR=1"};
    for (const auto& e : extra_env) envp.push_back(e.c_str());
    envp.push_back(nullptr);
    p.pid = fork();
    if (p.pid == 0) {
      dup2(out[1], 1);
      dup2(err[1], 2);
      close(out[0]);
      close(err[0]);
      if (chdir(cwd.c_str()) != 0) _exit(120);
      execve(vox, const_cast<char* const*>(argv.data()), const_cast<char* const*>(envp.data()));
      _exit(127);
    }
    close(out[1]);
    close(err[1]);
    p.stdout_fd = out[0];
    p.stderr_fd = err[0];
    std::string line;
    pollfd pfd{p.stdout_fd, POLLIN, 0};
    while (line.find('\n') == std::string::npos && poll(&pfd, 1, 60'000) > 0) {
      char c[256];
      ssize_t n = read(p.stdout_fd, c, sizeof c);
      if (n <= 0) break;
      line.append(c, static_cast<size_t>(n));
    }
    p.first_line = line;
    return p;
  }

  // The environment of a serve whose store is a new schema (`schema_prefix` and random hex) on the
  // test PostgreSQL server, the DSN followed by `dsn_extra`, into *env. False, with a skip or a
  // failure recorded (postgres_test_env.h), without a server.
  static bool NeedPostgresEnv(const std::string& schema_prefix, std::vector<std::string>* env,
                              const std::string& dsn_extra = "") {
    std::string dsn;
    populi::testing::NeedPostgresDsn(&dsn);
    if (IsSkipped() || HasFailure()) return false;
    *env = {"VOX_MESH_STORE_BACKEND=postgres", "VOX_MESH_STORE_DSN=" + dsn + dsn_extra,
            "VOX_MESH_STORE_SCHEMA=" + schema_prefix + RandomHex(6)};
    return true;
  }

  // The user config `vox populi init` writes: one secret as both mesh.token and
  // mesh.auth.admin_token, mode 0600. Returns the secret.
  std::string WriteInitCredentials() {
    const std::string secret(64, 'a');
    const auto user_config = dir_ / "home" / "config.toml";
    {
      std::ofstream out(user_config);
      out << "[mesh]\ntoken = \"" << secret << "\"\n[mesh.auth]\nadmin_token = \"" << secret
          << "\"\n";
    }
    std::filesystem::permissions(
        user_config, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    return secret;
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  static std::string ReadAll(int fd) {
    std::string s;
    char buf[4096];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      s.append(buf, static_cast<size_t>(n));
    }
    return s;
  }

  // Signals the process and returns its exit status (or 128+signal).
  static int Stop(ServeProcess& p, int sig) {
    kill(p.pid, sig);
    int status = 0;
    waitpid(p.pid, &status, 0);
    close(p.stdout_fd);
    close(p.stderr_fd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::filesystem::path dir_;
};

}  // namespace populi::control::testing
