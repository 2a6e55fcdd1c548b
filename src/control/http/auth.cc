#include "control/http/auth.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <algorithm>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <set>

#include "mesh/json_reader.h"

namespace populi::http {
namespace {

constexpr size_t kMinTokenBytes = 16;
constexpr size_t kMinJwtSecretBytes = 32;
constexpr size_t kMaxJtiBytes = 128;

std::string Base64UrlEncode(std::string_view bytes) {
  const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), variant);
  out.resize(std::char_traits<char>::length(out.c_str()));
  return out;
}

bool Base64UrlDecode(std::string_view text, std::string* out) {
  out->assign(text.size(), '\0');
  size_t length = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out->data()), out->size(), text.data(),
                        text.size(), nullptr, &length, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return false;
  }
  out->resize(length);
  return true;
}

void HmacSha256(std::string_view key, std::string_view data, unsigned char out[32]) {
  unsigned int out_len = 32;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &out_len);
}

void Sha256(std::string_view data, unsigned char out[32]) {
  crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(data.data()), data.size());
}

// Every 401 carries the same hint: which check failed is in the message, never a different remedy.
Status Unauthenticated(std::string message) {
  return Status(Code::kUnauthenticated, std::move(message), std::string(kUnauthenticatedHint));
}

// The JOSE header names HS256 (the only algorithm accepted; the signature was checked with it).
bool HeaderNamesHs256(const std::string& text) {
  boost::system::error_code ec;
  boost::json::value header = boost::json::parse(text, ec);
  if (ec) return false;
  mesh::FieldReader r(header, "");
  std::string alg;
  r.Str("alg", alg, true);
  return r.ok() && alg == "HS256";
}

Result<JwtClaims> ParseClaims(const std::string& text) {
  boost::system::error_code ec;
  boost::json::value claims = boost::json::parse(text, ec);
  if (ec) return InvalidArgument("not JSON: " + ec.message(), std::string(kUnauthenticatedHint));
  return JwtClaimsFromJson(claims);
}

std::string RoleList(const std::vector<Role>& roles) {
  std::string out;
  for (Role r : roles) {
    if (!out.empty()) out += ", ";
    out += ToString(r);
  }
  return out;
}

}  // namespace

std::string BearerHeaderValue(std::string_view token) {
  return std::string(kBearerPrefix) + std::string(token);
}

Result<bool> InMemoryJtiStore::InsertIfAbsent(std::string_view jti, int64_t exp_ms) {
  std::lock_guard lock(mu_);
  if (entries_.find(jti) != entries_.end()) return false;
  if (entries_.size() >= capacity_) {
    const int64_t now = clock_.NowMs();
    std::erase_if(entries_, [now](const auto& entry) { return entry.second < now; });
    if (entries_.size() >= capacity_) {
      return Status(Code::kResourceExhausted, "too many unexpired one-time tokens in use",
                    "mint tokens with a shorter exp, or retry once some have expired");
    }
  }
  entries_.emplace(std::string(jti), exp_ms);
  return true;
}

size_t InMemoryJtiStore::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

Result<std::unique_ptr<Authenticator>> Authenticator::Create(AuthConfig config) {
  if (sodium_init() < 0)
    return Internal("libsodium failed to initialise",
                    "reinstall libsodium; the process cannot make keys without it");
  std::unique_ptr<Authenticator> auth(new Authenticator());
  std::set<std::string> labels;
  std::set<std::string> secrets;
  for (const StaticToken& token : config.tokens) {
    if (token.label.empty()) {
      return InvalidArgument("a mesh token has an empty label",
                             "give every token a label such as \"admin\" or \"ci\"");
    }
    if (!labels.insert(token.label).second) {
      return InvalidArgument("mesh token label '" + token.label + "' is used twice",
                             "give every token its own label");
    }
    if (token.secret.size() < kMinTokenBytes) {
      return InvalidArgument("mesh token '" + token.label + "' is shorter than 16 characters",
                             "generate one with `openssl rand -hex 32`");
    }
    if (!secrets.insert(token.secret).second) {
      return InvalidArgument("mesh token '" + token.label + "' has the same secret as another",
                             "give every role its own secret");
    }
    TokenDigest digest{token.label, token.role, {}};
    Sha256(token.secret, digest.digest);
    auth->digests_.push_back(std::move(digest));
  }
  if (!config.jwt_secret.empty()) {
    if (config.jwt_secret.size() < kMinJwtSecretBytes) {
      return InvalidArgument("the JWT secret is shorter than 32 bytes",
                             "generate one with `openssl rand -hex 32`");
    }
    if (config.jti_store == nullptr) {
      return InvalidArgument("JWTs are enabled without a replay store",
                             "pass a JtiStore beside the JWT secret");
    }
  }
  auth->jwt_secret_ = std::move(config.jwt_secret);
  auth->jti_store_ = config.jti_store;
  auth->clock_ = config.clock != nullptr ? config.clock : &SystemClock::Instance();
  auth->jwt_leeway_ms_ = config.jwt_leeway_ms;
  return auth;
}

std::unique_ptr<Authenticator> Authenticator::Open() {
  std::unique_ptr<Authenticator> auth(new Authenticator());
  auth->clock_ = &SystemClock::Instance();
  return auth;
}

bool Authenticator::MayWaitOnReplayStore(std::string_view authorization) const {
  // A JWT is three dot-separated parts; a static token never takes that path.
  return jti_store_ != nullptr && !jwt_secret_.empty() &&
         std::count(authorization.begin(), authorization.end(), '.') == 2;
}

