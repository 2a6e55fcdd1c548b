#include "mesh/policy.h"

#include <algorithm>

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

std::string DonationRefusal(const NodeRecord& node, const TaskSpec& spec) {
  if (!spec.submitter_node_id.empty() && spec.submitter_node_id == node.id) return {};
  const DonationPolicy& d = node.donation;
  if (!d.enabled)
    return "node " + node.id + " does not donate: it runs only its own operator's work";
  if (!d.accepted_kinds.empty() && std::find(d.accepted_kinds.begin(), d.accepted_kinds.end(),
                                             spec.kind) == d.accepted_kinds.end())
    return "node " + node.id + " does not accept tasks of kind " + spec.kind;
  if (spec.priority < d.min_priority) {
    return "node " + node.id + " accepts work of priority " + std::to_string(d.min_priority) +
           " or more from others (this task has " + std::to_string(spec.priority) + ")";
  }
  return {};
}

bool PairingAllows(const NodeRecord& node, const TaskSpec& spec) {
  if (spec.secret_names.empty() || spec.submitter_node_id.empty()) return true;
  if (node.id == spec.submitter_node_id) return true;
  return std::find(node.paired_with.begin(), node.paired_with.end(), spec.submitter_node_id) !=
         node.paired_with.end();
}

bool InMaintenance(const NodeRecord& node, int64_t now_ms) {
  return node.maintenance && (node.maintenance_until_ms == 0 || now_ms < node.maintenance_until_ms);
}

}  // namespace populi::mesh
