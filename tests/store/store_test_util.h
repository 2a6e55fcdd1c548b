// Helpers for the store tests: a temporary directory removed on scope exit, and small builders.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "mesh/types.h"
#include "store/mesh_store.h"
#include "store/sqlite.h"

namespace populi::store::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "populi-store-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline mesh::NewMessage Msg(std::string sender, std::string receiver, std::string key = {},
                            uint8_t priority = 128) {
  mesh::NewMessage m;
  m.sender = std::move(sender);
  m.receiver = std::move(receiver);
  m.message_type = "job_submit";
  m.payload = "{\"n\":1}";
  m.idempotency_key = std::move(key);
  m.priority = priority;
  return m;
}

inline std::unique_ptr<MeshStore> OpenSqliteOrDie(const std::string& dir,
                                                  Durability durability = Durability::kFull) {
  SqliteOptions options;
  options.directory = dir;
  options.durability = durability;
  auto store = OpenSqliteStore(options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

}  // namespace populi::store::testing
