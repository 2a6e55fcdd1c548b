#include "agent/keyring.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <boost/json.hpp>

#include "agent/private_file.h"
#include "crypto/ed25519.h"
#include "crypto/secret.h"
#include "mesh/json_reader.h"
#include "mesh/validate.h"

namespace populi::agent {
namespace json = boost::json;
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kKeysCorruptHint =
    "restore it from a backup; deleting it makes a new key (peers must pair again)";

std::string B64(const std::array<uint8_t, 32>& key) {
  return crypto::Base64(key.data(), key.size());
}

Result<std::array<uint8_t, 32>> Key32(const std::string& b64, const std::string& what) {
  auto key = crypto::Key32FromBase64(b64);
  if (!key.ok()) {
    return Status(Code::kFailedPrecondition, what + " is not 32 bytes of base64",
                  std::string(kKeysCorruptHint));
  }
  return key;
}

Result<EncryptionKeys> ParseKeys(const std::string& path, const std::string& text) {
  auto corrupt = [&](const std::string& why) {
    return Status(Code::kFailedPrecondition, "encryption keys " + path + " are unreadable: " + why,
                  std::string(kKeysCorruptHint));
  };
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return corrupt(ec.message());
  mesh::FieldReader r(v, "", {std::string(kKeysCorruptHint), mesh::UnknownFields::kIgnore});
  std::string current_b64, previous_b64;
  EncryptionKeys keys;
  r.Str("x25519_secret_b64", current_b64, true);
  r.Int("created_ms", keys.created_ms);
  r.Str("previous_x25519_secret_b64", previous_b64);
  r.Int("previous_retired_ms", keys.previous_retired_ms);
  if (!r.ok()) return corrupt(r.status().message());
  POPULI_ASSIGN_OR_RETURN(auto secret, Key32(current_b64, "x25519_secret_b64"));
  POPULI_ASSIGN_OR_RETURN(keys.current, crypto::X25519FromSecret(secret));
  crypto::Wipe(secret);
  if (!previous_b64.empty()) {
    POPULI_ASSIGN_OR_RETURN(auto old, Key32(previous_b64, "previous_x25519_secret_b64"));
    POPULI_ASSIGN_OR_RETURN(auto pair, crypto::X25519FromSecret(old));
    keys.previous = pair;
    crypto::Wipe(old);
  }
  crypto::Wipe(current_b64);
  crypto::Wipe(previous_b64);
  return keys;
}

Status SaveKeys(const std::string& path, const EncryptionKeys& keys) {
  json::object o{{"x25519_secret_b64", B64(keys.current.secret_key)},
                 {"x25519_public_b64", B64(keys.current.public_key)},
                 {"created_ms", keys.created_ms}};
  if (keys.previous) {
    o["previous_x25519_secret_b64"] = B64(keys.previous->secret_key);
    o["previous_x25519_public_b64"] = B64(keys.previous->public_key);
    o["previous_retired_ms"] = keys.previous_retired_ms;
  }
  std::string text = json::serialize(o) + "\n";
  Status s = WritePrivateFile(path, text);
  crypto::Wipe(text);
  return s;
}

Result<std::optional<EncryptionKeys>> LoadKeys(const std::string& path) {
  POPULI_ASSIGN_OR_RETURN(auto text, ReadPrivateFile(path, "encryption keys"));
  if (!text) return std::optional<EncryptionKeys>();
  auto keys = ParseKeys(path, *text);
  crypto::Wipe(*text);
  if (!keys.ok()) return keys.status();
  return std::optional<EncryptionKeys>(std::move(*keys));
}

}  // namespace

std::string EncryptionKeysPath(const std::string& data_dir) {
  return (fs::path(data_dir) / "encryption-keys.json").string();
}

Result<EncryptionKeys> LoadOrCreateEncryptionKeys(const std::string& data_dir, int64_t now_ms) {
  const std::string path = EncryptionKeysPath(data_dir);
  PrivateFileLock lock(path);
  POPULI_RETURN_IF_ERROR(lock.status());
  POPULI_ASSIGN_OR_RETURN(auto existing, LoadKeys(path));
  if (existing) return std::move(*existing);
  EncryptionKeys keys;
  POPULI_ASSIGN_OR_RETURN(keys.current, crypto::GenerateX25519());
  keys.created_ms = now_ms;
  POPULI_RETURN_IF_ERROR(SaveKeys(path, keys));
  return keys;
}

Result<EncryptionKeys> RotateEncryptionKeys(const std::string& data_dir, int64_t now_ms) {
  const std::string path = EncryptionKeysPath(data_dir);
  PrivateFileLock lock(path);
  POPULI_RETURN_IF_ERROR(lock.status());
  POPULI_ASSIGN_OR_RETURN(auto existing, LoadKeys(path));
  EncryptionKeys keys;
  if (existing) {
    keys.previous = existing->current;
    keys.previous_retired_ms = now_ms;
  }
  POPULI_ASSIGN_OR_RETURN(keys.current, crypto::GenerateX25519());
  // Strictly later than the key it replaces, so peers order announcements even within 1 ms.
  keys.created_ms = existing ? std::max(now_ms, existing->created_ms + 1) : now_ms;
  POPULI_RETURN_IF_ERROR(SaveKeys(path, keys));
  return keys;
}

// ---- pairings ----

