#include "agent/secret_store.h"

#include <filesystem>

#include <boost/json.hpp>

#include "agent/private_file.h"
#include "crypto/ed25519.h"
#include "crypto/secret.h"
#include "mesh/json_reader.h"

namespace populi::agent {
namespace json = boost::json;
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxValueBytes = 64 * 1024;
constexpr std::string_view kSecretsCorruptHint =
    "restore secrets.json from a backup, or set them again";

struct StoredSecret {
  std::string value;
  int64_t updated_ms = 0;
};

using SecretMap = std::map<std::string, StoredSecret>;

// Overwrites every string in `v` (a parsed secrets document) with zeros.
void WipeStrings(json::value& v) {
  if (auto* s = v.if_string()) {
    crypto::Wipe(s->data(), s->size());
  } else if (auto* a = v.if_array()) {
    for (auto& e : *a) WipeStrings(e);
  } else if (auto* o = v.if_object()) {
    for (auto& kv : *o) WipeStrings(kv.value());
  }
}

void WipeAll(SecretMap& secrets) {
  for (auto& [name, s] : secrets) crypto::Wipe(s.value);
}

Result<SecretMap> Load(const std::string& path) {
  POPULI_ASSIGN_OR_RETURN(auto text, ReadPrivateFile(path, "secrets"));
  SecretMap secrets;
  if (!text) return secrets;
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  crypto::Wipe(*text);
  if (ec) {
    return Status(Code::kFailedPrecondition, "secrets " + path + " are unreadable: " + ec.message(),
                  std::string(kSecretsCorruptHint));
  }
  mesh::FieldReader r(v, "", {std::string(kSecretsCorruptHint)});
  std::vector<std::pair<std::string, StoredSecret>> items;
  r.List("secrets", items,
         [](const json::value& e,
            const std::string& at) -> Result<std::pair<std::string, StoredSecret>> {
           mesh::FieldReader item(e, at, {std::string(kSecretsCorruptHint)});
           std::pair<std::string, StoredSecret> out;
           std::string value_b64;
           item.Str("name", out.first, true);
           item.Str("value_b64", value_b64, true);
           item.Int("updated_ms", out.second.updated_ms);
           if (!item.ok()) return item.status();
           auto value = crypto::FromBase64(value_b64);
           crypto::Wipe(value_b64);
           if (!value.ok())
             return Status(Code::kFailedPrecondition, at + ": value_b64 is not base64",
                           std::string(kSecretsCorruptHint));
           out.second.value = std::move(*value);
           return out;
         });
  WipeStrings(v);  // the parsed document held the values too
  if (!r.ok()) {
    for (auto& item : items) crypto::Wipe(item.second.value);
    return Status(Code::kFailedPrecondition,
                  "secrets " + path + " are unreadable: " + r.status().message(),
                  std::string(kSecretsCorruptHint));
  }
  for (auto& item : items) secrets[item.first] = std::move(item.second);
  return secrets;
}

Status Save(const std::string& path, const SecretMap& secrets) {
  json::array list;
  for (const auto& [name, s] : secrets) {
    list.push_back(json::object{
        {"name", name},
        {"value_b64",
         crypto::Base64(reinterpret_cast<const uint8_t*>(s.value.data()), s.value.size())},
        {"updated_ms", s.updated_ms}});
  }
  json::object doc{{"secrets", std::move(list)}};
  std::string text = json::serialize(doc) + "\n";
  json::value wiped(std::move(doc));
  WipeStrings(wiped);
  Status st = WritePrivateFile(path, text);
  crypto::Wipe(text);
  return st;
}

}  // namespace

std::string SecretsPath(const std::string& data_dir) {
  return (fs::path(data_dir) / "secrets.json").string();
}

Status ValidateSecretName(const std::string& name) {
  auto bad = [&] {
    return InvalidArgument(
        "secret name '" + name + "' is not an environment variable name",
        "use letters, digits and '_', not starting with a digit (e.g. HF_TOKEN)");
  };
  if (name.empty() || name.size() > 128) return bad();
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return bad();
  }
  return Status::Ok();
}

Status SetSecret(const std::string& data_dir, const std::string& name, const std::string& value,
                 int64_t now_ms) {
  POPULI_RETURN_IF_ERROR(ValidateSecretName(name));
  if (value.empty()) {
    return InvalidArgument("the value of secret " + name + " is empty",
                           "pipe the value on standard input: printf %s \"$VALUE\" | vox populi "
                           "secret set " +
                               name);
  }
  if (value.size() > kMaxValueBytes) {
    return Status(Code::kTooLarge, "the value of secret " + name + " is over 64 KiB",
                  "store a path or a token, not a file");
  }
  const std::string path = SecretsPath(data_dir);
  PrivateFileLock lock(path);
  POPULI_RETURN_IF_ERROR(lock.status());
  POPULI_ASSIGN_OR_RETURN(SecretMap secrets, Load(path));
  secrets[name] = {value, now_ms};
  Status s = Save(path, secrets);
  WipeAll(secrets);
  return s;
}

Result<bool> RemoveSecret(const std::string& data_dir, const std::string& name) {
  const std::string path = SecretsPath(data_dir);
  PrivateFileLock lock(path);
  POPULI_RETURN_IF_ERROR(lock.status());
  POPULI_ASSIGN_OR_RETURN(SecretMap secrets, Load(path));
  auto it = secrets.find(name);
  if (it == secrets.end()) {
    WipeAll(secrets);
    return false;
  }
  crypto::Wipe(it->second.value);
  secrets.erase(it);
  Status s = Save(path, secrets);
  WipeAll(secrets);
  if (!s.ok()) return s;
  return true;
}

Result<std::vector<SecretInfo>> ListSecrets(const std::string& data_dir) {
  POPULI_ASSIGN_OR_RETURN(SecretMap secrets, Load(SecretsPath(data_dir)));
  std::vector<SecretInfo> out;
  for (const auto& [name, s] : secrets) out.push_back({name, s.updated_ms, s.value.size()});
  WipeAll(secrets);
  return out;
}

Result<std::map<std::string, std::string>> ReadSecrets(const std::string& data_dir,
                                                       const std::vector<std::string>& names) {
  POPULI_ASSIGN_OR_RETURN(SecretMap secrets, Load(SecretsPath(data_dir)));
  std::map<std::string, std::string> out;
  Status missing;
  for (const auto& name : names) {
    auto it = secrets.find(name);
    if (it == secrets.end()) {
      missing = NotFound("secret " + name + " is not set on this node",
                         "set it on the submitting node: vox populi secret set " + name);
      break;
    }
    out[name] = it->second.value;
  }
  WipeAll(secrets);
  if (!missing.ok()) {
    for (auto& [n, v] : out) crypto::Wipe(v);
    return missing;
  }
  return out;
}

}  // namespace populi::agent
