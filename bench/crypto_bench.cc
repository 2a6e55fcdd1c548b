// The cost of one end-to-end secret envelope (Google Benchmark; bench/README.md): wrap
// (JweEncrypt of a 64-byte secret to a node's X25519 key), unwrap (JweDecrypt), and the Ed25519
// signature over the envelope that accompanies it, and its verification.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "crypto/ed25519.h"
#include "crypto/fingerprint.h"
#include "crypto/jwe.h"
#include "crypto/pairing_code.h"

namespace {
using namespace populi::crypto;

const std::string kSecret(64, 's');

struct Fixture {
  X25519KeyPair recipient;
  Ed25519KeyPair signer;
  JweHeaderClaims claims;
  std::string envelope;
  std::string signer_public_b64;
  std::string signature;

  Fixture() {
    auto r = GenerateX25519();
    auto s = GenerateEd25519();
    if (!r.ok() || !s.ok()) std::abort();
    recipient = *r;
    signer = *s;
    claims.kid = KeyFingerprint(recipient.public_key);
    claims.extra["typ"] = "populi-secret";
    claims.extra["secret_name"] = "db-password";
    auto sealed = JweEncrypt(recipient.public_key, claims, kSecret);
    if (!sealed.ok()) std::abort();
    envelope = *sealed;
    signer_public_b64 = Base64(signer.public_key.data(), signer.public_key.size());
    signature = SignBase64(signer, envelope);
  }
};

const Fixture& F() {
  static const Fixture f;
  return f;
}

void BM_JweWrap64(benchmark::State& state) {
  const Fixture& f = F();
  for (auto _ : state) {
    auto sealed = JweEncrypt(f.recipient.public_key, f.claims, kSecret);
    benchmark::DoNotOptimize(sealed);
  }
  state.counters["envelope_bytes"] = static_cast<double>(f.envelope.size());
}
BENCHMARK(BM_JweWrap64);

void BM_JweUnwrap64(benchmark::State& state) {
  const Fixture& f = F();
  for (auto _ : state) {
    auto opened = JweDecrypt(f.recipient, f.envelope);
    if (!opened.ok()) state.SkipWithError("decrypt failed");
    benchmark::DoNotOptimize(opened);
  }
}
BENCHMARK(BM_JweUnwrap64);

void BM_Ed25519SignEnvelope(benchmark::State& state) {
  const Fixture& f = F();
  for (auto _ : state) {
    std::string sig = SignBase64(f.signer, f.envelope);
    benchmark::DoNotOptimize(sig);
  }
}
BENCHMARK(BM_Ed25519SignEnvelope);

void BM_Ed25519VerifyEnvelope(benchmark::State& state) {
  const Fixture& f = F();
  for (auto _ : state) {
    bool ok = VerifyBase64(f.signer_public_b64, f.envelope, f.signature);
    if (!ok) state.SkipWithError("verify failed");
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_Ed25519VerifyEnvelope);

// The receiver-side check of a pairing proof (MESH-135): a proof that differs from the right one
// in its first byte and one that differs in its last byte must cost the same (a compare that
// stops at the first difference would be faster on the first). Arg 0: first byte, 1: last byte.
void BM_PairingProofRefused(benchmark::State& state) {
  const std::string code = "ABCDE12345";
  const std::string transcript(512, 't');
  std::string proof = PairingProof(code, transcript);
  const size_t at = state.range(0) == 0 ? 0 : proof.size() - 2;  // the last full base64 char
  proof[at] = proof[at] == 'A' ? 'B' : 'A';
  for (auto _ : state) {
    bool ok = VerifyPairingProof(code, transcript, proof);
    if (ok) state.SkipWithError("a wrong proof verified");
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_PairingProofRefused)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
