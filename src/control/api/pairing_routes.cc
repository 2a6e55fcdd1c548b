// Pairing relay (docs/secrets.md): the control plane keeps each pairing in flight in the store's
// kv (namespace "pairing", key "<to>/<from>") until it expires. It never sees the code, so it
// checks shapes and limits only; the nodes check each other's proofs.
//
//   POST /v1/populi/pairings                     A's offer to B (replaces an earlier one)
//   GET  /v1/populi/pairings/{to}/{from}         the pairing as stored (B reads the offer, A polls
//                                                for the answer)
//   POST /v1/populi/pairings/{to}/{from}/answer  B's keys and proof, or `burn` (a wrong code)
//   DELETE /v1/populi/pairings/{to}/{from}       A is done with it
//
// Limits: offers are counted per source address and per target node over a 10-minute window (at
// most kMaxOffersPerWindow each; then 429); an offer lives kOfferTtlMs; a burned or answered
// pairing takes no further answer (409), so a wrong code costs the attempt.
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include <boost/json.hpp>

#include "control/api/routes.h"
#include "mesh/pairing_json.h"

namespace populi::control {
namespace json = boost::json;
namespace {

constexpr std::string_view kPairingKv = "pairing";
constexpr int64_t kOfferTtlMs = 10 * 60 * 1000;
constexpr int64_t kWindowMs = 10 * 60 * 1000;
constexpr size_t kMaxOffersPerWindow = 10;
constexpr std::string_view kHint = "see docs/secrets.md (vox populi pair)";

// Offers per key (a source address, a target node) within the last kWindowMs.
class OfferLimiter {
 public:
  bool Allow(const std::string& key, int64_t now_ms) {
    std::lock_guard lock(mu_);
    auto& times = seen_[key];
    while (!times.empty() && times.front() <= now_ms - kWindowMs) times.pop_front();
    if (times.size() >= kMaxOffersPerWindow) return false;
    times.push_back(now_ms);
    return true;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::deque<int64_t>> seen_;
};

std::string KeyOf(std::string_view to, std::string_view from) {
  return std::string(to) + "/" + std::string(from);
}

// The pairing stored under (to, from) in `txn`, when there is one that has not expired.
template <typename Reader>
Result<std::optional<mesh::Pairing>> LoadLive(Reader& reader, const std::string& key,
                                              int64_t now_ms) {
  POPULI_ASSIGN_OR_RETURN(auto text, reader.GetKv(kPairingKv, key));
  if (!text) return std::optional<mesh::Pairing>();
  POPULI_ASSIGN_OR_RETURN(json::value v, mesh::ParseJson(*text));
  POPULI_ASSIGN_OR_RETURN(mesh::Pairing p, mesh::PairingFromJson(v));
  if (p.expires_ms <= now_ms) return std::optional<mesh::Pairing>();
  return std::optional<mesh::Pairing>(std::move(p));
}

http::Response Offer(ApiContext& ctx, OfferLimiter& limiter, http::Request& req) {
  auto offer = DecodeBody(req, mesh::PairingOfferFromJson);
  if (!offer.ok()) return Error(offer.status(), req);
  if (Status s = mesh::ValidatePairingOffer(*offer); !s.ok()) return Error(s, req);
  const int64_t now = ctx.NowMs();
  if (!limiter.Allow("addr:" + req.remote_addr, now) ||
      !limiter.Allow("node:" + offer->to_node, now)) {
    return Error(Status(Code::kResourceExhausted,
                        "too many pairing offers from this address or to " + offer->to_node,
                        "wait 10 minutes; each offer gets a new code"),
                 req);
  }
  mesh::Pairing p;
  p.offer = std::move(*offer);
  p.created_ms = now;
  p.expires_ms = now + kOfferTtlMs;
  const std::string key = KeyOf(p.offer.to_node, p.offer.from.node_id);
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_RETURN_IF_ERROR(txn.PutKv(kPairingKv, key, json::serialize(mesh::ToJson(p))));
    json::object data{{"from", p.offer.from.node_id}, {"to", p.offer.to_node}};
    POPULI_RETURN_IF_ERROR(
        txn.AppendAudit(AuditOf(req, now, "pairing.offered", p.offer.to_node, data)).status());
    return txn.AppendEvent(MakeEvent(now, "pairing.offered", p.offer.to_node, data)).status();
  });
  if (!s.ok()) return Error(s, req);
  return Json(mesh::ToJson(p), 201);
}

http::Response GetPairing(ApiContext& ctx, http::Request& req) {
  const std::string key = KeyOf(req.params.at("to"), req.params.at("from"));
  auto p = LoadLive(ctx.store, key, ctx.NowMs());
  if (!p.ok()) return Error(p.status(), req);
  if (!*p) {
    return Error(NotFound("no pairing offer from " + req.params.at("from") + " to " +
                              req.params.at("to") + " (none made, or it expired)",
                          "run vox populi pair on the offering node first"),
                 req);
  }
  return Json(mesh::ToJson(**p));
}

http::Response Answer(ApiContext& ctx, http::Request& req) {
  auto answer = DecodeBody(req, mesh::PairingAnswerFromJson);
  if (!answer.ok()) return Error(answer.status(), req);
  if (Status s = mesh::ValidatePairingAnswer(*answer); !s.ok()) return Error(s, req);
  const std::string& to = req.params.at("to");
  const std::string& from = req.params.at("from");
  if (!answer->burn && answer->to.node_id != to) {
    return Error(InvalidArgument("to.node_id: the answer must come from " + to, std::string(kHint)),
                 req);
  }
  const int64_t now = ctx.NowMs();
  const std::string key = KeyOf(to, from);
  mesh::Pairing stored;
  Status s = ctx.store.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(auto p, LoadLive(txn, key, now));
    if (!p) {
      return NotFound("no pairing offer from " + from + " to " + to + " (none made, or it expired)",
                      "run vox populi pair on the offering node again");
    }
    if (p->state != mesh::PairingState::kOffered) {
      return Status(Code::kConflict,
                    "this pairing offer was already " + std::string(mesh::ToString(p->state)),
                    "run vox populi pair on the offering node again for a new code");
    }
    p->state = answer->burn ? mesh::PairingState::kBurned : mesh::PairingState::kAnswered;
    if (!answer->burn) p->answer = *answer;
    POPULI_RETURN_IF_ERROR(txn.PutKv(kPairingKv, key, json::serialize(mesh::ToJson(*p))));
    const std::string kind = answer->burn ? "pairing.burned" : "pairing.answered";
    json::object data{{"from", from}, {"to", to}};
    POPULI_RETURN_IF_ERROR(txn.AppendAudit(AuditOf(req, now, kind, to, data)).status());
    POPULI_RETURN_IF_ERROR(txn.AppendEvent(MakeEvent(now, kind, to, data)).status());
    stored = std::move(*p);
    return Status::Ok();
  });
  if (!s.ok()) return Error(s, req);
  return Json(mesh::ToJson(stored));
}

