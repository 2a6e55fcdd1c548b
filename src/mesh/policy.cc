#include "mesh/policy.h"

namespace populi::mesh {

bool PrivacyAllows(PrivacyClass privacy, const NodeRecord& node) {
  if (privacy == PrivacyClass::kPublic || node.visibility == Visibility::kHybrid) {
    return privacy != PrivacyClass::kTrustedOnly || node.trust_tier == TrustTier::kTrusted ||
           node.trust_tier == TrustTier::kProbation;
  }
  if (node.visibility == Visibility::kPublic) return false;  // donors take public work only
  if (privacy == PrivacyClass::kTrustedOnly) {
    return node.trust_tier != TrustTier::kNew && node.trust_tier != TrustTier::kDegraded;
  }
  return true;  // private / trusted on a private node
}

bool InMaintenance(const NodeRecord& node, int64_t now_ms) {
  return node.maintenance && (node.maintenance_until_ms == 0 || now_ms < node.maintenance_until_ms);
}

}  // namespace populi::mesh
