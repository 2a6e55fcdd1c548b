// What the CLI tests against a PostgreSQL store share (store_migrate_test.cc,
// doctor_database_test.cc): the test server's DSN (POPULI_TEST_PG_DSN; a test without one is
// skipped, or fails when POPULI_TEST_PG_REQUIRED is set) with a password that must never be
// printed (the test server's trust authentication ignores it), the environment that puts a node's
// store there, and a serve with its worker.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "cli/postgres_test_env.h"
#include "cli/serve_process.h"

namespace populi::testing::postgres_cli {

inline constexpr char kAdminToken[] = "postgres-cli-test-admin-token-0123456789";
inline constexpr char kPassword[] = "pg-secret-7d1f3a";

// The test server's DSN with kPassword into *dsn (postgres_test_env.h: empty, with a skip or
// failure recorded, without a server).
inline void NeedPostgres(std::string* dsn) {
  NeedPostgresDsn(dsn);
  if (!dsn->empty()) *dsn += std::string(" password=") + kPassword;
}

// The port a key=value DSN names (0 when none).
inline int PortOf(const std::string& dsn) {
  const size_t at = dsn.find("port=");
  return at == std::string::npos ? 0 : std::atoi(dsn.c_str() + at + 5);
}

// A port nothing listens on (bound, then closed).
inline int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// The environment that puts the node's store in PostgreSQL.
inline std::map<std::string, std::string> PostgresEnv(const std::string& dsn,
                                                      const std::string& schema) {
  return {{"VOX_MESH_STORE_BACKEND", "postgres"},
          {"VOX_MESH_STORE_DSN", dsn},
          {"VOX_MESH_STORE_SCHEMA", schema}};
}

inline void ExpectNoPassword(const VoxRun& run) {
  EXPECT_THAT(run.out, ::testing::Not(::testing::HasSubstr(kPassword)));
  EXPECT_THAT(run.err, ::testing::Not(::testing::HasSubstr(kPassword)));
}

class PostgresCliTest : public ::testing::Test {
 protected:
  // The CPU-only mock inventory the serve's worker and `doctor --fixture` probe.
  std::string CpuFixture() {
    const std::string path = dir_.Sub("cpu-only.json");
    WriteFile(path, R"({"cpu":{"model":"Demo CPU","cores":4,"threads":8,"numa_nodes":1}})");
    return path;
  }

  // A serve with its local worker (`sh` allowed), not started; its Vox() runs any verb with the
  // same VOX_HOME.
  std::unique_ptr<ServeProcess> MakeServe(const std::map<std::string, std::string>& extra = {}) {
    ServeOptions options;
    options.worker = true;
    options.env = {{"VOX_MESH_PROBE_ORDER", "mock"},
                   {"VOX_MESH_PROBE_MOCK_FIXTURE", CpuFixture()},
                   {"VOX_MESH_POLICY_ALLOWED_COMMANDS", "sh"}};
    for (const auto& [k, v] : extra) options.env[k] = v;
    return std::make_unique<ServeProcess>(dir_.Sub("mesh"), kAdminToken, options);
  }

  TempDir dir_;
};

}  // namespace populi::testing::postgres_cli
