// The mesh vocabulary: the records every module speaks (nodes, A2A messages, exec leases, events).
// Pure data: no I/O. Wire codecs (JSON) live in mesh/json.h; validation in mesh/validate.h.
//
// Conventions: times are Unix milliseconds on the control plane's clock (0 = unset); ids are
// strings of [A-Za-z0-9._:-], 1..128 characters, except message ids (int64, monotonic from 1) and
// lease ids (32 lowercase hex characters: 128 random bits).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace populi::mesh {

// Version of every stored row envelope (MESH-013, MESH-154). Bumped with a store migration.
inline constexpr int kRecordSchemaVersion = 1;

// ---- closed vocabularies (docs/vocabulary.md). Unknown strings are rejected with 400. ----

// Who may claim a message (MESH-009, MESH-134).
//   public       any node on the mesh, including public-visibility donors
//   private      nodes whose visibility is private or hybrid (the mesh owner's own boxes)
//   trusted      like private
//   trusted_only like private, and the node's trust tier must not be "new"
enum class PrivacyClass { kPublic, kPrivate, kTrusted, kTrustedOnly };

// A node's visibility: private (default; only this mesh's own work), public (donates to public
// work only), hybrid (takes everything).
enum class Visibility { kPrivate, kPublic, kHybrid };

enum class TrustTier { kNew, kProbation, kTrusted, kDegraded };

// Liveness judged by the control plane from heartbeats: alive → suspect → down; left on leave.
enum class NodeState { kAlive, kSuspect, kDown, kLeft };

// granted → renewed* → expired | revoked | released | completed. The last four are terminal.
enum class LeaseState { kGranted, kRenewed, kExpired, kRevoked, kReleased, kCompleted };

// pending → claimed → (pending again on claim expiry) → acked | dead_letter.
enum class MessageState { kPending, kClaimed, kAcked, kDeadLetter };

std::string_view ToString(PrivacyClass v);
std::string_view ToString(Visibility v);
std::string_view ToString(TrustTier v);
std::string_view ToString(NodeState v);
std::string_view ToString(LeaseState v);
std::string_view ToString(MessageState v);
Result<PrivacyClass> ParsePrivacyClass(std::string_view s);
Result<Visibility> ParseVisibility(std::string_view s);
Result<TrustTier> ParseTrustTier(std::string_view s);
Result<NodeState> ParseNodeState(std::string_view s);
Result<LeaseState> ParseLeaseState(std::string_view s);
Result<MessageState> ParseMessageState(std::string_view s);

inline bool IsTerminal(LeaseState s) {
  return s == LeaseState::kExpired || s == LeaseState::kRevoked || s == LeaseState::kReleased ||
         s == LeaseState::kCompleted;
}

// ---- hardware inventory (Layer A facts; filled by probe/, judged by scheduler/) ----

struct GpuDevice {
  std::string uuid;        // stable id across reboots (NVML UUID, or vendor:device@bus for DRM)
  std::string name;        // "NVIDIA H100 80GB HBM3"
  std::string vendor;      // nvidia | amd | intel | apple | unknown
  std::string pci_bus_id;  // "0000:01:00.0"
  uint64_t memory_total_bytes = 0;
  uint64_t memory_used_bytes = 0;
  uint64_t memory_free_bytes = 0;
  std::optional<uint32_t> utilization_pct;
  std::optional<uint32_t> temperature_c;
  std::string driver_version;
  std::string cuda_driver_version;
  bool mig_enabled = false;
  std::string source;  // probe that found it: nvml | linux_drm | vulkan | mock
  // Every probe that saw this device after the merge (docs/probes.md), e.g. {"nvml", "linux_drm"}.
  std::vector<std::string> confirmed_by;
  // Layer B (docs/capacity.md): free memory minus running tasks' reservations minus the
  // [mesh.donation] reserve; 0 until the capacity layer has been applied.
  uint64_t memory_allocatable_bytes = 0;
};

struct CpuInfo {
  std::string model;
  uint32_t cores = 0;
  uint32_t threads = 0;
  uint32_t numa_nodes = 0;
  uint64_t memory_total_bytes = 0;
  uint64_t memory_available_bytes = 0;
};

struct ProbeFailure {
  std::string probe;  // "nvml"
  std::string kind;   // library_missing | permission_denied | driver_mismatch | error
  std::string message;
  std::string hint;
};

// ---- nodes ----

