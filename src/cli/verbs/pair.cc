// `vox populi pair NODE` offers this node's keys to NODE and waits for its answer; `vox populi
// pair NODE --code CODE` (on NODE's side) answers an offer — or, on a terminal without --code
// while NODE's offer waits, asks for the code; `vox populi pair --rotate` makes a new
// encryption key; `vox populi unpair NODE` forgets a pairing (docs/secrets.md).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <ostream>
#include <thread>

#include "agent/identity.h"
#include "agent/keyring.h"
#include "cli/verb.h"
#include "cli/verbs/task_client.h"
#include "client/control_plane_api.h"
#include "crypto/ed25519.h"
#include "crypto/fingerprint.h"
#include "crypto/pairing_code.h"
#include "crypto/secret.h"
#include "mesh/pairing.h"
#include "util/clock.h"
#include "util/units.h"

namespace populi::cli {
namespace json = boost::json;
namespace {

struct PairFlags {
  std::string node;
  std::string code;
  std::string wait = "10m";
  bool rotate = false;
  std::string data_dir;  // empty: [mesh.store] path
};

// The data directory holding this node's keys: --data-dir, else the configuration's.
std::string KeysDir(const config::Config& cfg, const std::string& flag) {
  return flag.empty() ? cfg.data_dir() : flag;
}

// This node as pairing knows it: its identity and current encryption key.
struct SelfKeys {
  std::string data_dir;
  agent::NodeIdentity identity;
  mesh::PairingKeys keys;
};

Result<SelfKeys> LoadSelf(const config::Config& cfg, const std::string& data_dir) {
  SelfKeys self;
  self.data_dir = data_dir;
  POPULI_ASSIGN_OR_RETURN(auto identity,
                          agent::LoadIdentity(self.data_dir, cfg.GetString("mesh.node_id")));
  if (!identity) {
    return Status(Code::kFailedPrecondition, "this machine has no node identity yet",
                  "join the mesh first: vox populi join URL (or vox populi serve)");
  }
  self.identity = std::move(*identity);
  POPULI_ASSIGN_OR_RETURN(
      auto enc, agent::LoadOrCreateEncryptionKeys(self.data_dir, SystemClock::Instance().NowMs()));
  self.keys.node_id = self.identity.node_id;
  self.keys.ed25519_pub_key_b64 = self.identity.public_key_b64();
  self.keys.x25519_pub_key_b64 =
      crypto::Base64(enc.current.public_key.data(), enc.current.public_key.size());
  self.keys.x25519_key_created_ms = enc.created_ms;
  crypto::WipeSecret(enc.current);
  if (enc.previous) crypto::WipeSecret(*enc.previous);
  return self;
}

Result<crypto::PartyKeys> PartyOf(const mesh::PairingKeys& k) {
  crypto::PartyKeys p;
  p.node_id = k.node_id;
  auto ed = crypto::Key32FromBase64(k.ed25519_pub_key_b64);
  auto x = crypto::Key32FromBase64(k.x25519_pub_key_b64);
  if (!ed.ok() || !x.ok()) {
    return InvalidArgument("the keys of " + k.node_id + " are not 32-byte public keys",
                           "run vox populi pair again");
  }
  p.ed25519_public = *ed;
  p.x25519_public = *x;
  return p;
}

// Stores `peer` as paired and prints the safety number both operators compare.
int FinishPairing(Context& ctx, const SelfKeys& self, const mesh::PairingKeys& peer) {
  auto mine = PartyOf(self.keys);
  auto theirs = PartyOf(peer);
  if (!mine.ok()) return ctx.Fail(mine.status());
  if (!theirs.ok()) return ctx.Fail(theirs.status());
  agent::PairedPeer stored;
  stored.node_id = peer.node_id;
  stored.ed25519_pub_key_b64 = peer.ed25519_pub_key_b64;
  stored.x25519_pub_key_b64 = peer.x25519_pub_key_b64;
  stored.x25519_key_created_ms = peer.x25519_key_created_ms;
  stored.paired_ms = SystemClock::Instance().NowMs();
  stored.safety_number = crypto::PairingSafetyNumber(*mine, *theirs);
  if (Status s = agent::PutPairing(self.data_dir, stored); !s.ok()) return ctx.Fail(s);
  if (ctx.global.json) {
    *ctx.out << json::serialize(
                    json::object{{"paired", peer.node_id}, {"safety_number", stored.safety_number}})
             << "\n";
  } else {
    *ctx.out << "paired with " << peer.node_id << "\n"
             << "safety number: " << stored.safety_number << "\n"
             << "compare it with the number " << peer.node_id
             << " printed; if they differ, run vox populi unpair " << peer.node_id << "\n";
  }
  return ctx.exit_code = kExitOk;
}

// The offering side: a fresh code, the offer, then the answer.
int OfferAndWait(Context& ctx, client::ControlPlaneApi& api, const SelfKeys& self,
                 const PairFlags& flags) {
  auto wait_ms = ParseDurationMs(flags.wait, BareUnit::kSeconds);
  if (!wait_ms.ok())
    return ctx.FailUsage("--wait: " + wait_ms.status().message(), "e.g. --wait 5m");
  const std::string shown = crypto::NewPairingCode();
  auto code = crypto::NormalizePairingCode(shown);
  if (!code.ok()) return ctx.Fail(code.status());
  mesh::PairingOffer offer;
  offer.to_node = flags.node;
  offer.from = self.keys;
  offer.proof = crypto::PairingProof(*code, mesh::OfferTranscript(offer));
  auto placed = api.OfferPairing(offer);
  if (!placed.ok()) return ctx.Fail(ControlPlaneStatus(placed.status()));
  *ctx.err << "pairing code: " << shown << "\n"
           << "on " << flags.node << " run: vox populi pair " << self.keys.node_id << " --code "
           << shown << "\n"
           << "waiting for " << flags.node << " (up to " << flags.wait << ") ...\n"
           << std::flush;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(*wait_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    auto p = api.GetPairing(flags.node, self.keys.node_id);
    if (!p.ok() && p.status().code() != Code::kUnavailable)
      return ctx.Fail(ControlPlaneStatus(p.status()));
    if (p.ok() && p->state == mesh::PairingState::kBurned) {
      (void)api.DeletePairing(flags.node, self.keys.node_id);
      return ctx.Fail(Status(Code::kPermissionDenied,
                             flags.node + " rejected the code; the offer is void",
                             "run vox populi pair " + flags.node + " again for a new code"));
    }
    if (p.ok() && p->state == mesh::PairingState::kAnswered) {
      (void)api.DeletePairing(flags.node, self.keys.node_id);
      const mesh::PairingKeys& peer = p->answer.to;
      if (peer.node_id != flags.node ||
          !crypto::VerifyPairingProof(*code, mesh::AnswerTranscript(offer, peer),
                                      p->answer.proof)) {
        return ctx.Fail(
            Status(Code::kPermissionDenied,
                   "the answer does not prove knowledge of the code over these keys: "
                   "a key was changed on the way; nothing was stored",
                   "check the control plane, then run vox populi pair " + flags.node + " again"));
      }
      return FinishPairing(ctx, self, peer);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  (void)api.DeletePairing(flags.node, self.keys.node_id);
  return ctx.Fail(Status(Code::kTimeout, flags.node + " did not answer within " + flags.wait,
                         "run vox populi pair " + flags.node + " again and enter the code there"));
}

// The answering side: the offer from `flags.node`, checked against the typed code.
int AnswerOffer(Context& ctx, client::ControlPlaneApi& api, const SelfKeys& self,
                const PairFlags& flags) {
  auto code = crypto::NormalizePairingCode(flags.code);
  if (!code.ok()) return ctx.FailUsage("--code: " + code.status().message(), code.status().hint());
  auto p = api.GetPairing(self.keys.node_id, flags.node);
  if (!p.ok()) return ctx.Fail(ControlPlaneStatus(p.status()));
  const mesh::PairingOffer& offer = p->offer;
  if (offer.to_node != self.keys.node_id || offer.from.node_id != flags.node ||
      !crypto::VerifyPairingProof(*code, mesh::OfferTranscript(offer), offer.proof)) {
    mesh::PairingAnswer burn;
    burn.burn = true;
    (void)api.AnswerPairing(self.keys.node_id, flags.node, burn);
    return ctx.Fail(Status(Code::kPermissionDenied,
                           "the code does not match the offer from " + flags.node +
                               " (mistyped, or a key was changed on the way); the offer is void",
                           "run vox populi pair " + self.keys.node_id + " on " + flags.node +
                               " again for a new code"));
  }
  mesh::PairingAnswer answer;
  answer.to = self.keys;
  answer.proof = crypto::PairingProof(*code, mesh::AnswerTranscript(offer, self.keys));
  auto answered = api.AnswerPairing(self.keys.node_id, flags.node, answer);
  if (!answered.ok()) return ctx.Fail(ControlPlaneStatus(answered.status()));
  return FinishPairing(ctx, self, offer.from);
}

int RunRotate(Context& ctx, const std::string& data_dir_flag) {
  auto cfg = LoadConfig(ctx);
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  auto keys =
      agent::RotateEncryptionKeys(KeysDir(*cfg, data_dir_flag), SystemClock::Instance().NowMs());
  if (!keys.ok()) return ctx.Fail(keys.status());
  const std::string fingerprint = crypto::KeyFingerprint(keys->current.public_key);
  crypto::WipeSecret(keys->current);
  if (keys->previous) crypto::WipeSecret(*keys->previous);
  if (ctx.global.json) {
    *ctx.out << json::serialize(json::object{{"rotated", true}, {"fingerprint", fingerprint}})
             << "\n";
  } else {
    *ctx.out << "new encryption key " << fingerprint << "\n"
             << "paired nodes adopt it within one heartbeat of this node's agent\n";
  }
  return ctx.exit_code = kExitOk;
}

int RunPair(Context& ctx, const PairFlags& flags) {
  if (flags.rotate) {
    if (!flags.node.empty() || !flags.code.empty())
      return ctx.FailUsage("--rotate takes no NODE and no --code", "run: vox populi pair --rotate");
    return RunRotate(ctx, flags.data_dir);
  }
  if (flags.node.empty())
    return ctx.FailUsage("pair needs the NODE to pair with", "e.g. vox populi pair gpu-box");
  config::Config cfg;
  auto api = TaskClient(ctx, &cfg);
  if (!api.ok()) return ctx.Fail(api.status());
  auto self = LoadSelf(cfg, KeysDir(cfg, flags.data_dir));
  if (!self.ok()) return ctx.Fail(self.status());
  if (flags.node == self->keys.node_id)
    return ctx.FailUsage("a node cannot pair with itself", "name the other node");
  if (flags.code.empty() && isatty(STDIN_FILENO) == 1) {
    // NODE offered first: answer it with the code typed here.
    auto waiting = api->GetPairing(self->keys.node_id, flags.node);
    if (waiting.ok() && waiting->state == mesh::PairingState::kOffered) {
      PairFlags typed = flags;
      std::cerr << "code shown on " << flags.node << ": " << std::flush;
      std::getline(std::cin, typed.code);
      return AnswerOffer(ctx, *api, *self, typed);
    }
  }
  return flags.code.empty() ? OfferAndWait(ctx, *api, *self, flags)
                            : AnswerOffer(ctx, *api, *self, flags);
}

int RunUnpair(Context& ctx, const std::string& node, const std::string& data_dir_flag) {
  auto cfg = LoadConfig(ctx);
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  auto declared = agent::ParseDeclaredPeers(cfg->GetList("mesh.peers.declared"));
  if (declared.ok()) {
    for (const auto& d : *declared) {
      if (d.node_id == node) {
        return ctx.Fail(Status(Code::kFailedPrecondition,
                               node + " is declared in mesh.peers.declared",
                               "remove its entry from [mesh.peers] declared in Vox.toml"));
      }
    }
  }
  auto removed = agent::RemovePairing(KeysDir(*cfg, data_dir_flag), node);
  if (!removed.ok()) return ctx.Fail(removed.status());
  if (!*removed) {
    return ctx.Fail(NotFound("this node is not paired with " + node,
                             "vox populi peers shows the paired nodes"));
  }
  if (ctx.global.json) {
    *ctx.out << json::serialize(json::object{{"unpaired", node}}) << "\n";
  } else {
    *ctx.out << "unpaired from " << node << "; " << node
             << " drops this node within one heartbeat of its agent\n";
  }
  return ctx.exit_code = kExitOk;
}

}  // namespace

void AddPairVerbs(CLI::App& /*root*/, CLI::App& populi, Context& ctx) {
  auto flags = std::make_shared<PairFlags>();
  auto* pair = populi.add_subcommand(
      "pair",
      "Pair this node with NODE for end-to-end secrets: shows a code to type on NODE "
      "(`pair THIS --code CODE` there); both print a safety number to compare");
  pair->footer(
      "Examples:\n  vox populi pair gpu-box                 # on this box: shows a code\n"
      "  vox populi pair laptop --code 7KQ2M-X9D4H  # on gpu-box: answers it\n"
      "  vox populi pair --rotate                # a new encryption key for this node");
  AddClientOptions(*pair, ctx);
  pair->add_option("node", flags->node, "The node to pair with");
  pair->add_option("--code", flags->code, "The code NODE showed (answers its offer)");
  pair->add_option("--wait", flags->wait, "How long to wait for NODE's answer (default 10m)");
  pair->add_flag("--rotate", flags->rotate, "Make a new encryption key (peers adopt it)");
  pair->add_option("--data-dir", flags->data_dir,
                   "Data directory holding this node's keys (default [mesh.store] path)");
  pair->callback([flags, &ctx] { RunPair(ctx, *flags); });

  auto node = std::make_shared<std::string>();
  auto unpair_dir = std::make_shared<std::string>();
  auto* unpair = populi.add_subcommand(
      "unpair", "Forget the pairing with NODE here; NODE drops this node too");
  unpair->footer("Example: vox populi unpair gpu-box");
  AddClientOptions(*unpair, ctx);
  unpair->add_option("node", *node, "The paired node")->required();
  unpair->add_option("--data-dir", *unpair_dir,
                     "Data directory holding this node's keys (default [mesh.store] path)");
  unpair->callback([node, unpair_dir, &ctx] { RunUnpair(ctx, *node, *unpair_dir); });
}

}  // namespace populi::cli
