#include "agent/secret_courier.h"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include "agent/envelope.h"
#include "agent/keyring.h"
#include "agent/secret_store.h"
#include "client/control_plane_api.h"
#include "crypto/secret.h"
#include "mesh/json.h"
#include "mesh/pairing_json.h"
#include "util/clock.h"

namespace populi::agent {
namespace json = boost::json;
namespace {

std::unique_ptr<client::ControlPlaneApi> ApiFor(const SecretsOptions& o) {
  auto api = std::make_unique<client::ControlPlaneApi>(o.control_url, o.token);
  api->http().set_node_id(o.node_id);
  if (!o.tls_ca_file.empty()) api->http().set_tls_ca_file(o.tls_ca_file);
  return api;
}

Result<PairedPeer> FindPeer(const SecretsOptions& o, const std::string& node_id) {
  POPULI_ASSIGN_OR_RETURN(auto peers, LoadPeers(o.data_dir, o.declared));
  for (auto& p : peers) {
    if (p.node_id == node_id) return p;
  }
  return Status(Code::kFailedPrecondition, "not paired with " + node_id,
                "pair the two nodes: vox populi pair " + node_id);
}

// The request names a live attempt of a task this node submitted, on the requesting node, under
// its current fencing token, and only secrets the task names.
Status CheckRequest(client::ControlPlaneApi& api, const std::string& self,
                    const mesh::SecretRequest& q) {
  if (q.reply_to != mesh::SecretShareInboxFor(q.task_id, q.attempt))
    return Status(Code::kPermissionDenied, "reply_to is not the attempt's share inbox",
                  "see docs/secrets.md");
  POPULI_ASSIGN_OR_RETURN(mesh::Task task, api.GetTask(q.task_id));
  if (task.spec.submitter_node_id != self)
    return Status(Code::kPermissionDenied, "task " + q.task_id + " was not submitted here",
                  "secrets come from the node that submitted the task");
  for (const auto& name : q.names) {
    if (std::find(task.spec.secret_names.begin(), task.spec.secret_names.end(), name) ==
        task.spec.secret_names.end())
      return Status(Code::kPermissionDenied, "task " + q.task_id + " does not name secret " + name,
                    "submit the task with --secret " + name);
  }
  for (const auto& at : task.attempts) {
    if (at.number != q.attempt) continue;
    if (at.node_id != q.node_id || at.fencing_token != q.fencing_token ||
        at.state == mesh::AttemptState::kLost || at.ended_ms != 0) {
      return Status(Code::kPermissionDenied,
                    "attempt " + std::to_string(q.attempt) + " of task " + q.task_id +
                        " is not running on " + q.node_id + " under that fencing token",
                    "only the attempt's current holder gets the secrets");
    }
    return Status::Ok();
  }
  return Status(Code::kPermissionDenied,
                "task " + q.task_id + " has no attempt " + std::to_string(q.attempt),
                "only the attempt's current holder gets the secrets");
}

}  // namespace

SecretCourier::SecretCourier(SecretsOptions options, crypto::Ed25519KeyPair signing_keys,
                             std::shared_ptr<spdlog::logger> logger)
    : options_(std::move(options)),
      keys_(signing_keys),
      logger_(logger ? std::move(logger) : spdlog::default_logger()) {}

SecretCourier::~SecretCourier() {
  Stop();
}

void SecretCourier::Start() {
  loop_ = std::thread([this] { Loop(); });
}

void SecretCourier::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (loop_.joinable()) loop_.join();
}

bool SecretCourier::Sleep(int64_t ms) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_; });
  return !stopping_;
}

