// A workspace directory, a VOX_HOME and a clean environment for running `vox`.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "cli/run_vox.h"
#include "config/test_files.h"

namespace populi::testing {

class CliTest : public ::testing::Test {
 protected:
  CliTest() {
    std::filesystem::create_directories(dir_.Sub("ws"));
    std::filesystem::create_directories(dir_.Sub("scratch"));
    env_.cwd = dir_.Sub("ws");
    env_.vars["HOME"] = dir_.Sub("user");
    env_.vars["VOX_HOME"] = dir_.Sub("home");
  }

  VoxRun Vox(const std::vector<std::string>& args) {
    return RunVox(env_, args, dir_.Sub("scratch"));
  }
  std::string Workspace() const { return dir_.Sub("ws/Vox.toml"); }
  std::string User() const { return dir_.Sub("home/config.toml"); }
  static mode_t ModeOf(const std::string& path) {
    struct stat st {};
    stat(path.c_str(), &st);
    return st.st_mode & 07777;
  }

  TempDir dir_;
  VoxEnv env_;
};

}  // namespace populi::testing
