// This node's secrets (docs/secrets.md): <data dir>/secrets.json, mode 0600, names and values.
// A value never leaves the node in plaintext: tasks elsewhere get it sealed to their node's key.
// Names are environment variable names ([A-Za-z_][A-Za-z0-9_]*, at most 128 characters), since
// that is what a task sees; a value is at most 64 KiB.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "util/status.h"

namespace populi::agent {

std::string SecretsPath(const std::string& data_dir);

// kInvalidArgument for a name a process environment cannot carry.
Status ValidateSecretName(const std::string& name);

// Stores (or replaces) `name`. kInvalidArgument for a bad name, an empty value or one over 64 KiB.
Status SetSecret(const std::string& data_dir, const std::string& name, const std::string& value,
                 int64_t now_ms);
// Removes `name`; returns whether it was there.
Result<bool> RemoveSecret(const std::string& data_dir, const std::string& name);

struct SecretInfo {
  std::string name;
  int64_t updated_ms = 0;
  size_t bytes = 0;
};
// Names, sizes and times, never values; sorted by name.
Result<std::vector<SecretInfo>> ListSecrets(const std::string& data_dir);

// The values of `names`. kNotFound naming the first absent one. The caller wipes the values.
Result<std::map<std::string, std::string>> ReadSecrets(const std::string& data_dir,
                                                       const std::vector<std::string>& names);

}  // namespace populi::agent
