// The test PostgreSQL server's DSN as the CLI and serve tests read it (postgres_cli.h,
// serve_fixture.h): POPULI_TEST_PG_DSN; a test without one is skipped, or fails when
// POPULI_TEST_PG_REQUIRED is set.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace populi::testing {

// The DSN into *dsn, left empty without a server; the caller returns on IsSkipped() or
// HasFailure() (GTEST_SKIP here returns from this function only).
inline void NeedPostgresDsn(std::string* dsn) {
  const char* from_env = std::getenv("POPULI_TEST_PG_DSN");
  if (from_env != nullptr && *from_env != '\0') {
    *dsn = from_env;
    return;
  }
  const char* how =
      "no PostgreSQL server: set POPULI_TEST_PG_DSN (scripts/test starts one; by hand: "
      "scripts/pg-test-server start DIR prints the DSN)";
  if (std::getenv("POPULI_TEST_PG_REQUIRED") != nullptr) {
    ADD_FAILURE() << how;
    return;
  }
  GTEST_SKIP() << how;
}

}  // namespace populi::testing
