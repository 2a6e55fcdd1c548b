// A JtiStore kept in the MeshStore's kv (namespace "jwt_jti"), so a JWT id accepted once stays
// refused across control-plane restarts until the token expires.
#pragma once

#include "control/http/auth.h"
#include "store/mesh_store.h"

namespace populi::control {

class StoreJtiStore final : public http::JtiStore {
 public:
  StoreJtiStore(store::MeshStore& store, const Clock& clock) : store_(store), clock_(clock) {}
  Result<bool> InsertIfAbsent(std::string_view jti, int64_t exp_ms) override;

 private:
  store::MeshStore& store_;
  const Clock& clock_;
};

}  // namespace populi::control
