// POST /v1/populi/bootstrap/exchange: a one-time bootstrap token for the mesh token.
//
// Order of checks: disabled (404) → wrong token (401; a wrong guess does not use the token up) →
// no mesh token configured (503) → expired (410) → already used (410) → consume and answer. The
// consumption is a row in the store's kv (namespace "bootstrap", keyed by the token's SHA-256),
// written before the answer, so it survives a restart.
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <boost/json.hpp>

#include "control/api/routes.h"
#include "mesh/replies_json.h"

namespace populi::control {
namespace json = boost::json;
namespace {

constexpr std::string_view kBootstrapKv = "bootstrap";

std::string Sha256Hex(std::string_view s) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
}

// Constant-time comparison: both sides are hashed first so lengths never leak.
bool SameSecret(std::string_view a, std::string_view b) {
  unsigned char da[SHA256_DIGEST_LENGTH];
  unsigned char db[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
  return CRYPTO_memcmp(da, db, sizeof da) == 0;
}

http::Response Exchange(ApiContext& ctx, http::Request& req) {
  const ControlOptions& o = ctx.options;
  if (o.bootstrap_token.empty()) {
    return Error(NotFound("bootstrap is not enabled on this control plane",
                          "set mesh.bootstrap.token on the control plane, or use the mesh token"),
                 req);
  }
  auto q = DecodeBody(req, mesh::BootstrapRequestFromJson);
  if (!q.ok()) return Error(q.status(), req);
  if (!SameSecret(q->bootstrap_token, o.bootstrap_token)) {
    return Error(Status(Code::kUnauthenticated, "the bootstrap token is not valid",
                        "ask the mesh owner for a fresh bootstrap token"),
                 req);
  }
  if (o.mesh_token.empty()) {
    return Error(Unavailable("this control plane has no mesh token to hand out",
                             "set mesh.token on the control plane"),
                 req);
  }
  const int64_t now = ctx.NowMs();
  const Status gone(Code::kGone, "the bootstrap token was already used or has expired",
                    "ask the mesh owner for a fresh bootstrap token");
  if (o.bootstrap_expires_ms != 0 && now >= o.bootstrap_expires_ms) return Error(gone, req);
  const std::string key = Sha256Hex(o.bootstrap_token);
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(auto used, txn.GetKv(kBootstrapKv, key));
    if (used) return gone;
    POPULI_RETURN_IF_ERROR(txn.PutKv(kBootstrapKv, key, std::to_string(now)));
    // The token itself is never recorded, nor its digest (the digest would confirm a guess).
    POPULI_RETURN_IF_ERROR(txn.AppendAudit(AuditOf(req, now, "bootstrap.exchanged", "bootstrap",
                                                   {{"scope_id", o.scope_id}}))
                               .status());
    return txn
        .AppendEvent(
            MakeEvent(now, "bootstrap.exchanged", "bootstrap", {{"remote_addr", req.remote_addr}}))
        .status();
  });
  if (!s.ok()) return Error(s, req);
  return Json(mesh::ToJson(mesh::BootstrapReply{o.mesh_token, o.scope_id}));
}

}  // namespace

void AddBootstrapRoutes(http::Router& router, ApiContext& ctx) {
  router.Add({http::Method::kPost,
              "/v1/populi/bootstrap/exchange",
              {},
              4 * 1024,
              "bootstrap.exchange",
              [&ctx](http::Request& req) { return Exchange(ctx, req); }});
}

}  // namespace populi::control
