#include "control/jti_store.h"

#include <charconv>
#include <string>

namespace populi::control {

Result<bool> StoreJtiStore::InsertIfAbsent(std::string_view jti, int64_t exp_ms) {
  constexpr std::string_view kNamespace = "jwt_jti";
  const int64_t now = clock_.NowMs();
  bool inserted = false;
  POPULI_RETURN_IF_ERROR(store_.Write([&](store::WriteTxn& txn) -> Status {
    POPULI_ASSIGN_OR_RETURN(auto seen, txn.GetKv(kNamespace, jti));
    if (seen) {
      int64_t seen_exp = 0;
      std::from_chars(seen->data(), seen->data() + seen->size(), seen_exp);
      if (seen_exp > now) return Status::Ok();  // a replay while the first use is still valid
    }
    inserted = true;
    return txn.PutKv(kNamespace, jti, std::to_string(exp_ms));
  }));
  return inserted;
}

}  // namespace populi::control
