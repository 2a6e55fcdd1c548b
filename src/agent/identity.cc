#include "agent/identity.h"

#include <unistd.h>

#include <boost/json.hpp>
#include <cstring>
#include <filesystem>

#include "agent/private_file.h"

#include "mesh/json_reader.h"
#include "mesh/validate.h"
#include "util/random.h"

namespace populi::agent {
namespace json = boost::json;
namespace fs = std::filesystem;

std::string NodeIdentity::public_key_b64() const {
  return crypto::Base64(keys.public_key.data(), keys.public_key.size());
}

std::string IdentityPath(const std::string& data_dir) {
  return (fs::path(data_dir) / "node-identity.json").string();
}

std::string DefaultNodeId(const std::string& hostname) {
  std::string id;
  for (char c : hostname) {
    if (id.size() >= 48) break;
    const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool keep = (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9') ||
                      lower == '.' || lower == '-';
    id += keep ? lower : '-';
  }
  if (id.empty()) id = "node";
  return id + "-" + RandomHex(3);
}

namespace {

constexpr std::string_view kIdentityCorruptHint =
    "restore it from a backup; deleting it gives this node a new id and key";

// The file's fields: written by LoadOrCreateIdentity, read by a strict reader (mesh/json_reader.h).
// The public key is written for people and tools reading the file; the seed alone is the key.
struct IdentityFile {
  std::string node_id;
  std::string seed_b64;
  std::string public_key_b64;
};

json::object ToJson(const IdentityFile& f) {
  return {{"node_id", f.node_id},
          {"ed25519_seed_b64", f.seed_b64},
          {"ed25519_public_key_b64", f.public_key_b64}};
}

Result<IdentityFile> IdentityFileFromJson(const json::value& v) {
  mesh::FieldReader r(v, "", {std::string(kIdentityCorruptHint), mesh::UnknownFields::kIgnore});
  IdentityFile f;
  r.Str("node_id", f.node_id, true);
  r.Str("ed25519_seed_b64", f.seed_b64, true);
  r.Str("ed25519_public_key_b64", f.public_key_b64);
  if (!r.ok()) return r.status();
  return f;
}

Result<NodeIdentity> Parse(const std::string& path, const std::string& text,
                           const std::string& configured_node_id) {
  auto corrupt = [&](const std::string& why) {
    return Status(Code::kFailedPrecondition, "node identity " + path + " is unreadable: " + why,
                  std::string(kIdentityCorruptHint));
  };
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return corrupt(ec ? ec.message() : "not a JSON object");
  auto file = IdentityFileFromJson(v);
  if (!file.ok()) return corrupt(file.status().message());
  auto raw = crypto::FromBase64(file->seed_b64);
  if (!raw.ok() || raw->size() != 32) return corrupt("ed25519_seed_b64 is not 32 bytes");
  std::array<uint8_t, 32> seed_bytes{};
  std::memcpy(seed_bytes.data(), raw->data(), 32);
  POPULI_ASSIGN_OR_RETURN(auto keys, crypto::Ed25519FromSeed(seed_bytes));
  NodeIdentity identity;
  identity.node_id = configured_node_id.empty() ? file->node_id : configured_node_id;
  identity.keys = keys;
  identity.path = path;
  POPULI_RETURN_IF_ERROR(mesh::ValidateId("node_id", identity.node_id));
  return identity;
}

}  // namespace

Result<std::optional<NodeIdentity>> LoadIdentity(const std::string& data_dir,
                                                 const std::string& configured_node_id) {
  const std::string path = IdentityPath(data_dir);
  POPULI_ASSIGN_OR_RETURN(auto text, ReadPrivateFile(path, "node identity"));
  if (!text) return std::optional<NodeIdentity>();
  POPULI_ASSIGN_OR_RETURN(auto identity, Parse(path, *text, configured_node_id));
  return std::optional<NodeIdentity>(std::move(identity));
}

Result<NodeIdentity> LoadOrCreateIdentity(const std::string& data_dir,
                                          const std::string& configured_node_id) {
  POPULI_ASSIGN_OR_RETURN(auto existing, LoadIdentity(data_dir, configured_node_id));
  if (existing) return std::move(*existing);
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) {
    return Status(Code::kStoreIo, "cannot create " + data_dir + ": " + ec.message(),
                  "set VOX_HOME or mesh.store.path to a writable directory");
  }
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  NodeIdentity identity;
  identity.node_id = configured_node_id.empty() ? DefaultNodeId(host) : configured_node_id;
  POPULI_RETURN_IF_ERROR(mesh::ValidateId("node_id", identity.node_id));
  POPULI_ASSIGN_OR_RETURN(identity.keys, crypto::GenerateEd25519());
  identity.path = IdentityPath(data_dir);
  const auto seed = crypto::SeedOf(identity.keys);
  // The stored id is the generated one even when a configured id overrides it, so removing the
  // setting returns the node to its own stable id.
  const IdentityFile file{configured_node_id.empty() ? identity.node_id : DefaultNodeId(host),
                          crypto::Base64(seed.data(), seed.size()), identity.public_key_b64()};
  POPULI_RETURN_IF_ERROR(WritePrivateFile(identity.path, json::serialize(ToJson(file)) + "\n"));
  return identity;
}

}  // namespace populi::agent
