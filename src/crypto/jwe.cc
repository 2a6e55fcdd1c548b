#include "crypto/jwe.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <climits>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "crypto/base64url.h"
#include "crypto/concat_kdf.h"
#include "crypto/fingerprint.h"
#include "crypto/secret.h"
#include "mesh/json_reader.h"

namespace populi::crypto {
namespace {

constexpr size_t kIvBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr size_t kCekBytes = 32;
constexpr const char* kEnvelopeHint = "see docs/secrets.md (Envelope format)";
constexpr const char* kAuthHint =
    "the envelope was altered in transit or sealed to another key; ask the sender to seal it "
    "again to this node's X25519 key";

// Header parameter names registered for JWS and JWE (RFC 7515 §4.1, RFC 7516 §4.1,
// RFC 7518 §4.6.1, §4.7.1, §4.8.1) other than typ and cty: never an `extra` member.
constexpr std::string_view kRegisteredNames[] = {
    "alg",  "enc", "zip", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256",
    "crit", "epk", "apu", "apv", "iv",  "tag", "p2s", "p2c", "b64"};

bool IsRegistered(std::string_view name) {
  return std::find(std::begin(kRegisteredNames), std::end(kRegisteredNames), name) !=
         std::end(kRegisteredNames);
}

Status Malformed(std::string what) {
  return InvalidArgument("JWE: " + std::move(what), kEnvelopeHint);
}
Status Refused(std::string what) {
  return Status(Code::kPermissionDenied, "JWE: " + std::move(what), kAuthHint);
}

const EVP_CIPHER* Aes256Gcm() {
  // Fetched once: an implicit fetch on every envelope costs a provider lookup.
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

struct CipherCtx {
  EVP_CIPHER_CTX* p = EVP_CIPHER_CTX_new();
  CipherCtx() = default;
  CipherCtx(const CipherCtx&) = delete;
  CipherCtx& operator=(const CipherCtx&) = delete;
  ~CipherCtx() { EVP_CIPHER_CTX_free(p); }  // also cleanses the expanded key
};

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// AES-256-GCM encryption of `plaintext` into `ciphertext` and `tag`.
Status AesGcmSeal(const uint8_t* key, const uint8_t* iv, std::string_view aad,
                  std::string_view plaintext, std::string& ciphertext, uint8_t* tag) {
  if (plaintext.size() > INT_MAX - 64 || aad.size() > INT_MAX)
    return InvalidArgument("JWE: plaintext over 2 GiB", "send large data another way");
  CipherCtx ctx;
  ciphertext.assign(plaintext.size(), '\0');
  auto* out = reinterpret_cast<unsigned char*>(ciphertext.data());
  int len = 0;
  int final_len = 0;
  const bool ok =
      ctx.p != nullptr && Aes256Gcm() != nullptr &&
      EVP_EncryptInit_ex2(ctx.p, Aes256Gcm(), key, iv, nullptr) == 1 &&
      EVP_EncryptUpdate(ctx.p, nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) == 1 &&
      EVP_EncryptUpdate(ctx.p, out, &len, Bytes(plaintext), static_cast<int>(plaintext.size())) ==
          1 &&
      EVP_EncryptFinal_ex(ctx.p, out + len, &final_len) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.p, EVP_CTRL_GCM_GET_TAG, kTagBytes, tag) == 1;
  if (!ok) return Internal("JWE: AES-256-GCM encryption failed", "check the OpenSSL install");
  return {};
}

// AES-256-GCM decryption; kPermissionDenied when the tag does not verify (`plaintext` is then
// wiped and cleared).
Status AesGcmOpen(const uint8_t* key, const std::string& iv, std::string_view aad,
                  const std::string& ciphertext, const std::string& tag, std::string& plaintext) {
  if (ciphertext.size() > INT_MAX - 64 || aad.size() > INT_MAX)
    return Malformed("ciphertext over 2 GiB");
  CipherCtx ctx;
  plaintext.assign(ciphertext.size(), '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  int len = 0;
  const bool setup =
      ctx.p != nullptr && Aes256Gcm() != nullptr &&
      EVP_DecryptInit_ex2(ctx.p, Aes256Gcm(), key, Bytes(iv), nullptr) == 1 &&
      EVP_DecryptUpdate(ctx.p, nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx.p, out, &len, Bytes(ciphertext), static_cast<int>(ciphertext.size())) ==
          1 &&
      EVP_CIPHER_CTX_ctrl(ctx.p, EVP_CTRL_GCM_SET_TAG, kTagBytes, const_cast<char*>(tag.data())) ==
          1;
  if (!setup) {
    Wipe(plaintext);
    plaintext.clear();
    return Internal("JWE: AES-256-GCM decryption failed", "check the OpenSSL install");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.p, out + len, &final_len) != 1) {
    Wipe(plaintext);
    plaintext.clear();
    return Refused("authentication failed (AES-GCM tag mismatch)");
  }
  return {};
}

// The content key: Concat KDF over Z with AlgorithmID = enc (direct key agreement).
Status DeriveCek(const std::array<uint8_t, 32>& z, std::string_view apu, std::string_view apv,
                 SecretBytes<kCekBytes>& cek) {
  return ConcatKdfSha256(z.data(), z.size(), kJweEnc, apu, apv, cek.data(), cek.size());
}

// The protected header's JSON text (Boost.JSON writes it).
Result<std::string> HeaderJson(const std::string& kid, const JweHeaderClaims& claims,
                               const std::array<uint8_t, 32>& epk_public) {
  boost::json::object epk;
  epk["kty"] = "OKP";
  epk["crv"] = "X25519";
  epk["x"] = Base64Url(epk_public.data(), epk_public.size());
  boost::json::object header;
  header["alg"] = kJweAlg;
  header["enc"] = kJweEnc;
  header["kid"] = kid;
  header["epk"] = std::move(epk);
  for (const auto& [name, value] : claims.extra) {
    if (IsRegistered(name))
      return InvalidArgument("JWE: extra header member \"" + name + "\" is a registered name",
                             "pick another name; alg, enc, epk and kid are set by JweEncrypt");
    header[name] = value;
  }
  std::string json = boost::json::serialize(header);
  // Boost.JSON copies strings as they are; a reader would refuse invalid UTF-8.
  boost::system::error_code ec;
  (void)boost::json::parse(json, ec);
  if (ec)
    return InvalidArgument("JWE: a header member is not valid UTF-8",
                           "header members are JSON strings: valid UTF-8 only");
  return json;
}

}  // namespace

Result<std::string> JweEncrypt(const std::array<uint8_t, 32>& recipient_x25519_public,
                               const JweHeaderClaims& claims, std::string_view plaintext) {
  POPULI_RETURN_IF_ERROR(SodiumInit());
  const std::string fingerprint = KeyFingerprint(recipient_x25519_public);
  if (!claims.kid.empty() && claims.kid != fingerprint)
    return InvalidArgument("JWE: kid is not the fingerprint of the recipient's key",
                           "leave kid empty, or set it to KeyFingerprint(recipient key)");
  // The ephemeral secret lives only in this wiped buffer.
  SecretBytes<32> ephemeral_secret;
  std::array<uint8_t, 32> ephemeral_public{};
  randombytes_buf(ephemeral_secret.data(), ephemeral_secret.size());
  if (crypto_scalarmult_base(ephemeral_public.data(), ephemeral_secret.data()) != 0)
    return Internal("JWE: ephemeral X25519 key derivation failed", "report this as a bug");
  std::array<uint8_t, 32> z{};
  Status agreed = X25519SharedSecret(ephemeral_secret.bytes, recipient_x25519_public, z);
  if (!agreed.ok()) return agreed.WithContext("JWE recipient key");
  SecretBytes<kCekBytes> cek;
  Status derived = DeriveCek(z, "", "", cek);
  Wipe(z);
  POPULI_RETURN_IF_ERROR(derived);

  POPULI_ASSIGN_OR_RETURN(std::string header, HeaderJson(fingerprint, claims, ephemeral_public));
  const std::string protected_b64 = Base64Url(header);
  uint8_t iv[kIvBytes];
  randombytes_buf(iv, sizeof(iv));
  std::string ciphertext;
  uint8_t tag[kTagBytes];
  POPULI_RETURN_IF_ERROR(AesGcmSeal(cek.data(), iv, protected_b64, plaintext, ciphertext, tag));
  std::string out = protected_b64;
  out += "..";
  out += Base64Url(iv, sizeof(iv));
  out += '.';
  out += Base64Url(ciphertext);
  out += '.';
  out += Base64Url(tag, sizeof(tag));
  return out;
}

namespace {

struct ParsedHeader {
  std::string alg;
  std::string enc;
  std::string kid;
  std::string kty;
  std::string crv;
  std::array<uint8_t, 32> epk{};
  std::string apu;  // decoded
  std::string apv;  // decoded
  std::map<std::string, std::string> extra;
};

// Reads a base64url string field of exactly N bytes.
template <size_t N>
Result<std::array<uint8_t, N>> FixedBytes(const boost::json::value& v) {
  const char* what = N == 32 ? "expected 32 bytes as base64url" : "expected base64url";
  if (!v.is_string()) return InvalidArgument(what, kEnvelopeHint);
  auto bytes = FromBase64Url(v.get_string());
  if (!bytes.ok() || bytes->size() != N) return InvalidArgument(what, kEnvelopeHint);
  std::array<uint8_t, N> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

Result<std::string> AnyBytes(const boost::json::value& v) {
  if (!v.is_string()) return InvalidArgument("expected base64url", kEnvelopeHint);
  auto bytes = FromBase64Url(v.get_string());
  if (!bytes.ok()) return InvalidArgument("expected base64url", kEnvelopeHint);
  return std::move(*bytes);
}

// The members this profile reads, then every other member into `extra` (strings only; a
// registered name this profile does not use is refused).
Status ReadMembers(const boost::json::value& json, ParsedHeader& h) {
  mesh::ReadOptions options;
  options.hint = kEnvelopeHint;
  mesh::FieldReader r(json, "JWE protected header", options);
  r.Str("alg", h.alg, true);
  r.Str("enc", h.enc, true);
  r.Str("kid", h.kid, true);
  r.Field("apu", h.apu, AnyBytes);
  r.Field("apv", h.apv, AnyBytes);
  if (const auto* epk = r.Object("epk", true)) {
    mesh::FieldReader e(*epk, r.Path("epk"), options);
    e.Str("kty", h.kty, true);
    e.Str("crv", h.crv, true);
    e.Field("x", h.epk, FixedBytes<32>, true);
    if (e.Has("d")) e.Fail("d", "an ephemeral public key must not carry its private part");
    if (!e.ok()) return e.status();
  }
  if (!r.ok()) return r.status();
  for (const auto& member : json.get_object()) {
    const std::string_view name = member.key();
    if (name == "alg" || name == "enc" || name == "kid" || name == "epk" || name == "apu" ||
        name == "apv")
      continue;
    if (IsRegistered(name)) {
      r.Fail(name, "not supported by this profile");
    } else if (!member.value().is_string()) {
      r.Fail(name, "expected a string");
    } else {
      h.extra[std::string(name)] = std::string(member.value().get_string());
    }
  }
  return r.status();
}

Result<ParsedHeader> ReadHeader(std::string_view protected_b64) {
  auto text = FromBase64Url(protected_b64);
  if (!text.ok()) return Malformed("the protected header is not base64url");
  boost::system::error_code ec;
  const boost::json::value json = boost::json::parse(*text, ec);
  if (ec) return Malformed("the protected header is not JSON");
  ParsedHeader h;
  POPULI_RETURN_IF_ERROR(ReadMembers(json, h));
  if (h.alg != kJweAlg) return Malformed("alg is not ECDH-ES");
  if (h.enc != kJweEnc) return Malformed("enc is not A256GCM");
  if (h.kty != "OKP" || h.crv != "X25519") return Malformed("epk is not an OKP X25519 key");
  return h;
}

Result<std::string> DecodePart(std::string_view part, const char* name, size_t size) {
  auto bytes = FromBase64Url(part);
  if (!bytes.ok()) return Malformed(std::string(name) + " is not base64url");
  if (size != 0 && bytes->size() != size)
    return Malformed(std::string(name) + " must be " + std::to_string(size) + " bytes");
  return std::move(*bytes);
}

}  // namespace

Result<JweOpened> JweDecrypt(const X25519KeyPair& recipient, std::string_view compact) {
  POPULI_RETURN_IF_ERROR(SodiumInit());
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    const size_t dot = compact.find('.', start);
    parts.push_back(compact.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos || parts.size() > 5) break;
    start = dot + 1;
  }
  if (parts.size() != 5) return Malformed("expected 5 dot-separated parts (compact serialization)");
  if (!parts[1].empty()) return Malformed("the encrypted key must be empty for ECDH-ES");
  POPULI_ASSIGN_OR_RETURN(ParsedHeader header, ReadHeader(parts[0]));
  if (header.kid != KeyFingerprint(recipient.public_key))
    return Refused("kid does not name this node's X25519 key " +
                   KeyFingerprint(recipient.public_key));
  POPULI_ASSIGN_OR_RETURN(std::string iv, DecodePart(parts[2], "the IV", kIvBytes));
  POPULI_ASSIGN_OR_RETURN(std::string ciphertext, DecodePart(parts[3], "the ciphertext", 0));
  POPULI_ASSIGN_OR_RETURN(std::string tag, DecodePart(parts[4], "the tag", kTagBytes));

  std::array<uint8_t, 32> z{};
  if (!X25519SharedSecret(recipient.secret_key, header.epk, z).ok())
    return Malformed("epk is a low-order point");
  SecretBytes<kCekBytes> cek;
  Status derived = DeriveCek(z, header.apu, header.apv, cek);
  Wipe(z);
  POPULI_RETURN_IF_ERROR(derived);
  JweOpened opened;
  POPULI_RETURN_IF_ERROR(AesGcmOpen(cek.data(), iv, parts[0], ciphertext, tag, opened.plaintext));
  opened.claims.kid = std::move(header.kid);
  opened.claims.extra = std::move(header.extra);
  return opened;
}

}  // namespace populi::crypto