// What a node accepts from other nodes' submitters ([mesh.donation], MESH-035). Work its own
// operator submits (submitter_node_id = the node's id) is always accepted.
struct DonationPolicy {
  bool enabled = true;                      // false: only its own operator's work
  std::vector<std::string> accepted_kinds;  // empty: every task kind
  uint8_t min_priority = 0;                 // lowest priority accepted from others
};

struct NodeRecord {
  std::string id;
  std::string version;   // binary version of the node's vox
  std::string scope_id;  // tenancy: must equal the control plane's scope when it has one
  std::map<std::string, std::string> labels;  // Layer C: restrict / prefer, never add capacity
  Visibility visibility = Visibility::kPrivate;
  TrustTier trust_tier = TrustTier::kTrusted;
  std::string ed25519_pub_key_b64;
  // End-to-end secrets (docs/secrets.md): the node's X25519 encryption key, when it was made,
  // and the node's Ed25519 signature over mesh::X25519KeyStatement, so a paired peer adopts a
  // rotated key only from the node itself. Empty on a node that has not made one.
  std::string x25519_pub_key_b64;
  int64_t x25519_key_created_ms = 0;
  std::string x25519_key_sig_b64;
  std::vector<std::string> paired_with;  // nodes this node holds a pairing with, sorted
  int64_t pairings_updated_ms = 0;       // when paired_with last changed (a peer's unpair check)
  std::string host;                      // hostname, informational

  CpuInfo cpu;
  std::vector<GpuDevice> gpus;
  std::vector<ProbeFailure> probe_failures;
  std::string gpu_inventory_source;  // probed | advertised
  std::string gpu_truth_layer;       // layer_a_verified | layer_b_allocatable | layer_c_advertised
  // Tasks the node's agent is running and has already subtracted in its Layer B figures; the
  // scheduler subtracts only placements not listed here.
  std::vector<std::string> running_tasks;
  DonationPolicy donation;

  // Control-plane owned (a client's values for these are ignored on join/heartbeat).
  NodeState state = NodeState::kAlive;
  int64_t joined_ms = 0;
  int64_t last_seen_ms = 0;
  bool maintenance = false;
  int64_t maintenance_until_ms = 0;  // 0 = until cleared
  bool quarantined = false;
  int schema_version = kRecordSchemaVersion;
};

// ---- A2A messages ----

// What a sender submits. Validated (mesh/validate.h) before it reaches the store.
struct NewMessage {
  std::string sender;
  std::string receiver;
  std::string message_type;     // closed vocabulary, see docs/vocabulary.md
  std::string payload;          // opaque text (JSON by convention)
  std::string idempotency_key;  // empty = none
  PrivacyClass privacy_class = PrivacyClass::kPrivate;
  uint8_t priority = 128;  // 0 lowest … 255 highest; ties are served oldest first
  std::string task_kind;   // empty or closed vocabulary
  std::string model_id;
  std::string traceparent;  // W3C, version 00; empty = none
  std::string payload_blake3_hex;
  std::string signature_b64;
  std::string jwe_payload;
};

struct A2AMessage : NewMessage {
  int64_t id = 0;
  int64_t created_ms = 0;
  MessageState state = MessageState::kPending;
  std::string claimer_node_id;  // set while claimed
  int64_t claim_expires_ms = 0;
  // Minted by each claim (one per claim call) and sent only in that claim's reply: an ack or a
  // claim renewal of a claimed row must present it, so only the current claimer can end or extend
  // its claim. Empty while the row is not claimed; never shown by a listing.
  std::string claim_token;
  int32_t delivery_count = 0;  // claims so far; past the maximum the row is dead-lettered
  int64_t acked_ms = 0;
  int schema_version = kRecordSchemaVersion;
};

// ---- exec leases ----

struct ExecLease {
  std::string lease_id;   // 32 hex chars, random
  std::string scope_key;  // e.g. "task:<id>"; 1..2048 bytes
  std::string holder_node_id;
  int64_t fencing_token = 0;  // strictly increasing per scope_key, across restarts
  LeaseState state = LeaseState::kGranted;
  int64_t granted_ms = 0;
  int64_t renewed_ms = 0;
  int64_t expires_ms = 0;
  int64_t ended_ms = 0;  // set on entering a terminal state
  int schema_version = kRecordSchemaVersion;
};

// ---- events ----

// An append-only event (node state changes, lease transitions, audit). `kind` is dotted
// ("node.down", "lease.revoked"); `data_json` is a JSON object.
struct Event {
  int64_t id = 0;
  int64_t ts_ms = 0;
  std::string kind;
  std::string subject;  // node id, lease id, message id …
  std::string data_json = "{}";
};

}  // namespace populi::mesh
