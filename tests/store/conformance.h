// The backend-neutral conformance suite's fixture. Every MeshStore backend is listed in
// Backends() (conformance_backends.cc) and must pass every TEST_P in conformance_*_test.cc.
#pragma once

#include <gtest/gtest.h>

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
};

const std::vector<Backend>& Backends();

// gtest prints a parameter with this (the name instead of the object's bytes).
inline void PrintTo(const Backend& backend, std::ostream* os) {
  *os << backend.name;
}

class StoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { Reopen(); }

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
