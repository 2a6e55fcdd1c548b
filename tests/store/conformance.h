// The backend-neutral conformance suite's fixture. Every MeshStore backend is listed in
// Backends() (conformance_backends.cc) and must pass every TEST_P in conformance_*_test.cc.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "store/mesh_store.h"
#include "store/store_test_util.h"

namespace populi::store::testing {

struct Backend {
  std::string name;
  // Opens (or reopens) the backend's store for `dir`.
  std::function<Result<std::unique_ptr<MeshStore>>(const std::string& dir)> open;
  // Why the backend cannot run here, with how to make it run ("" = it can). A backend that
  // cannot run is skipped, unless POPULI_TEST_PG_REQUIRED is set (scripts/test sets it): then
  // the test fails.
  std::function<std::string()> unavailable = [] { return std::string(); };
};

// The PostgreSQL server the tests use (POPULI_TEST_PG_DSN), or "" when none is configured.
std::string TestPostgresDsn();
// The message a PostgreSQL test gives when TestPostgresDsn() is empty.
std::string NoPostgresMessage();
// Skips (or, under scripts/test, fails) the current test when no PostgreSQL server is configured.
#define POPULI_REQUIRE_POSTGRES()                                    \
  do {                                                               \
    if (::populi::store::testing::TestPostgresDsn().empty()) {       \
      if (std::getenv("POPULI_TEST_PG_REQUIRED") != nullptr) {       \
        FAIL() << ::populi::store::testing::NoPostgresMessage();     \
      }                                                              \
      GTEST_SKIP() << ::populi::store::testing::NoPostgresMessage(); \
    }                                                                \
  } while (false)

const std::vector<Backend>& Backends();

// gtest prints a parameter with this (the name instead of the object's bytes).
inline void PrintTo(const Backend& backend, std::ostream* os) {
  *os << backend.name;
}

class StoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (const std::string why = GetParam().unavailable(); !why.empty()) {
      if (std::getenv("POPULI_TEST_PG_REQUIRED") != nullptr) FAIL() << why;
      GTEST_SKIP() << why;
    }
    Reopen();
  }

  void Reopen() {
    if (store_) {
      ASSERT_TRUE(store_->Close().ok());
    }
    store_.reset();
    auto opened = GetParam().open(dir_.path());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
  }

  Result<DeliverResult> Deliver(const mesh::NewMessage& m, int64_t now_ms = 1000) {
    Result<DeliverResult> out = Internal("not run", "a test hint");
    Status status = store_->Write([&](WriteTxn& txn) -> Status {
      out = txn.Deliver(m, now_ms);
      return out.status();
    });
    if (!status.ok()) return status;
    return out;
  }

  // Runs one write function that returns a Result<T> and hands the result back.
  template <typename T>
  Result<T> Do(std::function<Result<T>(WriteTxn&)> fn) {
    Result<T> out = Internal("not run", "a test hint");
    Status status = store_->Write([&](WriteTxn& txn) -> Status {
      out = fn(txn);
      return out.status();
    });
    if (!status.ok()) return status;
    return out;
  }

  TempDir dir_;
  std::unique_ptr<MeshStore> store_;
};

}  // namespace populi::store::testing