Result<Principal> Authenticator::Authenticate(std::string_view authorization) const {
  Principal principal;
  if (authorization.empty()) {
    principal.anonymous = true;
    principal.role = open() ? Role::kAdmin : Role::kReadOnly;
    principal.token_label = "anonymous";
    return principal;
  }
  if (authorization.size() <= kBearerPrefix.size() ||
      authorization.substr(0, kBearerPrefix.size()) != kBearerPrefix) {
    return Unauthenticated("the Authorization header is not 'Bearer <token>'");
  }
  std::string_view token = authorization.substr(kBearerPrefix.size());
  if (open()) {
    // No credentials configured: a presented token changes nothing.
    principal.role = Role::kAdmin;
    principal.token_label = "anonymous";
    return principal;
  }
  unsigned char presented[32];
  Sha256(token, presented);
  // Compare against every digest without an early exit so the position of a match does not
  // show in the timing either.
  const TokenDigest* match = nullptr;
  for (const TokenDigest& candidate : digests_) {
    if (sodium_memcmp(presented, candidate.digest, sizeof presented) == 0) match = &candidate;
  }
  if (match != nullptr) {
    principal.anonymous = false;
    principal.role = match->role;
    principal.token_label = match->label;
    return principal;
  }
  if (!jwt_secret_.empty() && std::count(token.begin(), token.end(), '.') == 2) {
    return AuthenticateJwt(token);
  }
  return Unauthenticated("the bearer token is not valid for this mesh");
}

Result<Principal> Authenticator::AuthenticateJwt(std::string_view token) const {
  const size_t first_dot = token.find('.');
  const size_t second_dot = token.find('.', first_dot + 1);
  std::string_view signing_input = token.substr(0, second_dot);
  std::string signature;
  if (!Base64UrlDecode(token.substr(second_dot + 1), &signature) || signature.size() != 32) {
    return Unauthenticated("the JWT signature is malformed");
  }
  unsigned char expected[32];
  HmacSha256(jwt_secret_, signing_input, expected);
  if (sodium_memcmp(expected, signature.data(), sizeof expected) != 0) {
    return Unauthenticated("the JWT signature does not verify");
  }
  std::string header_json;
  std::string claims_json;
  if (!Base64UrlDecode(token.substr(0, first_dot), &header_json) ||
      !Base64UrlDecode(token.substr(first_dot + 1, second_dot - first_dot - 1), &claims_json)) {
    return Unauthenticated("the JWT is not base64url encoded");
  }
  if (!HeaderNamesHs256(header_json))
    return Unauthenticated("the JWT header does not name alg HS256");
  auto claims = ParseClaims(claims_json);
  if (!claims.ok()) {
    return Unauthenticated("the JWT claims are invalid: " + claims.status().message());
  }
  const std::string& jti = claims->jti;
  if (jti.empty() || jti.size() > kMaxJtiBytes) {
    return Unauthenticated("the JWT jti is empty or longer than 128 characters");
  }
  const int64_t exp_ms = claims->exp_unix_s * 1000;
  if (exp_ms + jwt_leeway_ms_ < clock_->NowMs()) return Unauthenticated("the JWT has expired");
  auto inserted = jti_store_->InsertIfAbsent(jti, exp_ms + jwt_leeway_ms_);
  if (!inserted.ok()) return inserted.status();
  if (!*inserted) return Unauthenticated("the JWT was already used (jti replayed)");
  Principal principal;
  principal.anonymous = false;
  principal.role = claims->role;
  principal.token_label = "jwt:" + jti;
  return principal;
}

Status Authenticator::Authorize(const Principal& principal, const std::vector<Role>& roles,
                                std::string_view route_name) const {
  if (roles.empty() || principal.role == Role::kAdmin) return Status::Ok();
  if (principal.anonymous) return Unauthenticated("this route needs a bearer token");
  if (!principal.anonymous && principal.token_label == kMetricsTokenLabel &&
      route_name != kMetricsRouteName) {
    return Status(Code::kPermissionDenied,
                  std::string(route_name) + " is not open to the metrics token",
                  "the metrics token reads GET /metrics only; use a read_only token");
  }
  for (Role r : roles) {
    if (r == principal.role) return Status::Ok();
  }
  return Status(Code::kPermissionDenied,
                std::string(route_name) + " needs role " + RoleList(roles) + " or admin; token '" +
                    principal.token_label + "' has role " + std::string(ToString(principal.role)),
                "use a token with one of those roles");
}

boost::json::object ToJson(const JwtClaims& claims) {
  return {{"role", ToString(claims.role)}, {"exp", claims.exp_unix_s}, {"jti", claims.jti}};
}

Result<JwtClaims> JwtClaimsFromJson(const boost::json::value& v) {
  mesh::FieldReader r(v, "", {std::string(kUnauthenticatedHint), mesh::UnknownFields::kIgnore});
  JwtClaims claims;
  r.Enum("role", claims.role, ParseRole, true);
  r.Int("exp", claims.exp_unix_s, 0, kMaxJwtExpUnixS, true);
  r.Str("jti", claims.jti, true);
  if (!r.ok()) return r.status();
  return claims;
}

std::string MintJwt(std::string_view secret, Role role, int64_t exp_unix_s, std::string_view jti) {
  return SignJwt(secret, ToJson(JwtClaims{role, exp_unix_s, std::string(jti)}));
}

std::string SignJwt(std::string_view secret, const boost::json::object& claims) {
  std::string signing_input = Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + "." +
                              Base64UrlEncode(boost::json::serialize(claims));
  unsigned char signature[32];
  HmacSha256(secret, signing_input, signature);
  return signing_input + "." +
         Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(signature), 32));
}

}  // namespace populi::http