void SecretCourier::Loop() {
  auto api = ApiFor(options_);
  mesh::InboxRequest request;
  request.receiver = mesh::SecretsInboxFor(options_.node_id);
  request.claimer_node_id = options_.node_id;
  request.max_messages = 8;
  request.wait_ms = options_.poll_wait_ms;
  // A request left unanswered (the control plane was away while checking it) is claimed again
  // once this lapses, well within a worker's wait.
  request.lease_ms = 5'000;
  int64_t retry_ms = 250;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    SyncPeers(*api);
    auto page = api->Inbox(request);
    if (!page.ok()) {
      if (!Sleep(retry_ms)) return;
      retry_ms = std::min<int64_t>(retry_ms * 2, 5'000);
      continue;
    }
    retry_ms = 250;
    // Acknowledged by the next claim, like the task worker's assignments.
    request.ack_message_ids.clear();
    request.ack_claim_token.clear();
    for (const auto& msg : page->messages) {
      if (msg.message_type == "secret_request" && !Answer(*api, msg.payload)) continue;
      request.ack_message_ids.push_back(msg.id);
      request.ack_claim_token = msg.claim_token;
    }
  }
}

bool SecretCourier::Answer(client::ControlPlaneApi& api, const std::string& payload) {
  auto parsed = mesh::ParseJson(payload);
  if (!parsed.ok()) return true;
  auto q = mesh::SecretRequestFromJson(*parsed);
  if (!q.ok()) {
    logger_->warn("secret request unreadable: {}", q.status().message());
    return true;
  }
  SealedShare sealed;
  Status checked = CheckRequest(api, options_.node_id, *q);
  auto peer = checked.ok() ? FindPeer(options_, q->node_id) : Result<PairedPeer>(checked);
  auto values = peer.ok() ? ReadSecrets(options_.data_dir, q->names)
                          : Result<std::map<std::string, std::string>>(peer.status());
  if (values.ok()) {
    auto s = SealShare(*q, options_.node_id, *peer, *values, keys_);
    for (auto& [name, value] : *values) crypto::Wipe(value);
    if (s.ok()) sealed = std::move(*s);
    values = s.ok() ? values : Result<std::map<std::string, std::string>>(s.status());
  }
  if (!values.ok()) {
    // Transient failures (the control plane is away) get no answer: the worker's wait ends in a
    // timeout, and the request is claimed again after its claim lapses.
    if (values.status().code() == Code::kUnavailable || values.status().code() == Code::kTimeout)
      return false;
    sealed = RefuseShare(*q, options_.node_id, values.status().message(), keys_);
    logger_->info("secrets for task {} attempt {} on {} refused: {}", q->task_id, q->attempt,
                  q->node_id, values.status().message());
  } else {
    logger_->info("secrets {} for task {} attempt {} sealed to {}", fmt::join(q->names, ","),
                  q->task_id, q->attempt, q->node_id);
  }
  mesh::NewMessage m;
  m.sender = options_.node_id;
  m.receiver = q->reply_to;
  m.message_type = "secret_share";
  m.payload = json::serialize(mesh::ToJson(sealed.share));
  m.jwe_payload = sealed.jwe;
  m.idempotency_key = "secret-share:" + q->task_id + "." + std::to_string(q->attempt);
  if (auto d = api.Deliver(m); !d.ok()) {
    logger_->warn("secret share for task {} not delivered: {}", q->task_id, d.status().message());
    return false;  // answered again when the request is claimed again
  }
  return true;
}

void SecretCourier::SyncPeers(client::ControlPlaneApi& api) {
  auto peers = LoadPairings(options_.data_dir);
  if (!peers.ok() || peers->empty()) return;
  auto nodes = api.Nodes();
  if (!nodes.ok()) return;
  for (const auto& peer : *peers) {
    auto rec = std::find_if(nodes->nodes.begin(), nodes->nodes.end(),
                            [&](const mesh::NodeRecord& n) { return n.id == peer.node_id; });
    if (rec == nodes->nodes.end() || peer.declared) continue;
    const bool names_us = std::find(rec->paired_with.begin(), rec->paired_with.end(),
                                    options_.node_id) != rec->paired_with.end();
    if (!names_us && rec->pairings_updated_ms > peer.paired_ms) {
      if (auto removed = RemovePairing(options_.data_dir, peer.node_id); removed.ok() && *removed)
        logger_->info("{} unpaired from this node; its pairing is removed here too", peer.node_id);
      continue;
    }
    if (!rec->x25519_pub_key_b64.empty() && rec->x25519_pub_key_b64 != peer.x25519_pub_key_b64 &&
        rec->x25519_key_created_ms > peer.x25519_key_created_ms &&
        crypto::VerifyBase64(
            peer.ed25519_pub_key_b64,
            mesh::X25519KeyStatement(rec->id, rec->x25519_pub_key_b64, rec->x25519_key_created_ms),
            rec->x25519_key_sig_b64)) {
      PairedPeer updated = peer;
      updated.x25519_pub_key_b64 = rec->x25519_pub_key_b64;
      updated.x25519_key_created_ms = rec->x25519_key_created_ms;
      if (PutPairing(options_.data_dir, updated).ok())
        logger_->info("{} rotated its encryption key; the new key is in use", peer.node_id);
    }
  }
}