namespace {

json::object ToJson(const PairedPeer& p) {
  json::object o{{"node_id", p.node_id},
                 {"ed25519_pub_key_b64", p.ed25519_pub_key_b64},
                 {"x25519_pub_key_b64", p.x25519_pub_key_b64},
                 {"x25519_key_created_ms", p.x25519_key_created_ms},
                 {"paired_ms", p.paired_ms},
                 {"safety_number", p.safety_number}};
  return o;
}

Result<PairedPeer> PeerFromJson(const json::value& v, const std::string& path) {
  mesh::FieldReader r(v, path, {"restore pairings.json from a backup, or pair again"});
  PairedPeer p;
  r.Str("node_id", p.node_id, true);
  r.Str("ed25519_pub_key_b64", p.ed25519_pub_key_b64, true);
  r.Str("x25519_pub_key_b64", p.x25519_pub_key_b64, true);
  r.Int("x25519_key_created_ms", p.x25519_key_created_ms);
  r.Int("paired_ms", p.paired_ms);
  r.Str("safety_number", p.safety_number);
  if (!r.ok()) return r.status();
  return p;
}

Result<std::vector<PairedPeer>> LoadPairingsFile(const std::string& path) {
  POPULI_ASSIGN_OR_RETURN(auto text, ReadPrivateFile(path, "pairings"));
  std::vector<PairedPeer> peers;
  if (!text) return peers;
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec) {
    return Status(Code::kFailedPrecondition,
                  "pairings " + path + " are unreadable: " + ec.message(),
                  "restore pairings.json from a backup, or pair again");
  }
  mesh::FieldReader r(v, "", {"restore pairings.json from a backup, or pair again"});
  r.List("peers", peers, PeerFromJson);
  if (!r.ok()) {
    return Status(Code::kFailedPrecondition,
                  "pairings " + path + " are unreadable: " + r.status().message(),
                  r.status().hint());
  }
  std::sort(peers.begin(), peers.end(),
            [](const PairedPeer& a, const PairedPeer& b) { return a.node_id < b.node_id; });
  return peers;
}

Status SavePairingsFile(const std::string& path, const std::vector<PairedPeer>& peers) {
  json::array list;
  for (const auto& p : peers) list.push_back(ToJson(p));
  return WritePrivateFile(path, json::serialize(json::object{{"peers", std::move(list)}}) + "\n");
}

}  // namespace

std::string PairingsPath(const std::string& data_dir) {
  return (fs::path(data_dir) / "pairings.json").string();
}

Result<std::vector<PairedPeer>> LoadPairings(const std::string& data_dir) {
  return LoadPairingsFile(PairingsPath(data_dir));
}

Status PutPairing(const std::string& data_dir, const PairedPeer& peer) {
  POPULI_RETURN_IF_ERROR(mesh::ValidateId("node_id", peer.node_id));
  const std::string path = PairingsPath(data_dir);
  PrivateFileLock lock(path);
  POPULI_RETURN_IF_ERROR(lock.status());
  POPULI_ASSIGN_OR_RETURN(auto peers, LoadPairingsFile(path));
  auto it = std::find_if(peers.begin(), peers.end(),
                         [&](const PairedPeer& p) { return p.node_id == peer.node_id; });
  if (it != peers.end()) {
    *it = peer;
  } else {
    peers.push_back(peer);
  }
  std::sort(peers.begin(), peers.end(),
            [](const PairedPeer& a, const PairedPeer& b) { return a.node_id < b.node_id; });
  return SavePairingsFile(path, peers);
}

Result<std::vector<PairedPeer>> ParseDeclaredPeers(const std::vector<std::string>& entries) {
  std::vector<PairedPeer> peers;
  for (const auto& entry : entries) {
    auto bad = [&](const std::string& why) {
      return InvalidArgument("mesh.peers.declared entry '" + entry + "': " + why,
                             "write NODE_ID:ED25519_KEY:X25519_KEY with the keys from the node's "
                             "record (vox populi peers --json)");
    };
    const size_t last = entry.rfind(':');
    const size_t middle =
        last == std::string::npos || last == 0 ? std::string::npos : entry.rfind(':', last - 1);
    if (middle == std::string::npos || middle == 0) return bad("expected three ':' fields");
    PairedPeer p;
    p.node_id = entry.substr(0, middle);
    p.ed25519_pub_key_b64 = entry.substr(middle + 1, last - middle - 1);
    p.x25519_pub_key_b64 = entry.substr(last + 1);
    p.declared = true;
    if (!mesh::ValidateId("node_id", p.node_id).ok()) return bad("the node id is not valid");
    for (const std::string* key : {&p.ed25519_pub_key_b64, &p.x25519_pub_key_b64}) {
      auto raw = crypto::FromBase64(*key);
      if (!raw.ok() || raw->size() != 32) return bad("a key is not base64 of 32 bytes");
    }
    peers.push_back(std::move(p));
  }
  return peers;
}

Result<std::vector<PairedPeer>> LoadPeers(const std::string& data_dir,
                                          const std::vector<PairedPeer>& declared) {
  POPULI_ASSIGN_OR_RETURN(auto peers, LoadPairings(data_dir));
  for (const auto& d : declared) {
    std::erase_if(peers, [&](const PairedPeer& p) { return p.node_id == d.node_id; });
    peers.push_back(d);
  }
  std::sort(peers.begin(), peers.end(),
            [](const PairedPeer& a, const PairedPeer& b) { return a.node_id < b.node_id; });
  return peers;
}

Result<bool> RemovePairing(const std::string& data_dir, const std::string& node_id) {
  const std::string path = PairingsPath(data_dir);
  PrivateFileLock lock(path);
  POPULI_RETURN_IF_ERROR(lock.status());
  POPULI_ASSIGN_OR_RETURN(auto peers, LoadPairingsFile(path));
  const auto before = peers.size();
  std::erase_if(peers, [&](const PairedPeer& p) { return p.node_id == node_id; });
  if (peers.size() == before) return false;
  POPULI_RETURN_IF_ERROR(SavePairingsFile(path, peers));
  return true;
}

}  // namespace populi::agent
