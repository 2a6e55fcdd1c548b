// Who may call the control plane: static role tokens and optional HS256 JWTs.
//
// The credential travels as `Authorization: Bearer <token>`; the names below are the only place
// the header and scheme are spelled. Static tokens are compared in constant time over SHA-256
// digests (so neither content nor length leaks through timing). A JWT carries `role`, `exp`
// (Unix seconds, 60 s leeway) and `jti`; each jti is accepted once, remembered in a JtiStore until
// it expires, so a captured token cannot be replayed, also across a restart when the store is
// durable.
//
// With no static token and no JWT secret configured the mesh is open: every caller is an
// anonymous admin (a private single-box mesh). docs/auth.md has the route × role matrix.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "control/http/http.h"
#include "util/clock.h"
#include "util/status.h"

namespace populi::http {

inline constexpr std::string_view kAuthorizationHeader = "authorization";
inline constexpr std::string_view kBearerPrefix = "Bearer ";
inline constexpr std::string_view kNodeIdHeader = "x-vox-node-id";
inline constexpr std::string_view kRequestIdHeader = "x-request-id";
inline constexpr std::string_view kWireVersionHeader = "x-populi-wire-version";
// The static token labelled kMetricsTokenLabel (mesh.observability.metrics_token) has the
// read_only role on the route named kMetricsRouteName (GET /metrics) and nothing else.
inline constexpr std::string_view kMetricsTokenLabel = "metrics";
inline constexpr std::string_view kMetricsRouteName = "metrics";
inline constexpr std::string_view kUnauthenticatedHint =
    "set VOX_MESH_TOKEN or mesh.token in ~/.vox/config.toml";

// "Bearer <token>", the Authorization header value for a credential.
std::string BearerHeaderValue(std::string_view token);

// Remembers JWT ids until they expire. InsertIfAbsent returns true when `jti` was new (and is
// now recorded until exp_ms, Unix ms), false when it was already present. Implementations must
// never forget an entry before its exp_ms, even when full: refusing (an error) is allowed,
// forgetting is not, since forgetting re-opens the replay window.
class JtiStore {
 public:
  virtual ~JtiStore() = default;
  virtual Result<bool> InsertIfAbsent(std::string_view jti, int64_t exp_ms) = 0;
};

// A bounded in-memory JtiStore (tests, single-process meshes). When full it drops expired
// entries; if none have expired it refuses with kResourceExhausted.
class InMemoryJtiStore final : public JtiStore {
 public:
  explicit InMemoryJtiStore(const Clock& clock, size_t capacity = 100'000)
      : clock_(clock), capacity_(capacity) {}
  Result<bool> InsertIfAbsent(std::string_view jti, int64_t exp_ms) override;
  size_t size() const;

 private:
  const Clock& clock_;
  size_t capacity_;
  mutable std::mutex mu_;
  std::map<std::string, int64_t, std::less<>> entries_;
};

struct StaticToken {
  std::string label;  // safe to log ("admin", "ci-submitter"); never the secret
  Role role = Role::kReadOnly;
  std::string secret;
};

struct AuthConfig {
  std::vector<StaticToken> tokens;
  std::string jwt_secret;          // HS256 key; empty disables JWTs. At least 32 bytes.
  JtiStore* jti_store = nullptr;   // required when jwt_secret is set; not owned
  const Clock* clock = nullptr;    // null → SystemClock
  int64_t jwt_leeway_ms = 60'000;  // tolerated clock skew on `exp`
};

class Authenticator {
 public:
  // Validates the config: non-empty unique labels and secrets, secrets of at least 16 bytes,
  // a JWT secret of at least 32 bytes and a JtiStore beside it.
  static Result<std::unique_ptr<Authenticator>> Create(AuthConfig config);
  // An Authenticator with no credentials: the open mesh.
  static std::unique_ptr<Authenticator> Open();

  // True when no credential is configured: every caller is an anonymous admin.
  bool open() const { return digests_.empty() && jwt_secret_.empty(); }

  // The caller named by an Authorization header value. An empty header is an anonymous
  // principal (admin when open(), else read-only and only good for open routes); an unknown,
  // malformed, expired or replayed credential is kUnauthenticated. Error text never contains
  // the credential.
  Result<Principal> Authenticate(std::string_view authorization) const;
  // True when authenticating `authorization` may wait on the JtiStore (a JWT, with JWTs
  // configured): the server then authenticates on its handler pool, never on an I/O thread.
  bool MayWaitOnReplayStore(std::string_view authorization) const;

  // Ok when `principal` may call a route that allows `roles` (empty = open route; admin may
  // call everything); else kUnauthenticated (anonymous) or kPermissionDenied naming the roles.
  Status Authorize(const Principal& principal, const std::vector<Role>& roles,
                   std::string_view route_name) const;

 private:
  struct TokenDigest {
    std::string label;
    Role role;
    unsigned char digest[32];
  };
  Authenticator() = default;
  Result<Principal> AuthenticateJwt(std::string_view token) const;

  std::vector<TokenDigest> digests_;
  std::string jwt_secret_;
  JtiStore* jti_store_ = nullptr;
  const Clock* clock_ = nullptr;
  int64_t jwt_leeway_ms_ = 60'000;
};

// An HS256 JWT with claims role, exp (Unix seconds) and jti, signed with `secret`. For the CLI
// and tests; the control plane only verifies.
std::string MintJwt(std::string_view secret, Role role, int64_t exp_unix_s, std::string_view jti);
// An HS256 JWT over any claims object (MintJwt's signing; tests use it for malformed claims).
std::string SignJwt(std::string_view secret, const boost::json::object& claims);

// The claims of a JWT (docs/auth.md).
struct JwtClaims {
  Role role = Role::kReadOnly;
  int64_t exp_unix_s = 0;  // 0..kMaxJwtExpUnixS, so that exp in ms plus the leeway cannot overflow
  std::string jti;
};
inline constexpr int64_t kMaxJwtExpUnixS = int64_t{1} << 50;  // year ~35 million

boost::json::object ToJson(const JwtClaims& claims);
// Strict (mesh/json_reader.h): role, exp and jti are required; a wrong type, an exp out of range
// or an unknown role is kInvalidArgument naming the claim; other claims are ignored. The jti's
// length is checked by the Authenticator, not here.
Result<JwtClaims> JwtClaimsFromJson(const boost::json::value& v);

}  // namespace populi::http
