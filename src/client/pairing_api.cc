// ControlPlaneApi: the pairing relay (docs/secrets.md, docs/api.md "Pairing relay").
#include "client/api_call.h"
#include "client/control_plane_api.h"
#include "mesh/pairing_json.h"

namespace populi::client {

using internal::Call;
using internal::Escape;

namespace {

std::string PairingPath(const std::string& to, const std::string& from) {
  return "/v1/populi/pairings/" + Escape(to) + "/" + Escape(from);
}

}  // namespace

Result<mesh::Pairing> ControlPlaneApi::OfferPairing(const mesh::PairingOffer& offer,
                                                    CallOptions options) {
  return Call<mesh::Pairing>(*http_, "POST", "/v1/populi/pairings",
                             mesh::Serialize(mesh::ToJson(offer)), Timeout(options),
                             mesh::PairingFromJson);
}

Result<mesh::Pairing> ControlPlaneApi::GetPairing(const std::string& to, const std::string& from,
                                                  CallOptions options) {
  return Call<mesh::Pairing>(*http_, "GET", PairingPath(to, from), {}, Timeout(options),
                             mesh::PairingFromJson);
}

Result<mesh::Pairing> ControlPlaneApi::AnswerPairing(const std::string& to, const std::string& from,
                                                     const mesh::PairingAnswer& answer,
                                                     CallOptions options) {
  return Call<mesh::Pairing>(*http_, "POST", PairingPath(to, from) + "/answer",
                             mesh::Serialize(mesh::ToJson(answer)), Timeout(options),
                             mesh::PairingFromJson);
}

Status ControlPlaneApi::DeletePairing(const std::string& to, const std::string& from,
                                      CallOptions options) {
  return http_->Send("DELETE", PairingPath(to, from), {}, {}, Timeout(options)).status();
}

}  // namespace populi::client