// ---- the worker's side ----

Result<std::map<std::string, std::string>> FetchSecrets(client::ControlPlaneApi& api,
                                                        const SecretsOptions& options,
                                                        const mesh::TaskAssignment& a,
                                                        const std::function<bool()>& keep_alive) {
  const mesh::TaskSpec& spec = a.spec;
  if (options.data_dir.empty()) {
    return Status(Code::kFailedPrecondition, "this node keeps no secrets",
                  "run the node with a data directory (VOX_HOME)");
  }
  if (spec.submitter_node_id.empty() || spec.submitter_node_id == options.node_id)
    return ReadSecrets(options.data_dir, spec.secret_names);
  POPULI_ASSIGN_OR_RETURN(PairedPeer submitter, FindPeer(options, spec.submitter_node_id));
  mesh::SecretRequest q{a.task_id,         a.attempt,
                        a.fencing_token,   options.node_id,
                        spec.secret_names, mesh::SecretShareInboxFor(a.task_id, a.attempt)};
  mesh::NewMessage m;
  m.sender = options.node_id;
  m.receiver = mesh::SecretsInboxFor(spec.submitter_node_id);
  m.message_type = "secret_request";
  m.payload = json::serialize(mesh::ToJson(q));
  m.idempotency_key = "secret-request:" + a.task_id + "." + std::to_string(a.attempt);
  POPULI_RETURN_IF_ERROR(api.Deliver(m).status());

  mesh::InboxRequest claim;
  claim.receiver = q.reply_to;
  claim.claimer_node_id = options.node_id;
  claim.max_messages = 4;
  claim.wait_ms = 1'000;  // short waits: the lease is renewed between them
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options.share_wait_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!keep_alive()) {
      return Status(Code::kConflict, "the attempt's lease ended while it waited for its secrets",
                    "the task is placed again");
    }
    auto page = api.Inbox(claim);
    if (!page.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      continue;
    }
    for (const auto& msg : page->messages) {
      mesh::AckRequest ack;
      ack.receiver = claim.receiver;
      ack.message_ids = {msg.id};
      ack.claim_token = msg.claim_token;
      (void)api.Ack(ack);
      if (msg.message_type != "secret_share") continue;
      auto parsed = mesh::ParseJson(msg.payload);
      if (!parsed.ok()) continue;
      auto share = mesh::SecretShareFromJson(*parsed);
      if (!share.ok()) continue;
      POPULI_ASSIGN_OR_RETURN(
          EncryptionKeys keys,
          LoadOrCreateEncryptionKeys(options.data_dir, SystemClock::Instance().NowMs()));
      ExpectedShare expected{a.task_id, a.attempt, a.fencing_token, options.node_id,
                             spec.secret_names};
      auto values = OpenShare(*share, msg.jwe_payload, expected, submitter, keys,
                              SystemClock::Instance().NowMs(), options.rotation_grace_ms);
      crypto::WipeSecret(keys.current);
      if (keys.previous) crypto::WipeSecret(*keys.previous);
      return values;
    }
  }
  return Unavailable("no secrets from " + spec.submitter_node_id + " within " +
                         std::to_string(options.share_wait_ms / 1000) + " s",
                     "the submitting node's agent must be running to hand over its secrets");
}

}  // namespace populi::agent