http::Response Remove(ApiContext& ctx, http::Request& req) {
  const std::string key = KeyOf(req.params.at("to"), req.params.at("from"));
  Status s = ctx.store.Write(
      [&](store::WriteTxn& txn) -> Status { return txn.DeleteKv(kPairingKv, key); });
  if (!s.ok()) return Error(s, req);
  http::Response r;
  r.status = 204;
  return r;
}

}  // namespace

void AddPairingRoutes(http::Router& router, ApiContext& ctx) {
  auto limiter = std::make_shared<OfferLimiter>();  // this control plane's counts
  router.Add({http::Method::kPost, "/v1/populi/pairings", NodePlaneRoles(), 8 * 1024,
              "pairings.offer",
              [&ctx, limiter](http::Request& req) { return Offer(ctx, *limiter, req); }});
  router.Add({http::Method::kGet, "/v1/populi/pairings/{to}/{from}", NodePlaneRoles(), 0,
              "pairings.get", [&ctx](http::Request& req) { return GetPairing(ctx, req); }});
  router.Add({http::Method::kPost, "/v1/populi/pairings/{to}/{from}/answer", NodePlaneRoles(),
              8 * 1024, "pairings.answer",
              [&ctx](http::Request& req) { return Answer(ctx, req); }});
  router.Add({http::Method::kDelete, "/v1/populi/pairings/{to}/{from}", NodePlaneRoles(), 0,
              "pairings.delete", [&ctx](http::Request& req) { return Remove(ctx, req); }});
}

}  // namespace populi::control
